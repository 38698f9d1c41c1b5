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
        api = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                n = int(self.headers.get('Content-Length') or 0); raw = self.rfile.read(n).decode()
                if 'json' in (self.headers.get('Content-Type') or ''): p = json.loads(raw or '{}')
                else: p = {k: (json.loads(v[0]) if k in _JSON else v[0]) for k, v in urllib.parse.parse_qs(raw).items()}
                token, _, method = self.path.strip('/').rpartition('/')
                body = json.dumps({'ok': True, 'result': api.answer(method, p)} if token == 'bot'+TOKEN
                                  else {'ok': False, 'error_code': 401, 'description': 'Unauthorized'}).encode()
                self.send_response(200); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body))); self.end_headers()
                try: self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError): pass   # a long poll the stopping bot walked away from
        self.http = ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.url = f'http://127.0.0.1:{self.http.server_address[1]}/bot'
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def answer(self, method, p):
        if method == 'getMe': return ME
        if method == 'getUpdates':
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

    def push(self, **update):
        with self.lock: self.updates.append({'update_id': next(self.uids), **update})

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
                         'date': int(time.time()), 'is_enabled': True}
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
