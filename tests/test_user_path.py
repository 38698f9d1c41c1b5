"""The user's path harness (issue 24): the second owner's export (`tools/second_owner.py`) and the sample guard that
`tools/run_user_path.py` puts on every process of that path. The whole path (chapters 1, 4, 5, 6, 6a, 7 in fresh
processes, and `llmclone run`) is `make user-path`; these tests are the fast checks of its parts."""
import json, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import second_owner, run_user_path as rup  # noqa: E402

from llmclone_nb.presets import sample_export_path, sample_chat_path  # noqa: E402

EMOJI = re.compile('[\U0001F300-\U0001FAFF\u2600-\u27BF]')


@pytest.fixture(scope='module')
def export(tmp_path_factory):
    return second_owner.write(tmp_path_factory.mktemp('second')/'DataExport_2025-10-28')


def _owner_texts(d:dict)->list:
    "The owner's plain message texts, read straight from the JSON (independently of the generator and of the library)."
    uid, out = d['personal_information']['user_id'], []
    for c in d['chats']['list'] + d.get('left_chats', {}).get('list', []):
        for m in c['messages']:
            if m.get('from_id') in (uid, f'user{uid}') and m.get('text'):
                t = m['text']
                out.append(t if isinstance(t, str) else ''.join(p if isinstance(p, str) else p['text'] for p in t))
    return out


def habits(d:dict)->dict:
    "The habits the chapters look at, as shares of the owner's messages."
    ts = _owner_texts(d); n = len(ts)
    first = lambda t: next((c for c in t if c.isalpha()), '')
    return dict(n=n, capital=sum(first(t).isupper() for t in ts)/n, period=sum(t.rstrip().endswith('.') for t in ts)/n,
                emoji=sum(bool(EMOJI.search(t)) for t in ts)/n, bracket=sum(')' in t for t in ts)/n,
                cyrillic=sum(bool(re.search('[а-яё]', t, re.I)) for t in ts)/n)


def test_second_owner_unlike_the_sample(export):
    "Fails if the second owner shared a habit with the sample's (planted: lowercase owner lines, or a ')' kept in one)."
    mine = habits(json.loads(export.read_text(encoding='utf-8')))
    theirs = habits(json.loads(sample_export_path().read_text(encoding='utf-8')))
    assert mine['n'] >= 300, mine
    assert mine['capital'] > 0.95 and theirs['capital'] < 0.05, (mine, theirs)
    assert mine['period'] > 0.6 and theirs['period'] < 0.05, (mine, theirs)
    assert mine['emoji'] > 0.25 and mine['emoji'] > 4*theirs['emoji'], (mine, theirs)
    assert mine['bracket'] == 0 and theirs['bracket'] > 0.3, (mine, theirs)
    assert 0.1 < mine['cyrillic'] < 0.4 and theirs['cyrillic'] > 0.6, (mine, theirs)   # mostly English, some Russian
    names = lambda d: {c.get('name') for c in d['chats']['list']}
    assert not names(json.loads(export.read_text(encoding='utf-8'))) & names(json.loads(sample_export_path().read_text(encoding='utf-8'))) - {None}


def test_second_owner_is_a_telegram_export(export, tmp_path):
    """json.load and the project's reader agree on it, it is deterministic, and chapter 1's `prepare` makes non-trivial
    train/validation splits with every planted value scrubbed. Fails if the generator wrote another shape (planted:
    `text_entities` dropped, numeric `from_id`), or seeded nothing (two builds differ)."""
    from llmclone_nb.reader import iter_export
    from llmclone_nb.export import prepare
    d = json.loads(export.read_text(encoding='utf-8'))
    assert list(d) == ['about', 'personal_information', 'contacts', 'chats', 'left_chats']   # the exporter's key order
    assert export.read_text(encoding='utf-8').startswith('{\n "about"')                       # one-space indent
    raw = [(c.get('name'), m['id']) for c in d['chats']['list'] + d['left_chats']['list'] for m in c['messages']]
    assert [(c.get('name'), m['id']) for c, m in iter_export(export)] == raw
    for c in d['chats']['list']:
        for m in c['messages']:
            assert isinstance(m['from_id' if m['type'] == 'message' else 'actor_id'], str) and m['date_unixtime'].isdigit()
            assert 'text_entities' in m
    assert json.dumps(second_owner.build()) == json.dumps(d)
    st = prepare(export.parent, tmp_path/'data')
    assert st['owner']['ids'] == ['user5550200001'] and st['samples']['train'] >= 150 and st['samples']['validation'] >= 10, st['samples']
    text = (tmp_path/'data'/'train.jsonl').read_text(encoding='utf-8') + (tmp_path/'data'/'validation.jsonl').read_text(encoding='utf-8')
    assert not [v for v in second_owner.PII if v in text]


