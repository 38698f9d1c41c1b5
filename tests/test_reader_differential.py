"""The streaming reader (chapter 1b) against a plain `json.load` reader, on generated Telegram exports.

Hypothesis writes whole-account and one-chat exports in every shape of the Telegram Desktop export (chapter 1b) — chats of 0 to
30,000 messages in any order, `left_chats` before or after `chats`, the three format generations, text as a string or
a list of parts, service and unsupported entries, texts full of bytes that look like keys or like a chat header —
dumped indented (as Telegram writes) or compact, and checks that the reader hands out exactly what `json.load` finds:

- `iter_export`: the same raw message objects, chat by chat, in file order. Raw dicts are compared (not normalised
  texts): the reader must not change a message, and the comparison is then one of attribution and order only;
- `inspect_export`: the same chats (also empty ones) with the same per-chat and per-sender counts;
- `prepare`: the same messages kept per chat, counted by applying the module's own `normalise` to `json.load`'s
  messages (what normalisation keeps is chapter 1's own tests' business; here only which chat they are credited to).

The reference reader is a dozen lines of obvious code on a fully loaded document, so a disagreement is the streaming
reader's fault. Examples are derandomized: CI tests the same few hundred exports on every run.
"""
import collections, itertools, json, random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from llmclone_nb.export import ExportError, GROUP_TYPES, inspect_export, iter_export, normalise, prepare
from llmclone_nb.samples import _Malformed

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT/'llmclone_nb'/'data'/'sample_export'/'result.json'
REAL = ROOT.parent/'shared'/'telegram-exports'
OWNER = 5550100001
SINGLE_KEYS = {'name', 'type', 'id', 'messages'}
CHAT_TYPES = ['saved_messages', 'replies', 'verification_codes', 'personal_chat', 'bot_chat', 'private_group',
              'private_supergroup', 'public_supergroup', 'private_channel', 'public_channel']


# ── the reference reader ────────────────────────────────────────────────────────────────────────────────────────────

def load(path): return json.loads(Path(path).read_bytes().decode('utf-8-sig'))

def raw_chats(doc):
    "`[(section, chat object)]` in file order."
    if next(iter(doc), None) in SINGLE_KEYS: return [('chat', doc)]
    return [(sec, c) for sec in doc if sec in ('chats', 'left_chats') for c in doc[sec]['list']]

def ref_chats(doc):
    "`[(chat, messages)]` in file order; chat is `(index, section, name, type, id)` as the reader describes it."
    return [((i, sec, c.get('name'), c.get('type'), c.get('id')), c.get('messages', [])) for i, (sec, c) in enumerate(raw_chats(doc), 1)]

def ref_inspect(doc):
    out = []
    for (_, _, name, type_, id_), msgs in ref_chats(doc):
        senders = {}
        for m in msgs:
            if m.get('type') != 'message': continue
            s = senders.setdefault(m.get('from_id'), [None, 0])
            if s[0] is None: s[0] = m.get('from')
            s[1] += 1
        ss = sorted(({'id': k, 'name': n, 'messages': c} for k, (n, c) in senders.items()), key=lambda s: -s['messages'])
        out.append({'name': name, 'type': type_, 'id': id_, 'messages': sum(s['messages'] for s in ss), 'senders': ss})
    return {'chats': out}

def ref_kept(doc, types):
    """Per chat that `prepare` reads: `[label, type, kept messages, owner's]` for the chats with a kept message. A stream
    cannot choose a chat by a type that comes after its messages (Telegram writes it before): such a chat is not read."""
    chats, rows = ref_chats(doc), []
    single = chats and chats[0][0][1] == 'chat'
    for ((i, _, _, type_, _), msgs), (_, raw) in zip(chats, raw_chats(doc)):
        if not (type_ in types or (single and type_ in GROUP_TYPES)): continue
        if msgs and list(raw).index('messages') < list(raw).index('type'): continue  # see below
        kept = own = 0
        for m in msgs:
            try: r = normalise(m)
            except _Malformed: continue
            if isinstance(r, str): continue
            kept += 1; own += r[0] == f'user{OWNER}'
        if kept: rows.append({'chat': f'Chat {i}', 'type': type_, 'messages': kept, 'owner': own})
    return sorted(rows, key=lambda r: -r['messages'])[:20]

