"""`llmclone run` on a real export: killed mid-training, a second invocation resumes instead of restarting.
Real processes, the cpu preset (SmolLM2), a small step budget; skipped when ../shared/telegram-exports is absent."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT.parent/'shared'/'telegram-exports'/'robsmith-jp-plan-private-group.json'
BIN = Path(sys.executable).parent/'llmclone'

def _complete_checkpoints(out:Path)->list:
    done = [p for p in (out/'checkpoints').glob('checkpoint-*') if (p/'trainer_state.json').exists()]
    return sorted(done, key=lambda p: int(p.name.split('-')[1]))

@pytest.mark.skipif(not EXPORT.exists(), reason='real exports (../shared/telegram-exports) not present')
def test_run_resumes_after_sigkill(tmp_path):
    out = tmp_path/'run'
    cmd = [str(BIN), 'run', str(EXPORT), '--me', 'Angel', '--preset', 'cpu', '--max-steps', '12', '--save-steps', '4', '--out', str(out)]
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    t0 = time.time()
    try:
        while not _complete_checkpoints(out):
            assert p.poll() is None, f'run ended before its first checkpoint:\n{p.stdout.read()[-3000:]}'
            assert time.time()-t0 < 600, 'no checkpoint within 10 minutes'
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
