"Chapter 1 checks that are too slow or too file-bound for the notebook: real exports, bad inputs, planted personal data."
import json, subprocess, sys
from collections import Counter
from pathlib import Path
import pytest
from llmclone_nb.export import (ExportError, inspect_export, format_inspect, iter_export, normalise, prepare, scrub_text,
                                to_dataset)
from llmclone_nb.presets import sample_export_path, sample_chat_path

REAL = Path(__file__).resolve().parents[2]/'shared'/'telegram-exports'
REAL_FILES = sorted(REAL.glob('*.json')) if REAL.is_dir() else []
PII = Path(__file__).resolve().parent/'fixtures'/'planted_pii.json'
LIST_REPR = ("['", "{'type'", "'text':", '[{')

def _json_count(raw: dict) -> list:
    "Per-chat (name, type, id, messages, Counter of senders) by a plain json.load, the reference."
    chats = [raw] if 'messages' in raw else [c for s in ('chats', 'left_chats') for c in raw.get(s, {}).get('list', [])]
    return [(c.get('name'), c.get('type'), c.get('id'), sum(m.get('type') == 'message' for m in c['messages']),
             Counter(m.get('from_id') for m in c['messages'] if m.get('type') == 'message')) for c in chats]

@pytest.mark.parametrize('path', REAL_FILES + [sample_export_path(), sample_chat_path()], ids=lambda p: p.parent.name + '/' + p.name)
def test_inspect_matches_json_load(path):
    raw = json.loads(path.read_text(encoding='utf-8'))
    doc = inspect_export(path)
    got = [(c['name'], c['type'], c['id'], c['messages'], Counter({s['id']: s['messages'] for s in c['senders']})) for c in doc['chats']]
    assert got == _json_count(raw)
    assert json.loads(json.dumps(doc)) == doc  # the --json document is plain JSON
    assert f"{doc['chats'][0]['messages']:,}" in format_inspect(doc)

@pytest.mark.skipif(not REAL_FILES, reason='shared/telegram-exports not present')
@pytest.mark.parametrize('path', REAL_FILES, ids=lambda p: p.name)
def test_real_exports_prepare(path, tmp_path):
    "Every real export becomes samples (owner = its busiest sender) with no list/dict reprs, and no text lost."
    doc = inspect_export(path)
    raw = json.loads(path.read_text(encoding='utf-8'))
    outs = [normalise(m) for _, m in iter_export(path)]
    texts = [o[3] for o in outs if not isinstance(o, str)]
    assert not any(any(r in t for r in LIST_REPR) for t in texts)
    human = [m for m in raw['messages'] if m['type'] == 'message' and m.get('text') and
             not {'forwarded_from', 'saved_from', 'via_bot'} & m.keys()]
    assert len([1 for m, o in zip(raw['messages'], outs) if not isinstance(o, str) and m.get('text')]) == len(human)
    me = doc['chats'][0]['senders'][0]['id']
    chat_type = doc['chats'][0]['type']
    if len(doc['chats'][0]['senders']) < 2 or chat_type in ('saved_messages', 'public_channel', 'private_channel'):
        # channels and saved messages: nobody to reply to, so a clear error and no files
        with pytest.raises(ExportError): prepare(path, tmp_path/'d', me=me, chat_types=(chat_type,))
        assert not (tmp_path/'d'/'train.jsonl').exists()
        return
    st = prepare(path, tmp_path/'d', me=me, chat_types=(chat_type,))
    rows = [json.loads(l) for f in ('train', 'validation') for l in (tmp_path/'d'/f'{f}.jsonl').open(encoding='utf-8')]
    assert len(rows) == st['samples']['train'] + st['samples']['validation'] > 0
    for r in rows:
        ms = r['messages']
        assert ms[0]['role'] == 'system' and ms[1]['role'] == 'user' and ms[-1]['role'] == 'assistant'
        assert all(a['role'] != b['role'] for a, b in zip(ms[1:], ms[2:]))  # strictly alternating
        assert not any(any(x in m['content'] for x in LIST_REPR) for m in ms)
        assert r['meta']['chat_type'] == chat_type
    names = {s['name'] for s in doc['chats'][0]['senders'] if s['name'] and s['id'] != me}
    body = ''.join(m['content'] for r in rows for m in r['messages'][1:] if m['role'] == 'user')
    assert not any(f'{n}:' in body for n in names)  # speakers are labelled 'Person N', never by name

def test_single_chat_needs_me(tmp_path):
    with pytest.raises(ExportError, match='Senders:'): prepare(sample_chat_path(), tmp_path/'d')
    assert not (tmp_path/'d'/'train.jsonl').exists()

