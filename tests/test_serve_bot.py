"""Chapter 7's Telegram bot end to end: python-telegram-bot talks to a fake Bot API on loopback (written here), the
bot's model is the live tiny server. Every wait is bounded."""
import json, time, asyncio, threading, itertools, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
import pytest
pytest.importorskip('telegram'); pytest.importorskip('llama_cpp.server.app')
from serve_helpers import tiny_clone, live_server
from llmclone_nb.serve import BotConfig, BotState, CloneBot, telegram_app, polling, openai_complete, DISCLOSURE

TOKEN, OWNER, FRIEND, STRANGER, GROUP = '123456:TEST', 1001, 2002, 3003, -4004
ME = {'id': 999, 'is_bot': True, 'first_name': 'Clone', 'username': 'clone_bot'}
_JSON = {'chat_id', 'message_id', 'reply_markup', 'offset', 'timeout', 'limit', 'allowed_updates'}

class FakeBotAPI:
    "Enough of the Bot API for python-telegram-bot: updates we queue come out of getUpdates; every other call is recorded."
    def __init__(self):
        self.updates, self.calls, self.lock, self.ids, self.uids = [], [], threading.Lock(), itertools.count(1), itertools.count(1)
        self.revoked, self.polls = False, 0
        api = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                n = int(self.headers.get('Content-Length') or 0); raw = self.rfile.read(n).decode()
                if 'json' in (self.headers.get('Content-Type') or ''): p = json.loads(raw or '{}')
                else: p = {k: (json.loads(v[0]) if k in _JSON else v[0]) for k, v in urllib.parse.parse_qs(raw).items()}
                token, _, method = self.path.strip('/').rpartition('/')
                ok = token == 'bot'+TOKEN and not api.revoked                  # as Telegram: HTTP 401 for a token it does not know
                body = json.dumps({'ok': True, 'result': api.answer(method, p)} if ok
                                  else {'ok': False, 'error_code': 401, 'description': 'Unauthorized'}).encode()
                self.send_response(200 if ok else 401); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body))); self.end_headers()
                try: self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError): pass   # a long poll the stopping bot walked away from
        self.http = ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.url = f'http://127.0.0.1:{self.http.server_address[1]}/bot'
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def answer(self, method, p):
        if method == 'getMe': return ME
        if method == 'getUpdates':
            self.polls += 1
            with self.lock: self.updates = [u for u in self.updates if u['update_id'] >= int(p.get('offset') or 0)]   # confirmed
            end = time.monotonic() + min(float(p.get('timeout') or 0), 1.0)
            while True:
                with self.lock: out = [u for u in self.updates if u['update_id'] >= int(p.get('offset') or 0)]
                if out or time.monotonic() > end: return out
                time.sleep(0.02)
        with self.lock: self.calls.append((method, p))
        if method == 'sendMessage':
            return {'message_id': next(self.ids), 'date': int(time.time()), 'chat': {'id': p['chat_id'], 'type': 'private'},
                    'from': ME, 'text': p.get('text', '')}
        return True

    def push(self, update_id=None, **update):
        with self.lock: self.updates.append({'update_id': update_id or next(self.uids), **update})

    def sent(self, method='sendMessage', chat=None):
        with self.lock: return [p for m, p in self.calls if m == method and (chat is None or p.get('chat_id') == chat)]

    def close(self): self.http.shutdown(); self.http.server_close()

def msg(chat, user, text, chat_type='private', **kw):
    return {'message_id': int(time.time() * 1000) % 10**9, 'date': int(time.time()), 'text': text,
            'chat': {'id': chat, 'type': chat_type, **({'title': 'g'} if chat_type != 'private' else {})},
            'from': {'id': user, 'is_bot': False, 'first_name': f'u{user}'}, **kw}

