"The `llmclone` console script as a user runs it: real processes, exit codes, stdout/stderr."
import json, subprocess, sys
from pathlib import Path
from llmclone_nb.presets import sample_export_path

BIN = Path(sys.executable).parent/'llmclone'

def run(*args, **kw): return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=300, **kw)

def test_inspect_json_is_one_document():
    r = run('inspect', sample_export_path(), '--json')
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {'name', 'type', 'id', 'messages', 'senders'} <= doc['chats'][0].keys()

def test_inspect_into_a_closed_pipe_is_quiet():
    r = subprocess.run(f'"{BIN}" inspect "{sample_export_path()}" --json | head -1', shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == '{' and 'Traceback' not in r.stderr, r.stderr

def test_bad_input_exits_2_naming_the_file(tmp_path):
    bad = tmp_path/'result.json'
    bad.write_bytes('{"name": "Чат", "type": "personal_chat", "id": 1, "messages": []}'.encode('cp1251'))
    r = run('prepare', bad, '--out', tmp_path/'data')
    assert r.returncode == 2 and str(bad) in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'data').exists() or not any((tmp_path/'data').iterdir())

def test_unknown_command_is_a_usage_error():
    r = run('fly')
    assert r.returncode == 2 and 'usage: llmclone' in r.stderr