def _bad(tmp_path, data) -> str:
    p = tmp_path/'result.json'
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(ExportError) as e: prepare(p, tmp_path/'out')
    assert not (tmp_path/'out').exists() or not any((tmp_path/'out').iterdir())  # nothing left behind
    assert str(p) in str(e.value)
    with pytest.raises(ExportError): inspect_export(p) if 'owner' not in str(e.value) else (_ for _ in ()).throw(ExportError())
    return str(e.value)

def test_bad_inputs(tmp_path):
    good = sample_export_path().read_bytes()
    assert 'truncated' in _bad(tmp_path, good[:len(good) * 2 // 3])
    cyr = sample_chat_path().read_text(encoding='utf-8').encode('cp1251', errors='replace')
    e = _bad(tmp_path, cyr)
    assert 'not UTF-8' in e and 'byte offset' in e
    assert 'not a Telegram export' in _bad(tmp_path, '[{"id": 1}]')
    assert 'not a Telegram export' in _bad(tmp_path, '{"hello": "world"}')
    assert 'empty' in _bad(tmp_path, '')
    assert 'empty' in _bad(tmp_path, '{}')
    assert 'UTF-16' in _bad(tmp_path, '{"messages": []}'.encode('utf-16'))

def test_malformed_message_skipped_or_strict(tmp_path):
    raw = json.loads(sample_export_path().read_text(encoding='utf-8'))
    chat = next(c for c in raw['chats']['list'] if c['type'] == 'personal_chat')
    victim = next(m for m in chat['messages'] if m['type'] == 'message')
    victim['date_unixtime'] = 'yesterday'
    p = tmp_path/'result.json'; p.write_text(json.dumps(raw, ensure_ascii=False), encoding='utf-8')
    st = prepare(p, tmp_path/'d')
    assert st['messages']['malformed'] == 1 and st['messages']['malformed_examples'][0]['id'] == victim['id']
    with pytest.raises(ExportError, match=f"message id {victim['id']}"): prepare(p, tmp_path/'d2', strict=True)

def test_owner_without_messages(tmp_path):
    with pytest.raises(ExportError, match='wrote no usable messages'): prepare(sample_export_path(), tmp_path/'d', me='user1')

@pytest.mark.skipif(not PII.exists(), reason='planted_pii.json not generated yet')
def test_planted_pii_recall_and_precision(tmp_path):
    pii = json.loads(PII.read_text(encoding='utf-8'))
    files = {'sample_export': sample_export_path(), 'sample_chat': sample_chat_path()}
    texts = {}
    for key, p in files.items():
        for chat, m in iter_export(p):
            r = normalise(m)
            if not isinstance(r, str): texts[(key, chat['name'], m['id'])] = (json.dumps(m.get('text'), ensure_ascii=False), r[3])
    for item in pii['planted']:
        raw, out = texts[(item['file'], item['chat'], item['message_id'])]
        assert item['value'] not in out, item
    for v in pii['must_survive']:
        for raw, out in texts.values():
            if v in raw: assert v in out, (v, out)
    # and nothing planted reaches the written samples, with every chat type read
    st = prepare(files['sample_export'], tmp_path/'d', groups=True, chat_types=('personal_chat', 'saved_messages', 'bot_chat'))
    body = (tmp_path/'d'/'train.jsonl').read_text(encoding='utf-8') + (tmp_path/'d'/'validation.jsonl').read_text(encoding='utf-8')
    assert not [i['value'] for i in pii['planted'] if i['value'] in body]
    assert st['scrubbed'].get('email', 0) > 0

def test_scrub_text_precision_on_ordinary_text():
    for s in ['Встреча 12.05.2024 в 14:30', 'цена 1 500 000 ₽', 'order 1234 5678 9012 3456', 'Python 3.11.7', 'call 112',
              'https://example.com/docs/page?id=42', 'ISBN 978-3-16-148410-0', '2019-2024', 'рейс SU 1402']:
        assert scrub_text(s) == s, s

def test_dataset_dict(tmp_path):
    st = prepare(sample_export_path(), tmp_path/'d')
    ds = to_dataset(tmp_path/'d')
    assert (len(ds['train']), len(ds['validation'])) == (st['samples']['train'], st['samples']['validation'])
    assert ds['train'][0]['messages'][-1]['role'] == 'assistant'

def test_no_heavy_imports():
    "`llmclone inspect` must start fast: the export module pulls in neither torch, transformers nor datasets."
    code = "import sys, llmclone_nb.export; print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == '[]'

def test_sessions_split_and_dedup(tmp_path):
    "A session is never split between train and validation; no sample appears twice; samples never span chats."
    st = prepare(sample_export_path(), tmp_path/'d', groups=True, split='time')
    rows = {f: [json.loads(l) for l in (tmp_path/'d'/f'{f}.jsonl').open(encoding='utf-8')] for f in ('train', 'validation')}
    tr, va = ({r['meta']['session'] for r in rows[f]} for f in ('train', 'validation'))
    assert tr and va and not tr & va
    bodies = [json.dumps(r['messages'], ensure_ascii=False) for f in rows for r in rows[f]]
    assert len(bodies) == len(set(bodies))
    assert all(r['meta']['session'].split('-')[0] == r['meta']['chat'].split()[-1] for f in rows for r in rows[f])
    times = {f: sorted(r['meta']['time'] for r in rows[f]) for f in rows}  # split='time': validation is the latest
    assert times['validation'][0] > times['train'][len(times['train']) // 2]

def _pairs(path, fast):
    from llmclone_nb.reader import ExportStream
    st = ExportStream(path, fast=fast)
    pairs = [(c['index'], c['section'], c['name'], c['type'], c['id'], m['id'] if type(m) is dict else m) for c, m in st]
    return pairs, [dict(c) for c in st.chats], st.shape, st.owner_id, st.fell_back

@pytest.mark.parametrize('path', REAL_FILES + [sample_export_path(), sample_chat_path()], ids=lambda p: p.parent.name + '/' + p.name)
def test_fast_path_matches_event_router(path):
    "The C `items` fast path hands out exactly the router's (chat, message) pairs, chats, shape and owner."
    fast, slow = _pairs(path, True), _pairs(path, False)
    assert fast[4] is None, fast[4]  # Telegram's own files never need the fall-back
    assert fast[:4] == slow[:4]

def test_fast_path_odd_files(tmp_path, monkeypatch):
    "Other key orders, compact JSON, a chat header inside a text, left_chats first: same pairs, falling back when unsure."
    raw = json.loads(sample_export_path().read_text(encoding='utf-8'))
    cases = {}
    r = json.loads(json.dumps(raw)); c = r['chats']['list'][3]
    r['chats']['list'][3] = {'messages': c['messages'], **{k: v for k, v in c.items() if k != 'messages'}}
    cases['reordered'] = (json.dumps(r, ensure_ascii=False, indent=1), 'name, type and id')
    cases['compact'] = (json.dumps(raw, ensure_ascii=False, separators=(',', ':')), None)
    r = json.loads(json.dumps(raw))
    r['chats']['list'][1]['messages'][0]['text'] = '{"name": "x", "type": "personal_chat", "id": 5, "messages": []}'
    cases['fake_header_in_text'] = (json.dumps(r, ensure_ascii=False, indent=1), None)
    r = {k: raw[k] for k in raw if k not in ('chats', 'left_chats')}; r['left_chats'] = raw['left_chats']; r['chats'] = raw['chats']
    cases['left_chats_first'] = (json.dumps(r, ensure_ascii=False, indent=1), None)
    r = json.loads(json.dumps(raw)); r['chats']['list'][2]['id'] = str(r['chats']['list'][2]['id'])
    cases['string_chat_id'] = (json.dumps(r, ensure_ascii=False, indent=1), 'name, type and id')
    for name, (text, why) in cases.items():
        p = tmp_path/f'{name}.json'; p.write_text(text, encoding='utf-8')
        fast, slow = _pairs(p, True), _pairs(p, False)
        assert fast[:4] == slow[:4], name
        assert (fast[4] is None) if why is None else (why in fast[4]), (name, fast[4])
        assert sum(c['section'] == 'left_chats' for c in fast[1]) == 1, name
    # and prepare writes the same files whichever path read the export (here: fast, falling back mid-file, vs router only)
    import functools, llmclone_nb.reader as R
    p = tmp_path/'reordered.json'
    a = prepare(p, tmp_path/'a', groups=True)
    monkeypatch.setattr(R.ExportStream, '__init__', functools.partialmethod(R.ExportStream.__init__, fast=False))
    b = prepare(p, tmp_path/'b', groups=True)
    for f in ('train.jsonl', 'validation.jsonl'): assert (tmp_path/'a'/f).read_bytes() == (tmp_path/'b'/f).read_bytes()
    assert {k: v for k, v in a.items() if k != 'created'} == {k: v for k, v in b.items() if k != 'created'}