async def until(cond, what, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if v := cond(): return v
        await asyncio.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')

@pytest.fixture(scope='module')
def model_url(tmp_path_factory):
    with live_server(tiny_clone(tmp_path_factory.mktemp('bot'))) as u: yield u + '/v1'

@pytest.fixture
def api():
    a = FakeBotAPI(); yield a; a.close()

def run(api, model_url, db, body, wrap=None, **cfg):
    "Run the bot (fresh objects on the SQLite file `db`, as a restart would) while `body(api)` runs; bounded."
    complete = openai_complete(model_url, temperature=0, max_tokens=8, timeout=60)
    core = CloneBot(BotConfig(owner=OWNER, **{'per_char': 0.01, **cfg}), BotState(db), wrap(complete) if wrap else complete)
    async def main():
        async with polling(telegram_app(TOKEN, core, base_url=api.url), poll_timeout=1): await asyncio.wait_for(body(api), 120)
    asyncio.run(main()); core.state.close()
    return core

def test_allowed_chat_gets_an_answer_a_stranger_nothing(api, model_url, tmp_path):
    async def body(api):
        api.push(message=msg(STRANGER, STRANGER, 'привет'))
        api.push(message=msg(FRIEND, FRIEND, 'привет! как дела?'))
        sent = await until(lambda: len(api.sent(chat=FRIEND)) >= 2 and api.sent(chat=FRIEND), 'the reply')
        assert sent[0]['text'] == DISCLOSURE and sent[1]['text'].strip()
        assert api.sent('sendChatAction', FRIEND) and api.sent('sendChatAction', FRIEND)[0]['action'] == 'typing'
        await asyncio.sleep(0.5)
        assert api.sent(chat=STRANGER) == [] and api.sent('sendChatAction', STRANGER) == []
    run(api, model_url, tmp_path/'s.sqlite', body, allow=(FRIEND,), mode='auto')

def test_draft_posts_only_after_send(api, model_url, tmp_path):
    async def body(api):
        api.push(message=msg(FRIEND, FRIEND, 'го в кино?'))
        d = (await until(lambda: api.sent(chat=OWNER), 'the draft'))[0]
        buttons = [b for row in d['reply_markup']['inline_keyboard'] for b in row]
        assert [b['text'] for b in buttons] == ['Send', 'Edit', 'Skip'] and 'го' not in d['text'].split('\n')[0]
        await asyncio.sleep(0.5)
        assert api.sent(chat=FRIEND) == []                                   # nothing posted yet
        suggestion = d['text'].split('\n\n', 1)[1]
        cb = lambda user: {'id': f'cb{user}', 'from': {'id': user, 'is_bot': False, 'first_name': 'x'}, 'chat_instance': '1',
                           'data': buttons[0]['callback_data']}
        api.push(callback_query=cb(FRIEND))                                 # not the owner: ignored
        await asyncio.sleep(0.5); assert api.sent(chat=FRIEND) == []
        api.push(callback_query=cb(OWNER))
        posted = await until(lambda: api.sent(chat=FRIEND), 'the approved reply')
        assert [p['text'] for p in posted] == [l.strip() for l in suggestion.splitlines() if l.strip()]
    run(api, model_url, tmp_path/'s.sqlite', body, allow=(FRIEND,), mode='draft')

def test_planted_phone_is_held_back(api, model_url, tmp_path):
    "The endpoint's reply gets a phone number appended: it must reach the owner as a draft, never the chat."
    def wrap(complete):
        async def leaky(messages): return (await complete(messages)) + ' звони +7 912 345-67-89'
        return leaky
    async def body(api):
        api.push(message=msg(FRIEND, FRIEND, 'какой у тебя номер?'))
        d = (await until(lambda: api.sent(chat=OWNER), 'the held draft'))[0]
        assert 'private data (phone)' in d['text'] and '912 345-67-89' in d['text']
        await asyncio.sleep(0.5)
        assert api.sent(chat=FRIEND) == []
    run(api, model_url, tmp_path/'s.sqlite', body, wrap=wrap, allow=(FRIEND,), mode='auto')

def test_rate_limit_and_pause(api, model_url, tmp_path):
    async def body(api):
        for i in range(3): api.push(message=msg(FRIEND, FRIEND, f'сообщение {i}'))
        await until(lambda: len(api.sent(chat=FRIEND)) >= 2, 'two replies')
        await asyncio.sleep(1.0)
        assert len(api.sent(chat=FRIEND)) == 2                                # per_chat=2: the third waits
        api.push(message=msg(OWNER, OWNER, '/pause'))
        await until(lambda: any('Paused' in p['text'] for p in api.sent(chat=OWNER)), '/pause confirmed')
        api.push(message=msg(GROUP, FRIEND, '@clone_bot ты тут?', 'group'))
        await asyncio.sleep(1.0)
        assert api.sent(chat=GROUP) == []                                     # paused
    run(api, model_url, tmp_path/'s.sqlite', body, allow=(FRIEND, GROUP), mode='auto', per_chat=2, disclosure='')

def test_group_answers_only_when_mentioned(api, model_url, tmp_path):
    async def body(api):
        api.push(message=msg(GROUP, FRIEND, 'кто идет в кино?', 'supergroup'))
        await asyncio.sleep(1.5)
        assert api.sent(chat=GROUP) == []
        api.push(message=msg(GROUP, STRANGER, '@clone_bot а ты?', 'supergroup'))
        await until(lambda: api.sent(chat=GROUP), 'the answer to the mention')
    core = run(api, model_url, tmp_path/'s.sqlite', body, allow=(GROUP,), mode='auto', disclosure='')
    labels = [r[2] for r in BotState(tmp_path/'s.sqlite').history(GROUP)]
    assert labels[:2] == ['Person 1', 'Person 2']                            # both remembered, under neutral labels

def test_business_message_goes_to_draft_then_out_as_the_owner(api, model_url, tmp_path):
    conn = lambda user: {'id': f'bc{user}', 'user': {'id': user, 'is_bot': False, 'first_name': 'o'}, 'user_chat_id': user,
                         'date': int(time.time()), 'is_enabled': True, 'rights': {'can_reply': True}}
    async def body(api):
        api.push(business_connection=conn(STRANGER))                          # someone else's account: refused
        api.push(business_message=msg(FRIEND, FRIEND, 'привет', business_connection_id=f'bc{STRANGER}'))
        await asyncio.sleep(1.0); assert api.sent() == []
        api.push(business_connection=conn(OWNER))
        api.push(business_message=msg(FRIEND, FRIEND, 'привет! как дела?', business_connection_id=f'bc{OWNER}'))
        d = (await until(lambda: api.sent(chat=OWNER), 'the business draft'))[0]
        send = d['reply_markup']['inline_keyboard'][0][0]['callback_data']
        api.push(callback_query={'id': 'c', 'from': {'id': OWNER, 'is_bot': False, 'first_name': 'o'}, 'chat_instance': '1', 'data': send})
        out = await until(lambda: api.sent(chat=FRIEND), 'the reply in the owner\'s chat')
        assert all(p.get('business_connection_id') == f'bc{OWNER}' for p in out)
    run(api, model_url, tmp_path/'s.sqlite', body)                            # FRIEND is not allowlisted: the connection is the consent

def test_state_survives_a_restart(api, model_url, tmp_path):
    db = tmp_path/'s.sqlite'
    async def first(api):
        api.push(message=msg(OWNER, OWNER, f'/allow {FRIEND}'))
        api.push(message=msg(OWNER, OWNER, f'/mode {FRIEND} auto'))
        await until(lambda: len(api.sent(chat=OWNER)) >= 2, 'both commands confirmed')
        api.push(message=msg(FRIEND, FRIEND, 'привет! как дела?'))
        await until(lambda: len(api.sent(chat=FRIEND)) >= 2, 'the first auto reply')
    run(api, model_url, db, first)
    n = len(api.sent(chat=FRIEND))
    async def second(api):                                                    # a new process: nothing passed in but the file
        api.push(message=msg(FRIEND, FRIEND, 'ну что?'))
        out = await until(lambda: api.sent(chat=FRIEND)[n:], 'a reply after the restart')
        assert DISCLOSURE not in [p['text'] for p in out]                     # told once, remembered
    run(api, model_url, db, second)
    assert [r[1] for r in BotState(db).history(FRIEND)][:2] == ['user', 'assistant']

def test_edit_posts_the_owners_text_and_skip_posts_nothing(api, model_url, tmp_path):
    async def body(api):
        press = lambda data: api.push(callback_query={'id': data, 'from': {'id': OWNER, 'is_bot': False, 'first_name': 'o'},
                                                     'chat_instance': '1', 'data': data})
        api.push(message=msg(FRIEND, FRIEND, 'го в кино?'))
        d = (await until(lambda: api.sent(chat=OWNER), 'the first draft'))[0]
        press(d['reply_markup']['inline_keyboard'][0][1]['callback_data'])          # Edit
        await until(lambda: len(api.sent(chat=OWNER)) >= 2, 'the request for the text')
        api.push(message=msg(OWNER, OWNER, 'не могу сегодня\nзавтра?'))
        out = await until(lambda: len(api.sent(chat=FRIEND)) >= 2 and api.sent(chat=FRIEND), "the owner's text")
        assert [p['text'] for p in out] == ['не могу сегодня', 'завтра?']
        api.push(message=msg(FRIEND, FRIEND, 'ок, завтра'))
        d2 = (await until(lambda: len(api.sent(chat=OWNER)) >= 3 and api.sent(chat=OWNER), 'the second draft'))[2]
        press(d2['reply_markup']['inline_keyboard'][0][2]['callback_data'])         # Skip
        await asyncio.sleep(1.0)
        assert len(api.sent(chat=FRIEND)) == 2
    run(api, model_url, tmp_path/'s.sqlite', body, allow=(FRIEND,), mode='draft')
    assert 'завтра?' in [r[3] for r in BotState(tmp_path/'s.sqlite').history(FRIEND)][1]   # remembered as the owner's turn

def test_endpoint_errors_are_logged_never_sent(api, model_url, tmp_path, caplog):
    def wrap(complete):
        async def broken(messages): raise RuntimeError('connection refused: http://model')
        return broken
    async def body(api):
        api.push(message=msg(FRIEND, FRIEND, 'привет'))
        await until(lambda: 'failed' in caplog.text, 'the error in the log')
        await asyncio.sleep(0.3)
        assert api.sent() == []                                                   # nothing in any chat, the owner's included
    with caplog.at_level('ERROR', logger='llmclone_nb.serve'):
        run(api, model_url, tmp_path/'s.sqlite', body, wrap=wrap, allow=(FRIEND,), mode='auto')
    assert 'connection refused' in caplog.text

def test_no_message_text_in_the_log_unless_asked(tmp_path, caplog):
    for log_texts in (False, True):
        caplog.clear()
        core = CloneBot(BotConfig(owner=OWNER, allow=(FRIEND,), mode='auto', log=log_texts), BotState(tmp_path/f'{log_texts}.sqlite'))
        with caplog.at_level('DEBUG', logger='llmclone_nb.serve'):
            core.route(FRIEND, core.admit(FRIEND, FRIEND, 'секретный вопрос'), 'секретный ответ')
            core.route(FRIEND, 'auto', 'звони +7 912 345-67-89')
        assert ('секретн' in caplog.text) == log_texts and ('912' in caplog.text) == False
        assert 'private data (phone)' in caplog.text                             # the decision is logged, the text is not

def test_writes_survive_a_kill(tmp_path):
    "A process that dies without closing the database (os._exit) loses nothing it had written."
    import subprocess, sys
    code = ("import os; from llmclone_nb.serve import BotState; s = BotState(%r); s.update_chat(%d, allowed=1, mode='auto'); "
            "s.remember(%d, 'user', 'привет'); s.set('paused', 1); os._exit(9)") % (str(tmp_path/'s.sqlite'), FRIEND, FRIEND)
    assert subprocess.run([sys.executable, '-c', code], timeout=60).returncode == 9
    s = BotState(tmp_path/'s.sqlite')
    assert s.chat(FRIEND) == {'allowed': 1, 'mode': 'auto', 'disclosed': 0} and s.get('paused') == '1'
    assert [r[3] for r in s.history(FRIEND)] == ['привет']

# --- a stranger can neither crash nor steer the bot; the owner's word comes first; no loops are sent -----------------

BIZ = f'bc{OWNER}'

def conn(user, enabled=True, can_reply=True):
    return {'id': f'bc{user}', 'user': {'id': user, 'is_bot': False, 'first_name': 'o'}, 'user_chat_id': user,
            'date': int(time.time()), 'is_enabled': enabled, 'rights': {'can_reply': can_reply}}

def press(api, data, user=OWNER):
    api.push(callback_query={'id': data, 'from': {'id': user, 'is_bot': False, 'first_name': 'o'}, 'chat_instance': '1', 'data': data})

def slow(seconds, done=None, text='ну ок)'):
    "A model that takes `seconds` to say `text` (the tiny random model's words may trip the output filter); `done` gets a mark then."
    def wrap(complete):
        async def later(messages):
            await asyncio.sleep(seconds)
            if done is not None: done.append(text)
            return text
        return later
    return wrap

def test_owner_who_answered_first_is_not_answered_again(api, model_url, tmp_path):
    """Auto mode in the owner's Business chat: the owner answers while the clone is still writing, so the clone's reply is
    not sent; a message the owner leaves alone is answered. Planted defect: updates handled one at a time or no check before
    sending (the reply was posted 0.3 s after the owner's own)."""
    async def body(api):
        api.push(business_connection=conn(OWNER)); await asyncio.sleep(0.5)
        api.push(message=msg(OWNER, OWNER, f'/mode {FRIEND} auto'))
        await until(lambda: api.sent(chat=OWNER), 'the mode confirmed')
        api.push(business_message=msg(FRIEND, FRIEND, 'ты дома?', business_connection_id=BIZ))
        await until(lambda: api.sent('sendChatAction', FRIEND), 'the clone starts writing')
        api.push(business_message=msg(FRIEND, OWNER, 'да, дома', business_connection_id=BIZ))   # the owner, in his own chat
        await asyncio.sleep(4.0)                                                # the model takes 2 s
        assert api.sent(chat=FRIEND) == []
        api.push(business_message=msg(FRIEND, FRIEND, 'ок, зайду', business_connection_id=BIZ))
        out = await until(lambda: api.sent(chat=FRIEND), 'the reply to a message the owner left alone')
        assert all(p.get('business_connection_id') == BIZ for p in out)
    run(api, model_url, tmp_path/'s.sqlite', body, wrap=slow(2), disclosure='')

def test_draft_goes_stale_when_the_owner_answers(api, model_url, tmp_path):
    "Planted defect: drafts stay 'pending' after the owner wrote in the chat, so Send posts a reply to a settled question."
    async def body(api):
        api.push(business_connection=conn(OWNER)); await asyncio.sleep(0.5)
        api.push(business_message=msg(FRIEND, FRIEND, 'го в кино?', business_connection_id=BIZ))
        d = (await until(lambda: api.sent(chat=OWNER), 'the draft'))[0]
        api.push(business_message=msg(FRIEND, OWNER, 'не, занят', business_connection_id=BIZ)); await asyncio.sleep(0.5)
        press(api, d['reply_markup']['inline_keyboard'][0][0]['callback_data'])
        await until(lambda: [p for p in api.sent(chat=OWNER) if 'stale' in p['text']], 'the note that the draft is stale')
        await asyncio.sleep(0.5)
        assert api.sent(chat=FRIEND) == []
    run(api, model_url, tmp_path/'s.sqlite', body)

def test_pause_is_handled_before_a_queued_reply(api, model_url, tmp_path):
    """/pause is confirmed while a reply is still being written, and that reply is then not sent.
    Planted defect: updates one at a time (/pause waited 14-19 s behind the replies, which went out)."""
    done = []
    async def body(api):
        api.push(message=msg(FRIEND, FRIEND, 'привет'))
        await until(lambda: api.sent('sendChatAction', FRIEND), 'the clone starts writing')
        api.push(message=msg(OWNER, OWNER, '/pause'))
        await until(lambda: any('Paused' in p['text'] for p in api.sent(chat=OWNER)), '/pause confirmed')
        assert done == [], 'the pause waited for the reply'
        await until(lambda: done, 'the model finishing'); await asyncio.sleep(1.0)
        assert api.sent(chat=FRIEND) == []
    run(api, model_url, tmp_path/'s.sqlite', body, wrap=slow(5, done), allow=(FRIEND,), mode='auto', disclosure='')

def test_a_redelivered_update_is_not_answered_twice(api, model_url, tmp_path):
    "Telegram delivers an update again after a restart: one answer. Planted defect: no record of handled update ids."
    db, u = tmp_path/'s.sqlite', msg(FRIEND, FRIEND, 'привет')
    async def first(api):
        api.push(update_id=500, message=u)
        await until(lambda: api.sent(chat=FRIEND), 'the reply')
    run(api, model_url, db, first, allow=(FRIEND,), mode='auto', disclosure='', per_char=0)
    with api.lock: api.updates.clear()
    async def second(api):
        api.push(update_id=500, message=u)                                   # the same update, again
        api.push(update_id=501, message=msg(FRIEND, FRIEND, 'ну?'))
        await until(lambda: len(api.sent('sendChatAction', FRIEND)) >= 2, 'the answer to the new message')
        await asyncio.sleep(1.5)
    run(api, model_url, db, second, allow=(FRIEND,), mode='auto', disclosure='', per_char=0)
    assert len(api.sent('sendChatAction', FRIEND)) == 2                      # one per message answered: 500 once, 501 once

def test_business_connection_without_the_right_to_reply(api, model_url, tmp_path):
    """A connection whose rights say it may not reply is not used, and taking the right away stops a draft's Send.
    Planted defect: `can_reply` ignored (the bot answered, or Send posted, through a connection that may not reply)."""
    async def body(api):
        api.push(business_connection=conn(OWNER, can_reply=False)); await asyncio.sleep(0.5)
        api.push(business_message=msg(FRIEND, FRIEND, 'привет', business_connection_id=BIZ))
        await asyncio.sleep(1.5); assert api.sent() == []
        api.push(business_connection=conn(OWNER)); await asyncio.sleep(0.5)
        api.push(business_message=msg(FRIEND, FRIEND, 'привет?', business_connection_id=BIZ))
        d = (await until(lambda: api.sent(chat=OWNER), 'the draft'))[0]
        api.push(business_connection=conn(OWNER, can_reply=False)); await asyncio.sleep(0.5)
        press(api, d['reply_markup']['inline_keyboard'][0][0]['callback_data'])
        await asyncio.sleep(1.5)
        assert api.sent(chat=FRIEND) == []
    run(api, model_url, tmp_path/'s.sqlite', body)

class FakeModel:
    "An OpenAI-compatible chat endpoint that always says `content`, ending with `finish_reason`."
    def __init__(self, content, finish_reason, delay=0.0):
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length') or 0)); time.sleep(delay)
                body = json.dumps({'id': 'x', 'object': 'chat.completion', 'created': 0, 'model': 'clone',
                                   'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': content}, 'finish_reason': finish_reason}],
                                   'usage': {'prompt_tokens': 1, 'completion_tokens': 1, 'total_tokens': 2}}).encode()
                self.send_response(200); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
        self.http = ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.url = f'http://127.0.0.1:{self.http.server_address[1]}/v1'
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
    def close(self): self.http.shutdown(); self.http.server_close()

