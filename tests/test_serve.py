"""Chapter 7's server, live on a free loopback port with a tiny clone GGUF, called with OpenAI's own client:
the model list, plain and streamed replies, `stop`, the API key, two streams at once, and the prompt the model received."""
import threading, urllib.request, urllib.error
import pytest
pytest.importorskip('llama_cpp.server.app'); pytest.importorskip('openai')
from openai import OpenAI, AuthenticationError
from serve_helpers import SYS, KEY, tiny_clone, live_server
from llmclone_nb.serve import CLONE
from llmclone_nb.prompt import GGUFTokenizer, sample

HIST = [{'role': 'user', 'content': 'привет! как дела?'}, {'role': 'assistant', 'content': 'норм)'},
        {'role': 'user', 'content': 'го вечером в кино?'}]

@pytest.fixture(scope='module')
def url(tmp_path_factory):
    with live_server(tiny_clone(tmp_path_factory.mktemp('serve')), api_key=KEY) as u: yield u

@pytest.fixture
def client(url): return OpenAI(base_url=url+'/v1', api_key=KEY, timeout=60, max_retries=0)

def _chat(client, msgs=HIST, **kw):
    return client.chat.completions.create(model=CLONE, messages=msgs, max_tokens=kw.pop('max_tokens', 16), temperature=0, **kw)

def _stream(client, msgs=HIST, **kw):
    out, finish = [], None
    for c in client.chat.completions.create(model=CLONE, messages=msgs, max_tokens=kw.pop('max_tokens', 16), temperature=0, stream=True, **kw):
        if c.choices:
            out.append(c.choices[0].delta.content or '')
            finish = c.choices[0].finish_reason or finish
    return out, finish

def test_models_list_clone(client):
    assert [m.id for m in client.models.list()] == [CLONE]

def test_reply_and_stream(client):
    r = _chat(client)
    text = r.choices[0].message.content
    assert text.strip() and r.choices[0].finish_reason == 'length' and r.usage.completion_tokens == 16
    pieces, finish = _stream(client)
    assert sum(bool(p) for p in pieces) > 3, pieces          # streamed in pieces, not one block
    assert ''.join(pieces) == text and finish == 'length'     # greedy: the stream says the same

def test_stop(client):
    text = _chat(client).choices[0].message.content
    stop = text.strip()[4:7]
    assert stop and len(text) > 10
    got = _chat(client, stop=[stop]).choices[0]
    assert got.message.content == text[:text.index(stop)] and got.finish_reason == 'stop'

def test_key_required(url):
    with pytest.raises(AuthenticationError): OpenAI(base_url=url+'/v1', api_key='wrong', max_retries=0).models.list()
    with pytest.raises(urllib.error.HTTPError) as e: urllib.request.urlopen(url+'/v1/models', timeout=10)
    assert e.value.code == 401

def test_two_streams_at_once_both_finish(client):
    "The second request waits for the first instead of cutting its stream short (interrupt_requests=False)."
    want = _chat(client, max_tokens=48).choices[0].message.content
    res, started = {}, threading.Event()
    def run(name):
        out, finish = [], None
        for c in client.chat.completions.create(model=CLONE, messages=HIST, max_tokens=48, temperature=0, stream=True):
            if c.choices: out.append(c.choices[0].delta.content or ''); finish = c.choices[0].finish_reason or finish
            started.set()
        res[name] = (''.join(out), finish)
    a = threading.Thread(target=run, args=('a',)); a.start()
    assert started.wait(60)
    b = threading.Thread(target=run, args=('b',)); b.start()
    a.join(120); b.join(120)
    assert res == {'a': (want, 'length'), 'b': (want, 'length')}

def test_prompt_is_the_training_prefix(client):
    "What the model received for a history equals the unlabelled start of the training sample for it, system prompt included."
    from llama_cpp.server import app as srv
    llm = srv._llama_proxy(CLONE)
    seen, real = [], llm.create_completion
    llm.create_completion = lambda prompt, **kw: (seen.append(list(prompt)), real(prompt, **kw))[1]
    try:
        _chat(client, max_tokens=2)
        _chat(client, [{'role': 'system', 'content': 'другой'}] + HIST, max_tokens=2)
    finally: llm.create_completion = real
    tok = GGUFTokenizer(llm)
    def prefix(system):
        ids, labels = sample(tok, [{'role': 'system', 'content': system}] + HIST + [{'role': 'assistant', 'content': 'го)'}])
        return ids[:next(i for i, l in enumerate(labels) if l != -100)]
    assert seen == [prefix(SYS), prefix('другой')]
    assert SYS in llm.detokenize(seen[0]).decode(errors='replace')