def check(path, tmp_path, prepare_too=True):
    "Everything the streaming reader says about `path` equals what the reference reader says."
    doc = load(path)
    want = [(chat, m) for chat, msgs in ref_chats(doc) for m in msgs]
    # (the chat objects are compared once the file is read: a chat whose `messages` come before its name, type and id
    # -- Telegram never writes that -- has them filled in when the stream reaches them)
    got = [(c, m) for c, m in iter_export(path)]
    got = [((c['index'], c['section'], c['name'], c['type'], c['id']), m) for c, m in got]
    assert [c for c, _ in got] == [c for c, _ in want], 'messages credited to the wrong chat'
    assert [m for _, m in got] == [m for _, m in want], 'messages differ'
    assert inspect_export(path) == ref_inspect(doc)
    if not prepare_too: return
    types = ('personal_chat', 'private_group')  # read some chats, skip others (the skipped chats' messages are not built)
    try: stats = prepare(path, tmp_path/'data', me=OWNER, chat_types=types, progress=False)
    except ExportError as e:  # random chats may hold no usable messages, or no reply of the owner: then say so
        rows = ref_kept(doc, types)
        if 'has no chats' in str(e): assert not ref_chats(doc), str(e)
        elif 'wrote no usable messages' in str(e): assert not any(r['owner'] for r in rows), str(e)
        elif 'no usable messages' in str(e): assert not rows, str(e)
        else: assert 'no training samples' in str(e), str(e)
        return
    assert stats['top_chats'] == ref_kept(doc, types)


# ── generated exports ───────────────────────────────────────────────────────────────────────────────────────────────

# bytes that look like structure to anything reading raw bytes
TRAPS = ['"messages": [', '"messages":[{"id": 1, "type": "message"}]', '{"name": "x", "type": "personal_chat", "id": 5, "messages": [',
         '{"type": "saved_messages", "id": 7, "messages": [', '"chats": {"about": "", "list": [', '"left_chats"', '}]}, {',
         '"', '\\', '\\"', '\\\\"messages\\\\":', '\\u0041', 'messag\\u0065s', '😀', '👍🏽', '\u2028', '\u2029', '\n', '\t',
         '\x00', '«»', 'Привет', '"name": null, "type": "personal_chat", "id": -12, ', ']', '}', 'skipped_', '"chats"     ']
texts = st.one_of(st.sampled_from(['', ' ', 'ok', 'да', 'Привет, как дела?']),
                  st.lists(st.one_of(st.sampled_from(TRAPS), st.text(max_size=12)), max_size=5).map(''.join))
ENTITY = ['plain', 'bold', 'italic', 'code', 'underline', 'strikethrough', 'spoiler', 'link', 'hashtag', 'bot_command',
          'cashtag', 'unknown', 'mention', 'email', 'phone', 'bank_card']
entities = st.one_of(
    st.builds(lambda t, x: {'type': t, 'text': x}, st.sampled_from(ENTITY), texts),
    st.builds(lambda x, h: {'type': 'text_link', 'text': x, 'href': h}, texts, st.sampled_from(['https://t.me/x', 'http://a.b/?token=1'])),
    st.builds(lambda x, u: {'type': 'mention_name', 'text': x, 'user_id': u}, texts, st.integers(1, 10**10)),
    st.builds(lambda x, lang: {'type': 'pre', 'text': x, 'language': lang}, texts, st.sampled_from(['', 'python'])),
    st.builds(lambda x: {'type': 'custom_emoji', 'text': x, 'document_id': '5368324170671202286'}, texts),
    st.builds(lambda x, c: {'type': 'blockquote', 'text': x, 'collapsed': c}, texts, st.booleans()))
