"""Recall, false positives and speed of the PII scrubber (`llmclone_nb.samples.scrub_text`), now and at an older commit.

    .venv/bin/python bench/pii_bench.py --rev 9572571        # the scrubber before issue 25, beside the current one
    .venv/bin/python bench/pii_bench.py --show                # also print every message the scrubber changes

- recall: rows of tests/test_pii.py's PII table scrubbed exactly to the expected text; look-alikes changed (ORDINARY).
- the bundled sample export (and its one-chat sample): every message's whole text (Telegram's entities included) is
  scrubbed; a change in a message not listed in tests/fixtures/planted_pii.json is a false positive, a planted value still
  there is a miss.
- ../shared/telegram-exports/ (read in place): messages changed. They hold no planted PII, so every change is printed
  with --show and judged by eye (README: the verdicts).
- speed: messages per second of CPU time through scrub_text over the sample export and the largest shared exports
  (best of 7 passes, old and new taking turns; CPU time, so that other processes on a shared machine count less).
"""
import argparse, importlib.util, json, subprocess, sys, time, types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from llmclone_nb.reader import iter_export
from llmclone_nb.presets import sample_export_path, sample_chat_path

SHARED = ROOT.parent / 'shared' / 'telegram-exports'


def load_scrubber(rev=None):
    "scrub_text of the working tree, or of llmclone_nb/samples.py at git revision `rev`."
    if rev is None:
        from llmclone_nb.samples import scrub_text
        return scrub_text
    src = subprocess.run(['git', 'show', f'{rev}:llmclone_nb/samples.py'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    mod = types.ModuleType(f'llmclone_nb._samples_{rev}'); mod.__package__ = 'llmclone_nb'
    exec(compile(src, f'samples.py@{rev}', 'exec'), mod.__dict__)
    return mod.scrub_text


def table():
    spec = importlib.util.spec_from_file_location('test_pii', ROOT / 'tests' / 'test_pii.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m.PII, m.ORDINARY


def flat(t):
    return t if isinstance(t, str) else ''.join(p if isinstance(p, str) else str(p.get('text', '')) for p in t)


def texts(path):
    "(chat name, message id, text) of every message with text."
    out = []
    for chat, m in iter_export(path):
        if isinstance(m, dict) and m.get('type') == 'message' and (t := flat(m.get('text', ''))).strip():
            out.append((chat.get('name') or 'Saved Messages', m.get('id'), t))
    return out


def run(scrub, show=False):
    res = {}
    pii, ordinary = table()
    res['table'] = dict(shapes=len(pii), caught=sum(scrub(t) == w for t, w in pii),
                        lookalikes=len(ordinary), changed=sum(scrub(t) != t for t in ordinary))
    fx = json.loads((ROOT / 'tests' / 'fixtures' / 'planted_pii.json').read_text(encoding='utf-8'))
    planted = {}
    for p in fx['planted']: planted.setdefault((p['file'], p['chat'], p['message_id']), []).append(p['value'])
    n = fp = miss = 0; fps = []
    for key, path in (('sample_export', sample_export_path()), ('sample_chat', sample_chat_path())):
        for chat, mid, t in texts(path):
            s = scrub(t); vals = planted.get((key, chat, mid))
            if vals: miss += sum(v in s for v in vals)
            else:
                n += 1
                if s != t: fp += 1; fps.append((t, s))
    res['sample'] = dict(messages_without_pii=n, changed=fp, planted=len(fx['planted']), planted_left=miss)
    if show:
        for t, s in fps: print(f'  sample FP: {t!r}\n          -> {s!r}')
    if SHARED.is_dir():
        res['shared'] = {}
        for f in sorted(SHARED.glob('*.json')):
            ts = texts(f); ch = [(t, s) for _, _, t in ts if (s := scrub(t)) != t]
            res['shared'][f.stem] = dict(messages=len(ts), changed=len(ch))
            if show:
                for t, s in ch: print(f'  {f.stem}: {t[:300]!r}\n          -> {s[:300]!r}')
    return res


def speed(scrubbers:dict, rounds=7):
    "Messages per CPU second of each scrubber on each corpus: best of `rounds`, the scrubbers taking turns (so load hits all alike)."
    corpora = {'sample_export': sample_export_path()}
    if SHARED.is_dir():
        corpora |= {n: SHARED / f'{n}.json' for n in ('robsmith-jp-plan-private-group', 'alqaddaaree-salaf-public-channel')}
    out = {}
    for name, path in corpora.items():
        ts = [t for _, _, t in texts(path)]
        for f in scrubbers.values(): f(ts[0])  # imports done before timing
        best = dict.fromkeys(scrubbers, float('inf'))
        for _ in range(rounds):
            for k, f in scrubbers.items(): best[k] = min(best[k], _timed(f, ts))
        out[name] = {'messages': len(ts), **{k: round(len(ts) / b) for k, b in best.items()}}
    return out


def _timed(scrub, ts):
    t0 = time.process_time()
    for t in ts: scrub(t)
    return time.process_time() - t0


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rev', help='also measure the scrubber at this git revision')
    ap.add_argument('--show', action='store_true', help='print every message the scrubber changes (sample: only false positives)')
    a = ap.parse_args()
    scrubbers = ({a.rev: load_scrubber(a.rev)} if a.rev else {}) | {'now': load_scrubber()}
    for k, f in scrubbers.items(): print(f'{k}:', json.dumps(run(f, a.show), indent=1))
    print('messages per CPU second:', json.dumps(speed(scrubbers), indent=1))
