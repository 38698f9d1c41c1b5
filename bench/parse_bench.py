#!/usr/bin/env python
"""Parsing benchmark for chapter 1: `prepare` (streaming) vs a plain `json.load` of the same export.

Generates a whole-account Telegram export of at least --size-mb MB in a temporary folder (never the repo) by
replicating the bundled sample's chats with fresh ids, shifted dates and mutated texts, then runs, each in its own
subprocess so peak RSS is that process's alone (ru_maxrss of RUSAGE_SELF):
  json.load  - load the file with the standard library and count `type == "message"` entries
  inspect    - llmclone_nb.export.inspect_export (what `llmclone inspect` does)
  prepare    - llmclone_nb.export.prepare with default options (what `llmclone prepare` does)
Prints one JSON line per run and a Markdown table for bench/README.md. `inspect`'s message count of every chat is
checked against `json.load`'s (the "chats right" column).

--baseline DIR also runs inspect and prepare from another checkout of the project (e.g. `git worktree add /tmp/old
<commit>`), interleaved with the current code's runs on the same file: before and after, side by side in one run.
--big-chat N repeats the first chat's messages N times (new ids), making one chat of several MB: the case where a
reader must keep a chat's messages together across many reads.

Usage: .venv/bin/python bench/parse_bench.py [--size-mb 200] [--baseline DIR] [--big-chat N] [--keep]
"""
import argparse, json, os, platform, random, subprocess, sys, tempfile, time, shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def generate(dest:Path, size_mb:float, seed:int=0, big_chat:int=0)->dict:
    "Write a whole-account export of >= size_mb MB built from the bundled sample's chats; returns counts."
    from llmclone_nb.presets import sample_export_path
    src = json.loads(sample_export_path().read_text(encoding='utf-8'))
    chats = src['chats']['list']
    rnd, words = random.Random(seed), ['ок', 'да', 'лол', 'ну', 'short', 'yes', 'maybe', 'завтра', 'погоди', 'сейчас']
    target, n_chats, n_msgs, mid = size_mb * 2**20, 0, 0, 1
    with open(dest, 'w', encoding='utf-8') as f:
        head = {k: src[k] for k in src if k not in ('chats', 'left_chats')}
        f.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "chats": {\n  "about": "",\n  "list": [\n')
        rep = 0
        while f.tell() < target:
            for c in chats:
                if f.tell() >= target: break
                shift = rep * 86400 * 240  # each copy lives 240 days later
                msgs, src_msgs = [], c.get('messages', [])
                if rep == 0 and c is chats[0] and big_chat > 1: src_msgs = src_msgs * big_chat
                for m in src_msgs:
                    m = dict(m, id=mid); mid += 1
                    if 'date_unixtime' in m: m['date_unixtime'] = str(int(m['date_unixtime']) + shift)
                    if isinstance(m.get('text'), str) and m['text'] and rnd.random() < 0.5:
                        m['text'] = m['text'] + ' ' + rnd.choice(words)
                        if 'text_entities' in m: m['text_entities'] = [{'type': 'plain', 'text': m['text']}]
                    msgs.append(m)
                cc = {k: c[k] for k in c if k != 'messages'}
                cc['id'] = c['id'] + rep * 10**10
                if 'name' in cc: cc['name'] = f"{cc['name']} #{rep}"
                cc['messages'] = msgs
                f.write(('' if n_chats == 0 else ',\n') + json.dumps(cc, ensure_ascii=False, indent=1))
                n_chats += 1; n_msgs += len(msgs)
            rep += 1
        f.write('\n  ]\n },\n "left_chats": {\n  "about": "",\n  "list": []\n }\n}\n')
    return {'chats': n_chats, 'messages': n_msgs, 'bytes': dest.stat().st_size}

CHILD = {
    'json.load': """
import json, sys
d = json.load(open(sys.argv[1], encoding='utf-8'))
per_chat = [sum(m.get('type') == 'message' for m in c.get('messages', [])) for s in d if s in ('chats', 'left_chats') for c in d[s]['list']]
result = {'messages': sum(per_chat), 'per_chat': per_chat}
""",
    'inspect': """
import sys
from llmclone_nb.export import inspect_export
doc = inspect_export(sys.argv[1])
result = {'messages': sum(c['messages'] for c in doc['chats']), 'per_chat': [c['messages'] for c in doc['chats']]}
""",
    'prepare': """
import sys
from llmclone_nb.export import prepare
st = prepare(sys.argv[1], sys.argv[2], progress=False)
result = {'messages_kept': st['messages']['kept'], 'samples': st['samples']['train'] + st['samples']['validation']}
""",
}
WRAP = """
import time, resource, json as _json
_t, _c = time.perf_counter(), time.process_time()
{body}
result['seconds'] = time.perf_counter() - _t
result['cpu_seconds'] = time.process_time() - _c  # less disturbed than wall time when other processes share the cores
result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(_json.dumps(result))
"""

def run(name:str, path:Path, out_dir:Path, code:Path=ROOT, label:str|None=None)->dict:
    "One run in a fresh process, importing llmclone_nb from the checkout `code`."
    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(code)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    p = subprocess.run([sys.executable, '-c', WRAP.format(body=CHILD[name]), str(path), str(out_dir)],
                       capture_output=True, text=True, env=env, cwd=out_dir.parent)  # (not the repo: '' leads sys.path)
    if p.returncode: sys.exit(f"{label or name} failed:\n{p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r.update(run=label or name, process_seconds=round(time.perf_counter() - t, 2), seconds=round(r['seconds'], 2),
             cpu_seconds=round(r['cpu_seconds'], 2), peak_rss_mb=round(r['peak_rss_mb']))
    return r

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size-mb', type=float, default=200)
    ap.add_argument('--baseline', type=Path, help='another checkout of the project to run inspect and prepare from, too')
    ap.add_argument('--big-chat', type=int, default=0, help="repeat the first chat's messages this many times")
    ap.add_argument('--keep', action='store_true', help='keep the generated export')
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='llmclone-bench-'))
    try:
        path = tmp/'result.json'
        t = time.perf_counter(); info = generate(path, args.size_mb, big_chat=args.big_chat)
        mb = info['bytes'] / 2**20
        print(json.dumps({'generated': str(path), 'mb': round(mb, 1), **info, 'seconds': round(time.perf_counter() - t, 1)}))
        plan = [('json.load', ROOT, None)]
        for n in ('inspect', 'prepare'):
            if args.baseline: plan.append((n, args.baseline.resolve(), f'{n} (baseline)'))
            plan.append((n, ROOT, None))
        rows = [run(n, path, tmp/'data', code, label) for n, code, label in plan]
        base = rows[0]
        for r in rows:
            r['mb_per_s'] = round(mb / r['seconds'], 1)
            if 'per_chat' in r and r is not base:
                r['chats_right'] = sum(a == b for a, b in zip(r['per_chat'], base['per_chat'])) if len(r['per_chat']) == len(base['per_chat']) else 0
            print(json.dumps({k: v for k, v in r.items() if k != 'per_chat'}))
        print(f"\nexport: {mb:.0f} MB, {info['chats']} chats, {info['messages']:,} messages"
              f"{f' (the first chat repeated {args.big_chat}x)' if args.big_chat > 1 else ''}; "
              f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
        print('| run | seconds | CPU seconds | MB/s | peak RSS (MB) | time vs json.load | CPU vs json.load | RSS vs json.load | chats right |')
        print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in rows:
            right = f"{r['chats_right']:,} / {len(base['per_chat']):,}" if 'chats_right' in r else ''
            print(f"| {r['run']} | {r['seconds']} | {r['cpu_seconds']} | {r['mb_per_s']} | {r['peak_rss_mb']} | "
                  f"{r['seconds']/base['seconds']:.2f}× | {r['cpu_seconds']/base['cpu_seconds']:.2f}× | "
                  f"{r['peak_rss_mb']/base['peak_rss_mb']:.2f}× | {right} |")
    finally:
        if args.keep: print('kept', tmp)
        else: shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
