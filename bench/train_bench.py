#!/usr/bin/env python
"""Chapter 4 on CPU: training tokens per second and the share of padding per epoch.

Prepares the bundled sample export with chapter 1 (or uses --data), then
  1. padding share per epoch of the training split, random batches vs length-grouped batches (`length_grouped_order`,
     what `train` uses), for a few micro-batch sizes and sequence caps (pure arithmetic, no model);
  2. `train` for a few steps with the `cpu` preset (SmolLM2-135M, 4-bit NF4 through bitsandbytes' CPU backend) and the
     same with full-precision fp32 weights, evaluation and checkpoints off: non-padding tokens per second of optimizer
     steps (evaluation and saving excluded), seconds per step.

    .venv/bin/python bench/train_bench.py                 # 8 steps, max_seq_len 384 (the preset) and 128
    .venv/bin/python bench/train_bench.py --steps 4 --seq-lens 128
Writes bench/results/train_bench.json and prints markdown tables. CPU numbers on a shared machine are noisy: the load
average is recorded next to each run.
"""
import argparse, json, os, random, sys, tempfile, time
from pathlib import Path

OUT = Path(__file__).resolve().parent/'results'/'train_bench.json'


def padding_table(data_dir, seq_lens, batch_sizes, seeds=5):
    from transformers import AutoTokenizer
    from llmclone_nb.models import smollm2_path
    from llmclone_nb.train import load_rows, tokenize_rows, fix_pad_token, length_grouped_order, padding_share
    tok = AutoTokenizer.from_pretrained(smollm2_path()); fix_pad_token(tok)
    rows, out = load_rows(data_dir)['train'], []
    for L in seq_lens:
        ds, st = tokenize_rows(rows, tok, L)
        lens = ds['length']
        for bs in batch_sizes:
            rnd = [padding_share(lens, random.Random(s).sample(range(len(lens)), len(lens)), bs) for s in range(seeds)]
            grp = [padding_share(lens, length_grouped_order(lens, bs, seed=s), bs) for s in range(seeds)]
            out.append({'max_seq_len': L, 'micro_batch': bs, 'samples': len(lens), 'mean_len': st['mean_len'],
                        'random': round(sum(rnd)/seeds, 4), 'grouped': round(sum(grp)/seeds, 4), 'grouped_max': round(max(grp), 4)})
    return out


def speed_run(data_dir, out_dir, steps, seq_len, four_bit):
    from llmclone_nb.train import train
    t0 = time.time()
    r = train(data_dir, out_dir, preset='cpu', max_steps=steps, resume=False, max_seq_len=seq_len, load_in_4bit=four_bit,
              warmup_steps=1, args={'eval_strategy': 'no', 'eval_on_start': False, 'save_strategy': 'no', 'disable_tqdm': True})
    return {'weights': 'nf4' if four_bit else 'fp32', 'max_seq_len': seq_len, 'steps': r['steps'],
            'tokens_per_s': r['tokens_per_s'], 's_per_step': round(r['train_seconds']/max(1, r['steps']), 2),
            'padding_share': r['padding_share'], 'wall_s': round(time.time()-t0, 1), 'load_avg': round(os.getloadavg()[0], 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', help="chapter 1's folder (default: prepare the bundled sample in a temporary folder)")
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--seq-lens', nargs='+', type=int, default=[384, 128])
    ap.add_argument('--batch-sizes', nargs='+', type=int, default=[4, 8, 16])
    ap.add_argument('--no-fp32', action='store_true', help='only the 4-bit run')
    ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data
        if not data:
            from llmclone_nb.export import prepare
            from llmclone_nb.presets import sample_export_path
            data = Path(tmp)/'data'; prepare(sample_export_path(), data)
        pad = padding_table(data, a.seq_lens, a.batch_sizes)
        runs = [speed_run(data, Path(tmp)/f'run-{L}-{q}', a.steps, L, q) for L in a.seq_lens for q in ((True,) if a.no_fp32 else (True, False))]
    import platform, torch
    res = {'date': time.strftime('%Y-%m-%d %H:%M'), 'cpu': platform.processor() or platform.machine(), 'threads': torch.get_num_threads(),
           'torch': torch.__version__, 'padding': pad, 'speed': runs}
    from llmclone_nb.presets import write_json
    write_json(a.out, res)
    print('| max_seq_len | micro_batch | samples | mean tokens | padding, random batches | padding, length-grouped (mean / worst of 5) |\n|---:|---:|---:|---:|---:|---:|')
    for r in pad: print(f"| {r['max_seq_len']} | {r['micro_batch']} | {r['samples']} | {r['mean_len']} | {r['random']:.1%} | {r['grouped']:.1%} / {r['grouped_max']:.1%} |")
    print('\n| weights | max_seq_len | steps | tokens/s | s/step | padding | wall s | load avg |\n|---|---:|---:|---:|---:|---:|---:|---:|')
    for r in runs: print(f"| {r['weights']} | {r['max_seq_len']} | {r['steps']} | {r['tokens_per_s']} | {r['s_per_step']} | {r['padding_share']:.1%} | {r['wall_s']} | {r['load_avg']} |")


if __name__ == '__main__': main()