def _guarded(tmp_path, code, mode='record'):
    log = tmp_path/f'reads-{mode}.jsonl'
    env = rup.guard_env(rup._clean_env(dict(__import__('os').environ)), rup.sample_paths(sys.executable), log, mode)
    r = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return r, rup.read_log(log)


def test_guard_fires_on_a_planted_read(tmp_path):
    """A process on the guarded path that reads the sample, directly or through a process it starts, is recorded with its
    stack; in raise mode its open fails. Fails if the guard does not reach child processes (planted: PYTHONPATH not passed
    on) or misses a path spelled another way."""
    s, c = sample_export_path(), sample_chat_path()
    code = (f"import json, pathlib, subprocess, sys\n"
            f"def load(): return json.load(open({str(s.parent/'..'/'sample_export'/'result.json')!r}))\n"
            f"load()\n"
            f"subprocess.run([sys.executable, '-c', {f'import pathlib; pathlib.Path({str(c)!r}).read_bytes()'!r}], check=True)\n")
    r, reads = _guarded(tmp_path, code)
    assert r.returncode == 0, r.stderr
    assert sorted(x['path'] for x in reads) == sorted([str(s.resolve()), str(c.resolve())]), reads
    assert any(f.endswith(' in load') for x in reads for f in x['stack'])
    assert len({x['pid'] for x in reads}) == 2
    r, reads = _guarded(tmp_path, f"open({str(s)!r})", mode='raise')
    assert r.returncode != 0 and 'PermissionError' in r.stderr and len(reads) == 1


def test_guard_quiet_otherwise(tmp_path, export):
    "Opening the user's export, other JSON files and the sample's folder listing records nothing (planted: a guard that flags every result.json)."
    code = (f"import json, os\njson.load(open({str(export)!r}))\njson.load(open({str(ROOT/'tests'/'fixtures'/'planted_pii.json')!r}))\n"
            f"os.listdir({str(sample_export_path().parent)!r}); os.stat({str(sample_export_path())!r})\n")
    r, reads = _guarded(tmp_path, code)
    assert r.returncode == 0, r.stderr
    assert reads == []


def _notebook(path:Path, cells:list):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [], 'source': s}
                    for i, s in enumerate(cells)],
          'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb), encoding='utf-8')


def test_a_chapter_that_reads_the_sample_fails_naming_its_cell(tmp_path):
    """A chapter run by the harness (fresh process and folder, nbdev's test_nb) that reads the sample in a cell's shell
    command fails, naming that cell; a chapter that reads only the user's export passes, and sees only $LLMCLONE_OUT and
    $LLMCLONE_EXPORT from outside its folder. Fails if the guard does not reach the notebook's shell commands, or if the
    harness let a chapter inherit the caller's $HOME or working folder, or passed one that left nothing for the next chapter."""
    nbs, work = tmp_path/'nbs', tmp_path/'work'
    nbs.mkdir(); (work/'out').mkdir(parents=True); (work/'export').mkdir()
    s = sample_export_path()
    _notebook(nbs/'bad.ipynb', ['x = 1', 'import sys', f'!{{sys.executable}} -c "open({str(s)!r}).read(10)"', 'y = 2'])
    _notebook(nbs/'good.ipynb', ['import os, pathlib',
                                 "out, exp = pathlib.Path(os.environ['LLMCLONE_OUT']), pathlib.Path(os.environ['LLMCLONE_EXPORT'])",
                                 "(out/'seen.txt').write_text(os.getcwd() + '\\n' + os.environ['HOME'])"])
    env = rup._clean_env(dict(__import__('os').environ))
    paths = rup.sample_paths(sys.executable)
    bad = rup.run_chapter('bad', work, sys.executable, env, paths, limit=300, nbs=nbs)
    assert not bad['passed'] and bad['returncode'] == 0 and bad['sample_reads'] == 1, bad
    reads = rup.read_log(work/'chapters'/'bad'/'sample_reads.jsonl')
    assert reads[0]['cell'] == 'cell 2 (id c2)', reads
    assert 'bad: read ' in rup.describe_reads('bad', reads) and 'cell 2 (id c2)' in rup.describe_reads('bad', reads)
    good = rup.run_chapter('good', work, sys.executable, env, paths, limit=300, nbs=nbs, expect=['seen.txt'])
    assert good['passed'], Path(good['log']).read_text()
    assert not rup.run_chapter('good', work, sys.executable, env, paths, limit=300, nbs=nbs, expect=['adapter/llmclone.json'])['passed']
    cwd, home = (work/'out'/'seen.txt').read_text().splitlines()
    assert Path(cwd) == work/'chapters'/'good'/'nbs' and Path(home) == work/'chapters'/'good'/'home'
