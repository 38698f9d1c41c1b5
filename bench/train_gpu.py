#!/usr/bin/env python
"""Chapter 4 on a GPU: step time, tokens per second and peak memory of `train` with the `t4` preset on a 7B-shaped model.

Speed and memory do not depend on weight values, so the model is a random-weight checkpoint with Mistral-7B v0.3's shape
(32 layers, hidden 4096, MLP 14336, 32 heads / 8 KV heads, vocab 32768), built once on the CPU in fp16, one tensor at a time, and saved to a
temporary folder: no Hub access needed. Its tokenizer is the tiny offline SentencePiece one (ids stay inside the vocab).
The data are synthetic conversations long enough that every sample is cut to `max_seq_len`, so every batch is full
(micro_batch × max_seq_len tokens, no padding), like the anchor below.

The run is the real chapter 4 path: `llmclone_nb.train.train` (chapter 3's 4-bit loader, LoRA r=16 on every linear layer,
paged 8-bit AdamW, fp16 with the gradient scaler, gradient checkpointing, our length-grouped sampler), evaluation and
checkpoints off. On a GPU bigger than a T4 the process is capped with `torch.cuda.set_per_process_memory_fraction`
(`--cap-gb 15`, default) so that it stands in for a free T4 (which it does for memory, not for speed).

Anchor: unsloth's stored Colab T4 run of Mistral-7B (batch 2 × 4, 2048 tokens) took 870 s for 60 steps (14.5 s/step)
and peaked at 6.29 GB.

    python bench/train_gpu.py                          # t4 preset: max_seq_len 1024, batch 2 × 4, 10 steps
    python bench/train_gpu.py --seq-len 2048 --steps 10  # the anchor's shape
    python bench/train_gpu.py --dry-run                # tiny Mistral on CPU, the t4 path (NF4, paged 8-bit AdamW): checks the script, measures nothing
Writes bench/results/train_gpu.json and prints a markdown table.
"""
import argparse, json, os, random, sys, tempfile, time
from pathlib import Path

GB = 1e9
OUT = Path(__file__).resolve().parent/'results'/'train_gpu.json'
WORDS = "привет как дела короче ну такое давай завтра вечером ок норм hello see you tomorrow lol tbh code mountains".split()


def make_checkpoint(dest:Path, dry_run:bool)->Path:
    "Random weights with Mistral-7B v0.3's shape (fp16, built on the CPU one tensor at a time), or a tiny Mistral for --dry-run; the offline tokenizer."
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from qlora_memory_gpu import make_checkpoint as build
    return build(dest, dry_run)


def make_data(dest:Path, n:int, seq_len:int)->Path:
    "Chapter 1-style rows, each far longer than `seq_len` tokens (so every sample is cut to exactly `seq_len`)."
    rnd = random.Random(0); dest.mkdir(parents=True, exist_ok=True)
    say = lambda k: ' '.join(rnd.choice(WORDS) for _ in range(k))
    for split, m in (('train', n), ('validation', 8)):
        rows = [{'messages': [{'role': 'system', 'content': say(20)}]
                 + [t for _ in range(6) for t in ({'role': 'user', 'content': say(seq_len//3)}, {'role': 'assistant', 'content': say(seq_len//12)})],
                 'meta': {}} for _ in range(m)]
        (dest/f'{split}.jsonl').write_text(''.join(json.dumps(r, ensure_ascii=False)+'\n' for r in rows), encoding='utf-8')
    (dest/'stats.json').write_text('{}')
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--preset', default='t4')
    ap.add_argument('--seq-len', type=int, default=None, help="max_seq_len (default: the preset's)")
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--model', default=None, help='model id or folder (default: random weights, Mistral-7B shape)')
    ap.add_argument('--cap-gb', type=float, default=15.0, help='cap this process at this much GPU memory (0: no cap)')
    ap.add_argument('--dry-run', action='store_true', help='tiny model on CPU: check the script, measure nothing')
    ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args()
    import torch
    from llmclone_nb.presets import PRESETS, write_json
    from llmclone_nb.train import train
    cuda = torch.cuda.is_available()
    if not cuda and not a.dry_run: sys.exit('No CUDA GPU here: this script measures GPU speed and memory. Use --dry-run to check it on CPU.')
    p = PRESETS[a.preset]
    L = a.seq_len or p.max_seq_len
    if a.dry_run: L = min(L, 64)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        model = a.model or str(make_checkpoint(Path(tmp)/'random-mistral-7b-shape', a.dry_run))
        build_s = time.time()-t0
        data = make_data(Path(tmp)/'data', n=max(64, 4*a.steps*p.batch_size), seq_len=L)
        if cuda:
            total = torch.cuda.get_device_properties(0).total_memory
            if a.cap_gb and total > a.cap_gb*GB: torch.cuda.set_per_process_memory_fraction(a.cap_gb*GB/total, 0)
            torch.cuda.reset_peak_memory_stats()
        over = dict(model_id=model, max_seq_len=L, warmup_steps=1)
        # the dry run is the t4 path itself (NF4, paged 8-bit AdamW, gradient checkpointing), smaller; only fp16 autocast is
        # off, as `training_args` does on any CPU
        if a.dry_run: over.update(micro_batch=2, grad_accum=2)
        t0 = time.time()
        r = train(data, Path(tmp)/'run', preset=p, max_steps=a.steps, resume=False,
                  args={'eval_strategy': 'no', 'eval_on_start': False, 'save_strategy': 'no', 'logging_steps': 1}, **over)
        st = r['settings']
        row = {'preset': a.preset, 'model': a.model or ('tiny Mistral (dry run)' if a.dry_run else 'random Mistral-7B shape'),
               'max_seq_len': st['max_seq_len'], 'batch': f"{st['micro_batch']} x {st['grad_accum']}", 'optim': st['optim'], 'optimizer': r.get('optimizer'),
               'load_in_4bit': st['load_in_4bit'], 'steps': r['steps'], 'train_seconds': r['train_seconds'],
               's_per_step': round(r['train_seconds']/max(1, r['steps']), 2), 'tokens_per_s': r['tokens_per_s'],
               'padding_share': r['padding_share'], 'wall_s_with_load': round(time.time()-t0, 1), 'build_s': round(build_s, 1),
               'final_loss': r['train_loss']}
    if cuda:
        row.update(gpu=torch.cuda.get_device_name(0), cap_gb=a.cap_gb,
                   max_allocated_gb=round(torch.cuda.max_memory_allocated()/GB, 3), max_reserved_gb=round(torch.cuda.max_memory_reserved()/GB, 3),
                   anchor='unsloth Colab T4, Mistral-7B, 2x4 x 2048 tokens: 14.5 s/step, 6.29 GB peak')
    print(json.dumps(row, indent=1))
    if a.dry_run: print('dry run: nothing written'); return
    write_json(a.out, {'date': time.strftime('%Y-%m-%d'), 'rows': [row]})
    cols = ['gpu', 'preset', 'max_seq_len', 'batch', 'steps', 's_per_step', 'tokens_per_s', 'max_allocated_gb', 'max_reserved_gb']
    print('| ' + ' | '.join(cols) + ' |\n|' + '---|'*len(cols))
    print('| ' + ' | '.join(str(row.get(c, '')) for c in cols) + ' |')


if __name__ == '__main__': main()
