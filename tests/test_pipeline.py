"""`llmclone run` on a real export: killed mid-training, a second invocation resumes instead of restarting.
Real processes, the cpu preset (SmolLM2), a small step budget; skipped when ../shared/telegram-exports is absent."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT.parent/'shared'/'telegram-exports'/'robsmith-jp-plan-private-group.json'
BIN = Path(sys.executable).parent/'llmclone'

def _start(cmd:list, log:Path, env:dict)->subprocess.Popen:
    "Start `cmd` with its output in the file `log`, never on a pipe that nobody reads (a full pipe blocks the child's next write)."
    with open(log, 'w') as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env, start_new_session=True)

def _cpu_seconds(pid:int)->float:
    "CPU seconds a process has used (user + system, from /proc/PID/stat)."
    f = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def test_output_to_a_file_never_blocks(tmp_path):
    """How the kill-and-resume test starts `llmclone run`: a child that writes far more than a pipe holds (64 KiB on Linux) before it
    reaches its checkpoint still gets there. Planted defect that fails it: `stdout=subprocess.PIPE` with nobody reading — the child
    blocks on its first full pipe and the marker never appears (what happened to `llmclone run` under transformers 5.0.0)."""
    marker = tmp_path/'checkpoint'
    child = [sys.executable, '-c', f"import sys; sys.stdout.write('progress line\\n'*100_000); sys.stdout.flush(); open({str(marker)!r}, 'w').close()"]
    p = _start(child, tmp_path/'child.log', dict(os.environ))
    try:
        t0 = time.time()
        while not marker.exists() and time.time()-t0 < 120: time.sleep(0.1)
        assert marker.exists(), 'the child blocked before its checkpoint'
        assert (tmp_path/'child.log').stat().st_size >= 100_000*len('progress line\n')
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL)
        p.wait()

def _complete_checkpoints(out:Path)->list:
    done = [p for p in (out/'checkpoints').glob('checkpoint-*') if (p/'trainer_state.json').exists()]
    return sorted(done, key=lambda p: int(p.name.split('-')[1]))

@pytest.mark.skipif(not EXPORT.exists(), reason='real exports (../shared/telegram-exports) not present')
def test_run_resumes_after_sigkill(tmp_path):
    out = tmp_path/'run'
    cmd = [str(BIN), 'run', str(EXPORT), '--me', 'Angel', '--preset', 'cpu', '--max-steps', '12', '--save-steps', '4', '--out', str(out)]
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    # The first run's output goes to a file, never to a pipe nobody reads: a run that writes more than a pipe holds
    # (64 KiB; transformers 5.0's progress lines did) would block on its write and never reach a checkpoint.
    log = tmp_path/'first-run.log'
    p = _start(cmd, log, env)
    # Not a timing assertion: a busy machine may take long, so the test gives up only when the run stalls — for 10 minutes its
    # log has not grown and it has used no CPU (a run blocked on a full pipe uses none; a quiet log off a terminal is normal) —
    # or after an hour in all.
    t0 = last = time.time(); size = cpu = 0
    try:
        while not _complete_checkpoints(out):
            assert p.poll() is None, f'run ended before its first checkpoint:\n{log.read_text()[-3000:]}'
            if log.stat().st_size != size or _cpu_seconds(p.pid) > cpu+1: size, cpu, last = log.stat().st_size, _cpu_seconds(p.pid), time.time()
            assert time.time()-last < 600 and time.time()-t0 < 3600, f'no checkpoint, the run stalled:\n{log.read_text()[-3000:]}'
            time.sleep(0.5)
    finally:
        os.killpg(p.pid, signal.SIGKILL); p.wait()
    first = _complete_checkpoints(out)[-1]
    assert (out/'data'/'stats.json').exists() and not (out/'adapter').exists()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'prepare: already done' in r.stdout
    assert f'Resuming from {first}' in r.stdout + r.stderr, r.stdout[-3000:]
    info = json.loads((out/'adapter'/'llmclone.json').read_text())
    assert Path(info['resumed_from']) == first
    assert info['steps'] == 12
    summary = json.loads((out/'summary.json').read_text())
    assert summary['stages']['prepare'] == {'skipped': True}
    assert {'base', 'clone', 'you'} <= summary['stops'].keys() and summary['stops']['clone']['replies'] == summary['style']['held_out']
