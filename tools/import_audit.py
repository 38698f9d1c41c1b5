"""Check the Makefile's SAME_TESTS, the test files the Colab run leaves out: run each in its own pytest process (two at a
time), with `tools/import_audit/sitecustomize.py` recording what each Python process imported (the CLI processes the
tests start included), and fail if any of them imported a library whose version Colab or Kaggle pins differently (then
that file must leave SAME_TESTS). `--all` audits every test file, to see which could join SAME_TESTS.

    .venv/bin/python tools/import_audit.py [--all]
"""
import json, os, re, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def same_tests()->list:
    m = re.search(r'^SAME_TESTS := (.*)$', (ROOT/'Makefile').read_text(), re.M)
    return m[1].split()

def audit(test:str, logdir:Path)->tuple:
    log = logdir/(Path(test).stem+'.jsonl')
    env = {**os.environ, 'IMPORT_AUDIT_LOG': str(log),
           'PYTHONPATH': os.pathsep.join([str(ROOT/'tools'/'import_audit'), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', test], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    rows = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
    return test, r.returncode, sorted({m for row in rows for m in row['imported']}), len(rows)

def main():
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT/'tests').glob('test_*.py')) if '--all' in sys.argv else same_tests()
    with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(2) as ex:
        res = list(ex.map(lambda t: audit(t, Path(d)), files))
    bad = [r for r in res if r[2]]
    for t, rc, mods, n in res: print(f"{'FAIL' if mods else 'ok  '} {t}: {n} Python processes, pytest rc {rc}, imported {mods or 'none of the pinned libraries'}")
    if any(r[1] not in (0, 5) for r in res): print('note: some test files failed; their imports were still recorded')
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
