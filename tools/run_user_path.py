#!/usr/bin/env python3
"""A user's path, not the demo's: the second owner's export (`tools/second_owner.py`) through the chapters 1, 4, 5, 6, 6a
and 7, each executed in a fresh process as on a new Colab/Kaggle machine, and `llmclone run` on the same export.

- Every chapter runs as `nbdev-test` runs a notebook (nbdev's `test_nb`: the same skipped flags, cell timeout, the first
  failing cell stops it), in a process of its own, on a copy of the notebook in a fresh folder of its own (so the
  repository around nbs/ is not there, as on Colab), with a fresh $HOME (no model cache, no ~/.cache/llmclone_nb) and
  $TMPDIR. The only thing the chapters share is the output folder, $LLMCLONE_OUT (Drive), and $LLMCLONE_EXPORT points at
  the second owner's export folder.
- `llmclone run EXPORT --out FOLDER` runs alongside, in another fresh process and folder.
- Nothing on that path may read the bundled sample (llmclone_nb/data/sample_export, sample_chat): every process (the
  chapter's, and every process its cells start) carries `tools/sample_guard/sitecustomize.py`, which records each open
  of those files with the notebook cell that was running; any such read fails the step that made it.

    .venv/bin/python tools/run_user_path.py [--python .venv-colab/bin/python] [--work DIR] [--chapters 01_export,04_train]

Exit status 0 when every step passed and read nothing of the sample; a summary table is printed either way and written
to WORK/summary.json. `--guard raise` makes a read of the sample fail at the cell that does it (default: `record`, the
chapter runs to its end and fails afterwards, naming every read).
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUARD_DIR = ROOT/'tools'/'sample_guard'
CHAPTERS = ['01_export', '04_train', '05_gguf', '06_evaluate', '06a_audit', '07_serve']
SAMPLE_FILES = ('sample_export/result.json', 'sample_chat/result.json')
# what each chapter must leave in $LLMCLONE_OUT for the next one (globs): a chapter that passes without writing it (an
# input missing, a stand-in model used quietly) has not done its job on the user's path
EXPECT = {'01_export': ['data/train.jsonl', 'data/validation.jsonl', 'data/stats.json'], '04_train': ['adapter/llmclone.json'],
          '05_gguf': ['clone-*.gguf'], '06_evaluate': ['eval/eval.json'], '06a_audit': ['audit/audit.json']}
# the environment a new machine would not have: model caches, an output folder or export chosen before, our own markers
DROP_ENV = ('LLMCLONE_OUT', 'LLMCLONE_EXPORT', 'LLMCLONE_CACHE', 'LLMCLONE_GGUF', 'LLMCLONE_TMP', 'HF_HOME', 'HF_HUB_CACHE',
            'TRANSFORMERS_CACHE', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'MPLCONFIGDIR', 'IPYTHONDIR',
            'JUPYTER_CONFIG_DIR', 'IN_TEST', 'TELEGRAM_BOT_TOKEN', 'LLMCLONE_OWNER')


def sample_paths(python:str)->list:
    "The bundled sample files as the given interpreter's llmclone_nb finds them (and the repository's copies)."
    code = ("import importlib.util, pathlib; s = importlib.util.find_spec('llmclone_nb'); "
            "print(pathlib.Path(s.origin).parent/'data' if s else '')")
    r = subprocess.run([python, '-c', code], capture_output=True, text=True, env=_clean_env(os.environ))
    dirs = {ROOT/'llmclone_nb'/'data'} | ({Path(r.stdout.strip())} if r.returncode == 0 and r.stdout.strip() else set())
    return sorted({str((d/f).resolve()) for d in dirs for f in SAMPLE_FILES})


def _clean_env(env)->dict:
    return {k: v for k, v in env.items() if k not in DROP_ENV and not k.startswith('LLMCLONE_GUARD_')}


def guard_env(env:dict, paths:list, log:Path, mode:str='record')->dict:
    "`env` with the sample guard on PYTHONPATH for every Python process started with it (and their children)."
    return {**env, 'PYTHONPATH': os.pathsep.join([str(GUARD_DIR)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]),
            'LLMCLONE_GUARD_PATHS': os.pathsep.join(paths), 'LLMCLONE_GUARD_LOG': str(log), 'LLMCLONE_GUARD_MODE': mode}


def read_log(log:Path)->list:
    "The sample reads a guarded run recorded."
    return [json.loads(l) for l in Path(log).read_text(encoding='utf-8').splitlines() if l.strip()] if Path(log).exists() else []


def allowed(read:dict, allow:list)->bool:
    "Whether a read happened inside one of the functions in `allow` (names, as in the recorded stack)."
    return any(f.endswith(f' in {fn}') for fn in allow for f in read['stack'])


def describe_reads(step:str, reads:list)->str:
    "One paragraph per read: which step, which cell, which process, and where in the code."
    out = []
    for r in reads:
        where = next((s for s in reversed(r['stack']) if '/sample_guard/' not in s), '?')
        out.append(f"{step}: read {r['path']} in {r.get('cell') or 'no cell'} (pid {r['pid']}, {' '.join(map(str, r['argv']))}); "
                   f"innermost frame {where}\n    " + '\n    '.join(r['stack'][-8:]))
    return '\n'.join(out)


def _nbdev_setting(key:str, default:str)->str:
    "A value of pyproject.toml's [tool.nbdev] (a line `key = value`; tomllib is Python 3.11+)."
    text = (ROOT/'pyproject.toml').read_text(encoding='utf-8')
    sec = re.search(r'^\[tool\.nbdev\]\s*$(.*?)(?=^\[|\Z)', text, re.M | re.S)
    m = re.search(rf'^{key}\s*=\s*"?([^"\n#]*)"?', sec[1] if sec else '', re.M)
    return m[1].strip() if m else default


def skip_flags()->list:
    "The cells `nbdev-test` skips: pyproject.toml's [tool.nbdev] tst_flags."
    return _nbdev_setting('tst_flags', 'notest').split()


def cell_timeout()->int:
    return int(_nbdev_setting('cell_timeout', '600'))


# ---------------------------------------------------------------------------------------------------- in the child
def child(nb:str, flags:list, timeout:int, cell_file:str)->int:
    "Run one notebook as nbdev-test does (`test_nb`), telling the guard (and `cell_file`) which cell runs."
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != Path(here)]   # tools/ is not on a user's machine
    from execnb.shell import CaptureShell
    from nbdev.test import test_nb
    orig = CaptureShell.cell

    def cell(self, c, *a, **k):
        if c.cell_type == 'code':
            label = f"cell {c.idx_} (id {c.get('id')})"
            os.environ['LLMCLONE_GUARD_CELL'] = label   # inherited by the processes this cell starts
            Path(cell_file).write_text(label + '\n' + ''.join(c.source)[:400], encoding='utf-8')
        return orig(self, c, *a, **k)
    CaptureShell.cell = cell
    ok, secs = test_nb(nb, skip_flags=flags, profile=False, cell_timeout=timeout or None, cell_timing_min=20)
    print(f"{Path(nb).name}: {'passed' if ok else 'FAILED'} in {secs:.0f} s", flush=True)
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------------- in the parent
def _fresh(d:Path)->dict:
    "A new machine's private folders under `d`: HOME (caches), TMPDIR, and the working folder."
    if d.exists(): shutil.rmtree(d)
    for sub in ('home', 'tmp', 'nbs'): (d/sub).mkdir(parents=True)
    return {'HOME': str(d/'home'), 'TMPDIR': str(d/'tmp')}


def _run(cmd:list, env:dict, cwd:Path, log:Path, limit:int)->tuple:
    "Run `cmd` in its own process group with output to `log`; `(returncode, seconds)`, killing the group at `limit`."
    t = time.time()
    with open(log, 'w', encoding='utf-8') as f:
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try: rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            try: p.wait(timeout=30)
            except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()
            f.write(f"\n[run_user_path] killed after {limit} s\n"); rc = 124
    return rc, time.time() - t


def _tail(log:Path, n:int=40)->str:
    lines = Path(log).read_text(encoding='utf-8', errors='replace').splitlines() if Path(log).exists() else []
    return '\n'.join('    | ' + l[:300] for l in lines[-n:])


def run_chapter(name:str, work:Path, python:str, base_env:dict, paths:list, mode:str='record', limit:int=3600,
                nbs:Path=ROOT/'nbs', allow:tuple=(), timeout:int|None=None, expect:list|None=None)->dict:
    "One chapter in a fresh process and folder; only $LLMCLONE_OUT and $LLMCLONE_EXPORT point outside it."
    d = work/'chapters'/name
    env = {**base_env, **_fresh(d), 'LLMCLONE_OUT': str(work/'out'), 'LLMCLONE_EXPORT': str(work/'export')}
    nb = d/'nbs'/f'{name}.ipynb'
    shutil.copy2(Path(nbs)/f'{name}.ipynb', nb)
    guard_log, log, cell_file = d/'sample_reads.jsonl', d/'output.log', d/'current_cell.txt'
    cmd = [python, str(Path(__file__).resolve()), '--child', str(nb), '--flags', ' '.join(skip_flags()),
           '--cell-timeout', str(timeout or cell_timeout())]
    print(f"→ {name} (fresh process, cwd {nb.parent})", flush=True)
    rc, secs = _run(cmd, guard_env(env, paths, guard_log, mode), nb.parent, log, limit)
    reads = [r for r in read_log(guard_log) if not allowed(r, allow)]
    res = {'step': name, 'seconds': round(secs, 1), 'returncode': rc, 'sample_reads': len(reads), 'log': str(log),
           'passed': rc == 0 and not reads}
    if rc: res['failed_at'] = cell_file.read_text(encoding='utf-8').split('\n', 1)[0] if cell_file.exists() else None
    missing = [g for g in (EXPECT.get(name, []) if expect is None else expect) if not list((work/'out').glob(g))]
    if missing: res.update(passed=False, missing=missing)
    _report(res, log, reads)
    return res


def run_pipeline(work:Path, python:str, base_env:dict, paths:list, mode:str='record', limit:int=3600, allow:tuple=())->dict:
    "`llmclone run EXPORT --out FOLDER` in a fresh process and folder."
    d = work/'llmclone-run'
    env = {**base_env, **_fresh(d)}
    guard_log, log = d/'sample_reads.jsonl', d/'output.log'
    cli = Path(python).parent/'llmclone'
    cmd = ([str(cli)] if cli.exists() else [python, '-m', 'llmclone_nb']) + ['run', str(work/'export'), '--out', str(d/'out')]
    print(f"→ llmclone run (fresh process, output {d/'out'})", flush=True)
    rc, secs = _run(cmd, guard_env(env, paths, guard_log, mode), d/'nbs', log, limit)
    reads = [r for r in read_log(guard_log) if not allowed(r, allow)]
    res = {'step': 'llmclone run', 'seconds': round(secs, 1), 'returncode': rc, 'sample_reads': len(reads), 'log': str(log),
           'passed': rc == 0 and not reads}
    if not list((d/'out').glob('clone-*.gguf')): res.update(passed=False, missing=['clone-*.gguf'])
    _report(res, log, reads)
    return res


def _report(res:dict, log:Path, reads:list):
    status = 'passed' if res['passed'] else 'FAILED'
    print(f"  {res['step']}: {status} in {res['seconds']:.0f} s (exit {res['returncode']}, {len(reads)} read(s) of the sample)", flush=True)
    if res['returncode']:
        if res.get('failed_at'): print(f"  stopped at {res['failed_at']}")
        print(_tail(log))
    if res.get('missing'): print(f"  {res['step']} left no {', '.join(res['missing'])} in the output folder")
    if reads: print(describe_reads(res['step'], reads))


def make_export(work:Path)->Path:
    "The second owner's export, as a user uploads it: a DataExport folder holding result.json."
    sys.path.insert(0, str(ROOT/'tools'))
    import second_owner
    d = work/'export'/'DataExport_2025-10-28'
    second_owner.write(d)
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--python', default=sys.executable, help='the environment to run in (default: this interpreter)')
    ap.add_argument('--work', type=Path, help='folder for everything (default: a new temporary folder, removed on success)')
    ap.add_argument('--chapters', default=','.join(CHAPTERS), help='notebook names in nbs/, comma-separated, run in this order')
    ap.add_argument('--no-run', action='store_true', help='skip `llmclone run`')
    ap.add_argument('--keep-out', action='store_true', help="keep WORK/out from an earlier run (to rerun later chapters on its data/)")
    ap.add_argument('--guard', choices=['record', 'raise'], default='record')
    ap.add_argument('--limit', type=int, default=3600, help='seconds a chapter (or llmclone run) may take before it is killed')
    ap.add_argument('--allow', default='', help='functions (comma-separated) whose reads of the sample are tolerated (default: none)')
    ap.add_argument('--stop', action='store_true', help='stop at the first failed chapter (default: run them all, report all)')
    ap.add_argument('--child', help=argparse.SUPPRESS); ap.add_argument('--flags', default='', help=argparse.SUPPRESS)
    ap.add_argument('--cell-timeout', type=int, help="seconds a cell may take (default: pyproject's [tool.nbdev] cell_timeout)")
    a = ap.parse_args(argv)
    if a.child:
        return child(a.child, a.flags.split(), a.cell_timeout or cell_timeout(), str(Path(a.child).parent.parent/'current_cell.txt'))

    work = (a.work or Path(tempfile.mkdtemp(prefix='llmclone-user-path-'))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for sub in ('export',) + (() if a.keep_out else ('out',)):
        if (work/sub).exists(): shutil.rmtree(work/sub)
    (work/'out').mkdir(exist_ok=True)
    python = str(Path(a.python).absolute())   # a venv's python: not resolved through its symlink, or the venv is lost
    paths = sample_paths(python)
    export = make_export(work)
    base_env = _clean_env(os.environ)
    if not a.no_run:   # two process trees at once: half the cores each, or OpenMP's spinning threads fight over them (steps 5x slower seen on 2 cores)
        n = str(max(1, (os.cpu_count() or 2)//2))
        base_env = {'OMP_NUM_THREADS': n, 'MKL_NUM_THREADS': n, **base_env}
    print(f"user path: {work}\n  export {export}\n  python {python}\n  watching {', '.join(paths)}", flush=True)
    t0, results, allow = time.time(), [], tuple(f.strip() for f in a.allow.split(',') if f.strip())
    runner = None
    if not a.no_run:   # llmclone run goes alongside the chapters (its own process and folder): a second core is used
        import threading
        box = {}
        runner = threading.Thread(target=lambda: box.update(r=run_pipeline(work, python, base_env, paths, a.guard, a.limit, allow)))
        runner.start()
    for name in [c.strip() for c in a.chapters.split(',') if c.strip()]:
        res = run_chapter(name, work, python, base_env, paths, a.guard, a.limit, allow=allow, timeout=a.cell_timeout)
        results.append(res)
        if a.stop and not res['passed']: break
    if runner is not None: runner.join(); results.append(box['r'])
    ok = all(r['passed'] for r in results)
    print(f"\nuser path ({time.time()-t0:.0f} s in all; chapters one after another, llmclone run alongside):")
    for r in results:
        print(f"  {r['step']:<14} {'passed' if r['passed'] else 'FAILED':<7} {r['seconds']:>7.0f} s  exit {r['returncode']}"
              f"  sample reads {r['sample_reads']}" + (f"  at {r['failed_at']}" if r.get('failed_at') else '')
              + (f"  missing {', '.join(r['missing'])}" if r.get('missing') else ''))
    (work/'summary.json').write_text(json.dumps(results, indent=1) + '\n', encoding='utf-8')
    if ok and a.work is None: shutil.rmtree(work, ignore_errors=True)
    elif not ok: print(f"logs kept in {work}")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