@pytest.mark.parametrize('content,finish,want', [
    ('да)\n' * 12 + 'почему)\n' * 7 + 'по', 'length', ['да)', 'почему)']),            # issue 26's loop, cut at the budget
    ('\n'.join(f'сообщение {i}' for i in range(10)), 'stop', ['сообщение 0', 'сообщение 1', 'сообщение 2']),
    ('ок\nщас буду', 'stop', ['ок', 'щас буду']),
    ('слово ' * 200, 'length', [('слово ' * 200)[:400].rsplit(' ', 1)[0]])])
def test_the_bot_never_sends_a_loop(api, tmp_path, content, finish, want):
    """A looping or endless model reply, through the fake Bot API: exactly these messages reach the chat — repeated lines
    once, at most `max_messages` (3) and `reply_chars` (400), a cut reply without its unfinished last line.
    Planted defect: one message per line as before (19 messages for the loop)."""
    model = FakeModel(content, finish)
    try:
        core = CloneBot(BotConfig(owner=OWNER, allow=(FRIEND,), mode='auto', disclosure='', per_char=0), BotState(tmp_path/'s.sqlite'),
                        openai_complete(model.url, max_tokens=64, timeout=30))
        async def main():
            async with polling(telegram_app(TOKEN, core, base_url=api.url), poll_timeout=1):
                api.push(message=msg(FRIEND, FRIEND, 'почему?'))
                await until(lambda: api.sent(chat=FRIEND), 'the reply'); await asyncio.sleep(1.0)
        asyncio.run(main()); core.state.close()
    finally: model.close()
    assert [p['text'] for p in api.sent(chat=FRIEND)] == want