people = st.sampled_from([(OWNER, 'Никита Owner'), (200, 'Anna "A" Petrova'), (300, None), (400, 'Bob\\Builder'), (500, '😀')])
NOFILE = '(File not included. Change data exporting settings to download.)'
extras = st.sampled_from([
    {}, {}, {}, {'reply_to_message_id': 3}, {'edited': '2023-11-15T10:00:00', 'edited_unixtime': '1700042400'},
    {'forwarded_from': 'Some Channel', 'forwarded_from_id': 'channel77'}, {'saved_from': 'Notes'}, {'via_bot': '@gif'},
    {'photo': NOFILE, 'photo_file_size': 1234, 'width': 800, 'height': 600},
    {'file': NOFILE, 'file_name': 'a.webp', 'media_type': 'sticker', 'sticker_emoji': '😂', 'width': 512, 'height': 512},
    {'file': NOFILE, 'media_type': 'voice_message', 'mime_type': 'audio/ogg', 'duration_seconds': 3},
    {'file': 'video.mp4', 'media_type': 'video_file', 'media_spoiler': True},
    {'poll': {'question': [{'type': 'plain', 'text': 'why?'}], 'closed': False, 'total_voters': 2,
              'answers': [{'text': 'a', 'voters': 1, 'chosen': True}, {'text': 'b', 'voters': 1, 'chosen': False}]}},
    {'location_information': None}, {'location_information': {'latitude': 55.75, 'longitude': 37.61}, 'live_location_period_seconds': 900},
    {'contact_information': {'first_name': 'A', 'phone_number': '+7 900 000 0000'}, 'contact_vcard': NOFILE},
    {'reactions': [{'type': 'emoji', 'count': 2, 'emoji': '❤', 'recent': [{'from': 'A', 'from_id': 'user200', 'date': '2023-11-14T22:20:00'}]},
                   {'type': 'custom_emoji', 'count': 1, 'document_id': NOFILE}, {'type': 'paid', 'count': 5}]},
    {'inline_bot_buttons': [[{'type': 'url', 'text': 'open', 'data': 'https://example.org'}]]},
    {'todo_list': {'title': 'x', 'items': [{'text': 'y', 'id': 1}]}}, {'paid_stars_amount': 10},
])
SERVICE = [{'action': 'create_group', 'title': 'T', 'members': ['A', None]}, {'action': 'pin_message', 'message_id': 3},
           {'action': 'phone_call', 'duration_seconds': 61, 'discard_reason': 'hangup'}, {'action': 'invite_members', 'members': [None]},
           {'action': 'migrate_from_group', 'title': 'Old'}, {'action': 'join_group_by_link', 'inviter': 'A'},
           {'action': 'edit_group_title', 'title': '"messages": ['}, {'information_text': 'custom action'}, {'action': 'clear_history'}]

@st.composite
def messages(draw):
    "One message object as Telegram Desktop writes it, of a random format generation."
    gen, t = draw(st.integers(1, 3)), draw(st.integers(1_300_000_000, 1_800_000_000))
    m = {'id': 0, 'type': draw(st.sampled_from(['message'] * 8 + ['service', 'unsupported']))}
    if m['type'] == 'unsupported': return m
    m['date'] = f'2023-11-{draw(st.integers(10, 28))}T{draw(st.integers(0, 23)):02d}:00:00'
    if gen == 3: m['date_unixtime'] = str(t)
    uid, name = draw(people)
    sid = uid if gen == 1 else draw(st.sampled_from([f'user{uid}', f'user{uid}', f'channel{uid}']))
    if m['type'] == 'service':
        m.update(actor=name, actor_id=sid, **draw(st.sampled_from(SERVICE)))
    else:
        m.update({'from': name, 'from_id': sid})
        m.update(draw(extras))
    text = draw(st.one_of(texts, st.lists(st.one_of(texts, entities), max_size=4)))
    if isinstance(text, list) and draw(st.booleans()): text.append('')  # lists can end with ""
    m['text'] = text
    if gen == 3:
        parts = [text] if isinstance(text, str) else text
        m['text_entities'] = [p if isinstance(p, dict) else {'type': 'plain', 'text': p} for p in parts if p != '']
    return m

