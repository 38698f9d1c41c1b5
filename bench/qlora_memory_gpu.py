#!/usr/bin/env python
"""Chapter 3: measured vs estimated peak GPU memory of QLoRA training (needs a CUDA GPU; `--dry-run` checks the code on CPU).

For each (preset, sequence length) a child process loads the model with `llmclone_nb.qlora.load_for_training`, runs a
few training steps on random tokens (micro-batch × seq_len, autocast in the preset dtype, the preset's optimizer) and
reports `torch.cuda.max_memory_allocated` / `max_memory_reserved` next to `estimate_memory(...)['allocated']`
(the estimate without the CUDA context, which PyTorch's allocator does not see).

Memory does not depend on weight values, so by default the model is a random-weight checkpoint with Mistral-7B v0.3's
shape (built once on the CPU one tensor at a time, with the offline tokenizer, saved to a temporary folder): no Hub access needed. `--model ID` uses a real model.
On a GPU bigger than a T4, `--cap-gb 15` (default) limits this process with `torch.cuda.set_per_process_memory_fraction`
and the `t4` preset is forced (`--presets t4`), so the run stands in for a free T4.

    python bench/qlora_memory_gpu.py                      # t4 preset, 512/1024/2048 tokens, 3 steps each
    python bench/qlora_memory_gpu.py --presets t4 ampere --seq-lens 1024 --steps 2
    python bench/qlora_memory_gpu.py --dry-run            # tiny model on CPU: checks the script, measures nothing
Writes bench/results/qlora_memory_gpu.json and prints a markdown table.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

GB = 1e9
OUT = Path(__file__).resolve().parent/'results'/'qlora_memory_gpu.json'


def random_checkpoint(dest:Path, cfg, tok, shard_bytes:int=2*10**9)->Path:
    """Random fp16 weights with `cfg`'s shapes, built on the CPU one tensor at a time and written in safetensors shards
    (peak RAM: one shard), with `tok` saved beside them: a checkpoint `load_for_training` opens like a Hub model."""
    import torch
    from safetensors.torch import save_file
    from llmclone_nb.qlora import meta_model
    dest.mkdir(parents=True, exist_ok=True)
    shapes = {k: tuple(v.shape) for k, v in meta_model(cfg).state_dict().items()}
    g, shards, cur, size = torch.Generator().manual_seed(0), [], {}, 0
    def flush():
        nonlocal cur, size
        if cur: shards.append(cur); save_file(cur, str(dest/f'part-{len(shards)}.safetensors'), metadata={'format': 'pt'})
        cur, size = {}, 0
    for k, shape in shapes.items():
        if k == 'lm_head.weight' and getattr(cfg, 'tie_word_embeddings', False): continue
        t = torch.ones(shape) if k.endswith('norm.weight') else torch.randn(shape, generator=g)*0.02
        cur[k] = t.half(); size += cur[k].numel()*2
        if size >= shard_bytes: flush()
    flush()
    n = len(shards); index = {}
    for i in range(n):
        name = f'model-{i+1:05d}-of-{n:05d}.safetensors'
        (dest/f'part-{i+1}.safetensors').rename(dest/name)
        index.update({k: name for k in shards[i]})
    total = sum(t.numel()*2 for s in shards for t in s.values())
    (dest/'model.safetensors.index.json').write_text(json.dumps({'metadata': {'total_size': total}, 'weight_map': index}))
    cfg.dtype = 'float16'; cfg.save_pretrained(dest)
    tok.save_pretrained(dest)
    src = Path(tok.name_or_path)/'tokenizer.model'   # the SentencePiece model itself, as save_tiny keeps it
    if src.exists() and not (dest/'tokenizer.model').exists(): (dest/'tokenizer.model').write_bytes(src.read_bytes())
    return dest


def make_checkpoint(dest:Path, dry_run:bool)->Path:
    "Mistral-7B v0.3's shape in random fp16 (or a tiny Mistral for --dry-run), built on the CPU, with the offline tokenizer."
    from transformers import MistralConfig
    from llmclone_nb.models import tiny_mistral, sp_tokenizer
    tok = sp_tokenizer()
    if dry_run: cfg = tiny_mistral(sliding_window=None)[0].config
    else: cfg = MistralConfig(vocab_size=32768, sliding_window=None)
    cfg.bos_token_id, cfg.eos_token_id = tok.bos_token_id, tok.eos_token_id
    return random_checkpoint(dest, cfg, tok)


def run_one(preset_name:str, seq_len:int, steps:int, model_id:str, cap_gb:float)->dict:
    "One measurement, in this (fresh) process."
    import torch
    from llmclone_nb.presets import PRESETS
    from llmclone_nb.qlora import load_for_training, estimate_memory
    p = PRESETS[preset_name]
    cuda = torch.cuda.is_available()
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory
        if cap_gb and total > cap_gb*GB: torch.cuda.set_per_process_memory_fraction(cap_gb*GB/total, 0)
        torch.cuda.reset_peak_memory_stats()
    row = {'preset': preset_name, 'seq_len': seq_len, 'micro_batch': p.micro_batch, 'model': model_id, 'steps': steps}
    t0 = time.time()
    try:
        model, tok = load_for_training(p, model_id=model_id)
        row['after_load_gb'] = torch.cuda.memory_allocated()/GB if cuda else None
        params = [q for q in model.parameters() if q.requires_grad]
        if p.optim.endswith('8bit'):   # bitsandbytes ≥ 0.49 steps its 8-bit optimizers on the CPU too (the dry run's t4 path)
            import bitsandbytes as bnb
            opt = (bnb.optim.PagedAdamW8bit if p.optim.startswith('paged') else bnb.optim.AdamW8bit)(params, lr=p.learning_rate)
        else: opt = torch.optim.AdamW(params, lr=p.learning_rate)
        dev = 'cuda' if cuda else 'cpu'
        g = torch.Generator().manual_seed(0)
        model.train()
        for _ in range(steps):
            ids = torch.randint(3, model.config.vocab_size, (p.micro_batch, seq_len), generator=g).to(dev)
            with torch.autocast(dev, dtype=p.torch_dtype(), enabled=cuda and p.dtype != 'float32'):   # fp16 autocast: GPU only
                loss = model(input_ids=ids, labels=ids).loss
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        row['status'] = 'ok'; row['optimizer'] = type(opt).__name__
    except torch.OutOfMemoryError as e:
        row['status'] = f'OOM: {str(e)[:120]}'
    row['seconds'] = round(time.time()-t0, 1)
    if cuda:
        row['max_allocated_gb'] = round(torch.cuda.max_memory_allocated()/GB, 3)
        row['max_reserved_gb'] = round(torch.cuda.max_memory_reserved()/GB, 3)
        row['gpu'] = torch.cuda.get_device_name(0)
    from transformers import AutoConfig
    e = estimate_memory(AutoConfig.from_pretrained(model_id), p, seq_len=seq_len)
    row['estimated_allocated_gb'] = round(e['allocated']/GB, 3)
    row['estimated_total_gb'] = round(e['total']/GB, 3)
    row['estimated_fits_t4'] = e['fits']
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--presets', nargs='+', default=['t4'])
    ap.add_argument('--seq-lens', nargs='+', type=int, default=[512, 1024, 2048])
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--model', default=None, help='model id or folder (default: random weights, Mistral-7B shape)')
    ap.add_argument('--cap-gb', type=float, default=15.0, help='cap this process at this much GPU memory (0: no cap)')
    ap.add_argument('--dry-run', action='store_true', help='tiny model on CPU: check the script, measure nothing')
    ap.add_argument('--out', default=str(OUT))
    ap.add_argument('--one', nargs=2, metavar=('PRESET', 'SEQ_LEN'), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print('ROW ' + json.dumps(run_one(a.one[0], int(a.one[1]), a.steps, a.model, a.cap_gb)), flush=True); return
    import torch
    if not torch.cuda.is_available() and not a.dry_run:
        sys.exit('No CUDA GPU here: this script measures GPU memory. Use --dry-run to check it on CPU.')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model or str(make_checkpoint(Path(tmp)/'random-mistral-7b-shape', a.dry_run))
        for pn in a.presets:
            for T in a.seq_lens:
                cmd = [sys.executable, __file__, '--one', pn, str(T), '--steps', str(a.steps), '--model', model,
                       '--cap-gb', str(a.cap_gb)]
                r = subprocess.run(cmd, capture_output=True, text=True)
                line = [l for l in r.stdout.splitlines() if l.startswith('ROW ')]
                row = json.loads(line[-1][4:]) if line else {'preset': pn, 'seq_len': T, 'status': f'failed: {r.stderr[-300:]}'}
                print(json.dumps(row), flush=True)
                rows.append(row)
    if a.dry_run: print('dry run: nothing written'); return
    from llmclone_nb.presets import write_json
    write_json(a.out, {'date': time.strftime('%Y-%m-%d'), 'cap_gb': a.cap_gb, 'rows': rows})
    cols = ['preset', 'seq_len', 'micro_batch', 'status', 'max_allocated_gb', 'estimated_allocated_gb', 'max_reserved_gb',
            'estimated_total_gb']
    print('| ' + ' | '.join(cols) + ' |\n|' + '---|'*len(cols))
    for r in rows: print('| ' + ' | '.join(str(r.get(c, '')) for c in cols) + ' |')


if __name__ == '__main__': main()
