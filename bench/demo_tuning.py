"""Tuning the demo's clone for issue 14 item 1: style distance <= 1/3 of the base's, known-word share >= the base's.

Each experiment trains the demo's adapter (the `cpu` preset with overrides) on the bundled sample's prepared data, then
measures exactly what `pipeline.run` measures: the base model (adapter off) and the clone answer the same held-out
messages (`_held_out_prompts(data, 24)`, `REPLY_TOKENS` new tokens, chapter 0's `GENERATION`), and chapter 6's
`compare_style` gives distances and known-word shares. The GGUF stage is skipped (it does not change the figures; ~15 s
of the demo's time). Results are appended to bench/results/demo_tuning.json.

    .venv/bin/python bench/demo_tuning.py NAME '{"learning_rate": 5e-4, "max_steps": 32}' [--seed 42] [--threads 2]
        [--decoding '{"repetition_penalty": 1.0}'] [--demo]

`--demo` runs the real `pipeline.demo(out, **overrides)` instead (everything, GGUF included) and reads its summary.json.
"""
from __future__ import annotations
import argparse, json, os, shutil, sys, time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT/'bench'/'results'/'demo_tuning.json'
WORK = Path(os.environ.get('DEMO_TUNING_DIR', '/tmp/demo_tuning'))


def _record(row:dict):
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    rows.append(row)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, ensure_ascii=False, indent=1)+'\n')


def _figures(st:dict)->dict:
    d, k = st['distance'], st['known_words']
    return {'distance_base': round(d['base'], 4), 'distance_clone': round(d['clone'], 4),
            'ratio': round(d['clone']/d['base'], 3) if d['base'] else None,
            'known_base': round(k['base'], 4), 'known_clone': round(k['clone'], 4), 'known_owner': round(k['you'], 4),
            'profiles': st['profiles'], 'held_out': st['held_out'],
            'goal_distance': d['clone'] <= d['base']/3, 'goal_known': k['clone'] >= k['base']}


def run_demo(name:str, overrides:dict, seed:int)->dict:
    from llmclone_nb import pipeline
    out = WORK/name
    shutil.rmtree(out, ignore_errors=True)
    t = time.time()
    s = pipeline.demo(out, seed=seed, **overrides) if seed!=42 else pipeline.demo(out, **overrides)
    secs = time.time()-t
    return {'name': name, 'mode': 'demo', 'overrides': overrides, 'seed': seed, 'seconds': round(secs, 1),
            'stages': s['stages'], 'eval_loss_start': s['train'].get('eval_loss_start'), 'eval_loss': s['train'].get('eval_loss'),
            'decoding': s['decoding'], **_figures(s['style']),
            'replies': s['replies']}


def run_fast(name:str, overrides:dict, seed:int, decoding:dict|None)->dict:
    import torch
    from llmclone_nb import export as ex, train as tr, evaluate as ev, pipeline, prompt
    from llmclone_nb.presets import sample_export_path, get_preset
    data = WORK/'data'
    if not (data/'stats.json').exists(): ex.prepare(sample_export_path(), data)
    if decoding:   # the decoding every generation uses (pipeline, evaluate and chat read chapter 0's GENERATION)
        g = replace(prompt.GENERATION, **decoding)
        prompt.GENERATION = ev.GENERATION = pipeline.GENERATION = g
    out = WORK/name
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    res = tr.train(data, out, preset=get_preset('cpu', verbose=False), resume=False, seed=seed, **overrides)
    t_train = time.time()-t0
    prompts = pipeline._held_out_prompts(data, 24)
    ctx, max_len = [m for m, _ in prompts], res['settings']['max_seq_len']
    t1 = time.time()
    model, tok = tr.load_clone(out/'adapter')
    clone = ev.generate(model, tok, ctx, pipeline.REPLY_TOKENS, max_len)
    key = json.dumps({'max_len': max_len, 'decoding': decoding or {}, 'tokens': pipeline.REPLY_TOKENS}, sort_keys=True)
    cache = WORK/'base_cache.json'
    bc = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in bc:
        with model.disable_adapter(): bc[key] = ev.generate(model, tok, ctx, pipeline.REPLY_TOKENS, max_len)
        cache.write_text(json.dumps(bc, ensure_ascii=False))
    base = bc[key]
    t_gen = time.time()-t1
    samples = [dict(context=m[-1]['content'] if m else '', you=real, base=b, clone=c) for (m, real), b, c in zip(prompts, base, clone)]
    st = ev.compare_style(samples, tr.read_jsonl(data/'train.jsonl'))
    shutil.rmtree(out/'checkpoints', ignore_errors=True)
    return {'name': name, 'mode': 'fast', 'overrides': overrides, 'seed': seed, 'decoding': decoding or {},
            'threads': torch.get_num_threads(), 'train_seconds': round(t_train, 1), 'gen_seconds': round(t_gen, 1),
            'step_seconds': res['train_seconds'], 'eval_loss_start': res['eval_loss_start'], 'eval_loss': res['eval_loss'],
            **_figures(st), 'replies': [{'context': s['context'], 'owner': s['you'], 'base': s['base'], 'clone': s['clone']} for s in samples[:8]]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('name'); ap.add_argument('overrides', nargs='?', default='{}')
    ap.add_argument('--seed', type=int, default=42); ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--decoding', default=None); ap.add_argument('--demo', action='store_true')
    a = ap.parse_args()
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    ov = json.loads(a.overrides)
    row = run_demo(a.name, ov, a.seed) if a.demo else run_fast(a.name, ov, a.seed, json.loads(a.decoding) if a.decoding else None)
    row['load_average'] = os.getloadavg()
    row['utc'] = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())
    _record(row)
    print(json.dumps({k: v for k, v in row.items() if k not in ('replies', 'profiles')}, ensure_ascii=False))


if __name__ == '__main__':
    main()