@st.composite
def chat_messages(draw):
    "Mostly a few messages; sometimes hundreds; sometimes 5,000–30,000 (a few drawn messages repeated, with new ids)."
    size = draw(st.sampled_from(['small'] * 12 + ['medium'] * 3 + ['big']))
    if size == 'small': msgs = draw(st.lists(messages(), max_size=8))
    else:
        base = draw(st.lists(messages(), min_size=1, max_size=6))
        n = draw(st.integers(5_000, 30_000) if size == 'big' else st.integers(50, 800))
        msgs = [dict(m) for m in itertools.islice(itertools.cycle(base), n)]
    first, sign = draw(st.integers(-2000, 10**6)), draw(st.sampled_from([1, 1, -1]))  # ids of migrated messages are negative
    for i, m in enumerate(msgs): m['id'] = sign * (first + i)
    return msgs

@st.composite
def chats(draw):
    type_ = draw(st.sampled_from(CHAT_TYPES))
    c = {}
    if type_ not in ('saved_messages', 'replies', 'verification_codes') or draw(st.booleans()):
        c['name'] = draw(st.one_of(texts, st.none()))
    c['type'] = type_
    c['id'] = draw(st.one_of(st.integers(-10**13, 10**13), st.integers(1, 10**10),
                             st.sampled_from(['chat12', '5'])))  # (a string id: no exporter writes one; still read right)
    c['messages'] = draw(chat_messages())
    if draw(st.integers(0, 30)) == 0: c = {'messages': c.pop('messages'), **c}  # another key order
    return c

HEAD = {'about': lambda d: 'Here is the data you requested. "messages": [',
        'personal_information': lambda d: {'user_id': OWNER, 'first_name': 'Никита', 'last_name': '"messages"',
                                           'phone_number': '+7 900 000 0000', 'username': '@n', 'bio': d(texts)},
        'profile_pictures': lambda d: [{'date': '2023-11-14T22:20:00', 'photo': NOFILE}],
        'stories': lambda d: [], 'contacts': lambda d: {'about': '', 'list': [{'first_name': d(texts), 'phone_number': '+1'}]},
        'frequent_contacts': lambda d: {'about': '', 'list': [{'id': 1, 'category': 'people', 'type': 'user', 'name': d(texts), 'rating': 0.5}]},
        'sessions': lambda d: {'about': '', 'list': []}, 'web_sessions': lambda d: {'about': '', 'list': []},
        'other_data': lambda d: {'about': d(texts), 'changes_log': [{'type': d(texts)}]}}

class Export(tuple):
    "`(document, dump style)`, shown in a failure report by its shape only (a 30,000-message repr helps nobody)."
    def __repr__(self):
        doc, style = self
        chats = [f"{sec}:{type_}:{len(msgs)}" for (_, sec, _, type_, _), msgs in ref_chats(doc)]
        return f"Export(style={style!r}, keys={list(doc)}, chats (section:type:messages)={chats})"

@st.composite
def exports(draw):
    "`(document, dump style)`: a whole-account export (head sections may be missing) or a one-chat export."
    if draw(st.integers(0, 3)) == 0: doc = draw(chats())
    else:
        doc = {k: make(draw) for k, make in HEAD.items() if draw(st.integers(0, 4))}
        sections = [s for s in ('chats', 'left_chats') if draw(st.integers(0, 5))] or ['chats']
        if draw(st.integers(0, 9)) == 0: sections.reverse()  # left_chats first
        for s in sections: doc[s] = {'about': 'chats "messages": [', 'list': draw(st.lists(chats(), max_size=5))}
    return Export((doc, draw(st.sampled_from(['telegram', 'telegram', 'compact', 'compact_ascii', 'spaced_ascii', 'bom']))))

def dump(doc, style, path):
    if style == 'telegram': s = json.dumps(doc, ensure_ascii=False, indent=1)
    elif style == 'compact': s = json.dumps(doc, ensure_ascii=False, separators=(',', ':'))
    elif style == 'compact_ascii': s = json.dumps(doc, separators=(',', ':'))  # \u escapes, surrogate pairs for emoji
    elif style == 'spaced_ascii': s = json.dumps(doc, indent='\t')
    else: s = '\ufeff' + json.dumps(doc, ensure_ascii=False, indent=1)  # a byte-order mark added by an editor
    path.write_text(s, encoding='utf-8')
    return path