def test_cli_serve_api_binds_loopback_and_needs_the_key(tmp_path):
    "`llmclone serve api` as a user runs it: a real process, on 127.0.0.1 by default, 401 without the key; stopped by SIGINT."
    import socket, subprocess, sys, time, json, signal
    from pathlib import Path
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    gguf = tiny_clone(tmp_path)
    p = subprocess.Popen([str(Path(sys.executable).parent/'llmclone'), 'serve', 'api', str(gguf), '--port', str(port), '--api-key', KEY],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        req = urllib.request.Request(f'http://127.0.0.1:{port}/v1/models', headers={'Authorization': f'Bearer {KEY}'})
        end = time.monotonic() + 90
        while True:
            try: models = json.load(urllib.request.urlopen(req, timeout=5)); break
            except (urllib.error.URLError, ConnectionError):
                assert p.poll() is None and time.monotonic() < end, p.stderr.read() if p.poll() is not None else 'no server after 90 s'
                time.sleep(0.2)
        assert [m['id'] for m in models['data']] == [CLONE]
        with pytest.raises(urllib.error.HTTPError) as e: urllib.request.urlopen(f'http://127.0.0.1:{port}/v1/models', timeout=5)
        assert e.value.code == 401
        listening = [c for c in __import__('psutil').Process(p.pid).net_connections() if c.status == 'LISTEN']
        assert listening and all(c.laddr.ip == '127.0.0.1' for c in listening), listening
    finally:
        p.send_signal(signal.SIGINT)
        try: out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired: p.kill(); out, err = p.communicate()
    assert f"http://127.0.0.1:{port}/v1" in out and 'Traceback' not in err, err[-2000:]

def test_a_dropped_stream_does_not_disturb_the_next_reply(url, client):
    "A client that goes away mid-stream: its read-ahead stops, and the next replies are what they would have been."
    import httpx
    want = _chat(client, max_tokens=48).choices[0].message.content
    with httpx.stream('POST', url+'/v1/chat/completions', headers={'Authorization': f'Bearer {KEY}'}, timeout=60,
                      json=dict(model=CLONE, messages=HIST[:1], max_tokens=200, temperature=0, stream=True)) as r:
        for i, line in enumerate(r.iter_lines()):
            if i > 6: break       # leave after a few chunks, the stream still running
    assert _chat(client, max_tokens=48).choices[0].message.content == want
    pieces, finish = _stream(client, max_tokens=48)
    assert ''.join(pieces) == want and finish == 'length'

def test_read_ahead_never_decodes_for_a_superseded_reply():
    "The read-ahead thread of an abandoned reply stops before the next reply's first decode, and decodes never overlap."
    import time
    from llmclone_nb.serve import read_ahead, _owner
    class Model: pass
    m = Model(); lock, own = _owner(m); log, busy = [], []
    def decode(name, n):
        for i in range(n):
            busy.append(1); assert len(busy) == 1, 'two decodes at once'
            time.sleep(0.005); log.append((name, i)); busy.pop()
            yield i
    def start(name, n, depth=2):
        with lock: own['current'] += 1; me = own['current']   # what `clone_chat_handler` does first
        return read_ahead(m, decode(name, n), me, depth=depth)
    a = start('a', 10_000)
    assert [next(a) for _ in range(3)] == [0, 1, 2]            # the client reads three chunks, then goes quiet
    b = start('b', 20)                                          # the next request arrives
    assert list(b) == list(range(20))
    first_b = log.index(('b', 0))
    assert all(who == 'b' for who, _ in log[first_b:]), log[first_b-3:first_b+3]
    c = start('c', 10_000); next(c); c.close()                 # the reader goes away: decoding stops too
    time.sleep(0.3); n = len(log); time.sleep(0.3)
    assert len(log) == n
    def broken():
        yield 1; raise RuntimeError('model failed')
    with lock: own['current'] += 1; me = own['current']
    d = read_ahead(m, broken(), me)
    assert next(d) == 1
    with pytest.raises(RuntimeError, match='model failed'): next(d)