def _bot_process(api, token, tmp_path, model='http://127.0.0.1:9/v1', *args):
    import os, sys, subprocess
    from pathlib import Path
    env = {**os.environ, 'TELEGRAM_BOT_TOKEN': token}
    return subprocess.Popen([str(Path(sys.executable).parent/'llmclone'), 'serve', 'telegram', '--base-url', model,
                             '--owner', str(OWNER), '--telegram-api', api.url, '--state', str(tmp_path/'s.sqlite'), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

def test_a_refused_or_revoked_token_ends_the_bot_without_showing_it(api, tmp_path):
    """A token Telegram refuses at the start, or revokes later, ends `llmclone serve telegram` with exit code 2 and a
    sentence that does not contain the token. Planted defects: the traceback with the token in it (start); a process that
    stays alive doing nothing (revoked)."""
    import subprocess
    wrong = '123456:WRONG-SECRET'
    p = _bot_process(api, wrong, tmp_path)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 2 and 'WRONG-SECRET' not in out and 'token' in out and 'Traceback' not in out, out[-2000:]
    p = _bot_process(api, TOKEN, tmp_path)
    try:
        end = time.monotonic() + 120
        while api.polls < 2:
            assert p.poll() is None and time.monotonic() < end, p.stdout.read()[-2000:] if p.poll() is not None else 'no polling'
            time.sleep(0.1)
        api.revoked = True
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill(); out = p.communicate()[0]; raise AssertionError('still running after the token was revoked: ' + out[-2000:])
    assert p.returncode == 2 and TOKEN.split(':')[1] not in out and 'revoked' in out, out[-2000:]

def test_one_press_posts_a_draft_once_even_from_two_processes(tmp_path):
    """Two bots on one database (a restart overlapping the old process) both see the owner's Send: one posts.
    Planted defect: reading 'pending' and closing the draft in two steps (both posted)."""
    db = tmp_path/'s.sqlite'
    a, b = (CloneBot(BotConfig(owner=OWNER, allow=(FRIEND,), per_char=0), BotState(db)) for _ in range(2))
    d = a.route(FRIEND, a.admit(FRIEND, FRIEND, 'го?'), 'го)')[0]
    seen = b.state.draft(1); assert seen['status'] == 'pending'
    b.state.draft = lambda n: dict(seen)                                     # b read the draft before a closed it
    posted = a.callback(OWNER, d.buttons[0][1]) + b.callback(OWNER, d.buttons[0][1])
    assert [(s.chat_id, s.text) for s in posted] == [(FRIEND, 'го)')]

def test_status_in_a_group_goes_to_the_owner_only(tmp_path):
    "Planted defect: /status answered where it was asked (every allowed chat id posted into the group)."
    bot = CloneBot(BotConfig(owner=OWNER, allow=(FRIEND, GROUP)), BotState(tmp_path/'s.sqlite'))
    says = bot.command(OWNER, GROUP, '/status')
    assert says and all(s.chat_id == OWNER for s in says) and str(FRIEND) in says[0].text

def test_an_update_taken_by_a_killed_bot_is_answered_after_the_restart(api, tmp_path):
    """`kill -9` while the model writes: Telegram counts the update as delivered (the next poll acknowledged it), so only
    the bot's own record can bring it back; the restarted bot answers it. Planted defect: recording an update only as
    'seen' (it was lost for good)."""
    model = FakeModel('ну ок)', 'stop', delay=4.0)
    args = ('--allow', str(FRIEND), '--mode', 'auto')
    p = _bot_process(api, TOKEN, tmp_path, model.url, *args)
    try:
        api.push(message=msg(FRIEND, FRIEND, 'ты тут?'))
        end = time.monotonic() + 120
        while not api.sent('sendChatAction', FRIEND):                        # the model is writing
            assert p.poll() is None and time.monotonic() < end, 'no typing'
            time.sleep(0.05)
        while api.updates:                                                    # acknowledged by the next poll: not delivered again
            assert time.monotonic() < end, 'the update was never acknowledged'; time.sleep(0.05)
        p.kill(); p.wait(30)
        assert api.sent(chat=FRIEND) == []
        p = _bot_process(api, TOKEN, tmp_path, model.url, *args)
        while 'ну ок)' not in [x['text'] for x in api.sent(chat=FRIEND)]:
            assert p.poll() is None and time.monotonic() < end + 60, 'not answered after the restart'
            time.sleep(0.1)
    finally:
        p.kill(); p.communicate(timeout=30); model.close()