def replicated_sample(times=30):
    "The bundled sample with its first chat's messages repeated `times` times (new ids): 8,100 messages in one chat."
    doc = load(SAMPLE)
    first = doc['chats']['list'][0]
    base, ids = first['messages'], itertools.count(10**9)
    first['messages'] = base + [{**m, 'id': next(ids)} for _ in range(times - 1) for m in base]
    return doc


@settings(max_examples=300, deadline=None, derandomize=True, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.function_scoped_fixture])
@given(exports())
def test_reader_matches_json_load(tmp_path, export):
    doc, style = export
    biggest = max((len(msgs) for _, msgs in ref_chats(doc)), default=0)
    event(f"largest chat: {'0' if not biggest else '1-999' if biggest < 1000 else '1,000-4,999' if biggest < 5000 else '5,000+'} messages")
    check(dump(doc, style, tmp_path/'result.json'), tmp_path)


def test_replicated_chat_is_counted_whole(tmp_path):
    "The issue's case: a chat bigger than the reader's look-ahead keeps all its messages (8,100, not 5,258 + 3,000)."
    doc = replicated_sample()
    p = dump(doc, 'telegram', tmp_path/'result.json')
    counts = [c['messages'] for c in inspect_export(p)['chats']]
    assert counts[:2] == [8100, 158]
    assert counts == [c['messages'] for c in ref_inspect(doc)['chats']]
    check(p, tmp_path)


@pytest.mark.parametrize('key', ['"messag\\u0065s"', '"\\u006D\\u0065ssages"'])
def test_escaped_messages_key(tmp_path, key):
    "A key may spell a letter as a \\u escape: no exporter does it, and the reader must still not lose the chat."
    doc = replicated_sample(2)
    s = json.dumps(doc, ensure_ascii=False, indent=1)
    at = [i for i in range(len(s)) if s.startswith('"messages"', i)]
    p = tmp_path/'result.json'
    p.write_text(s[:at[2]] + key + s[at[2] + 10:], encoding='utf-8')
    check(p, tmp_path, prepare_too=False)


def test_left_chats_and_skipped_chats_at_every_size(tmp_path):
    "Chats of sizes around the reader's piece and look-ahead sizes, alternating read and skipped types, in both sections."
    rnd, base = random.Random(0), [m for c in load(SAMPLE)['chats']['list'] for m in c['messages']][:200]
    ids = itertools.count(1)
    def chat(n, type_):
        return {'name': f'chat {n}', 'type': type_, 'id': n, 'messages': [{**rnd.choice(base), 'id': next(ids)} for _ in range(n)]}
    sizes = [0, 1, 700, 1500, 3000, 6000, 2, 12000, 0, 4000]
    doc = {'personal_information': {'user_id': OWNER},
           'chats': {'about': '', 'list': [chat(n, ['personal_chat', 'private_channel'][i % 2]) for i, n in enumerate(sizes)]},
           'left_chats': {'about': '', 'list': [chat(n, ['private_supergroup', 'personal_chat'][i % 2]) for i, n in enumerate(sizes[::-1])]}}
    check(dump(doc, 'telegram', tmp_path/'result.json'), tmp_path)


@pytest.mark.skipif(not REAL.is_dir(), reason='shared/telegram-exports is not here')
@pytest.mark.parametrize('name', sorted(p.name for p in REAL.glob('*.json')) if REAL.is_dir() else [])
def test_real_exports(tmp_path, name):
    check(REAL/name, tmp_path, prepare_too=False)  # (one-chat exports of other people: no owner to prepare for)


def test_c_stages_linked_and_equal():
    "With ijson's C backend the parser stages are linked in C (the fast path's speed), and build what `items_coro` builds."
    from llmclone_nb import reader as E
    if E._ijson is not E.ijson: assert E._C_LINKS, "this ijson's C stages cannot be linked directly: the fast path is 2.5x slower"
    data, outs = SAMPLE.read_bytes(), []
    for linked in ((True, False) if E._C_LINKS else (False,)):
        sink = []; p = E._push_items(sink, 'chats.list.item.messages.item', linked=linked)
        for i in range(0, len(data), 4096): p.send(data[i:i + 4096])
        p.close(); outs.append(sink)
    assert all(o == [m for c in load(SAMPLE)['chats']['list'] for m in c['messages']] for o in outs)
