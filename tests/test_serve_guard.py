"""Chapter 7's server against a stranger: requests that reached llama.cpp's native code (a `grammar` crashed the
process), bodies too big or malformed, prompts over the context, other web origins, other Host names, open docs,
a server on the LAN without a key. The crash tests run `llmclone serve api` in a process of its own, so a crash
fails the test instead of killing pytest."""
import os, sys, json, time, signal, socket, subprocess, http.client
from pathlib import Path
import pytest
pytest.importorskip('llama_cpp.server.app')
from serve_helpers import KEY, tiny_clone, live_server
from llmclone_nb.serve import CLONE, MAX_BODY, API_KEY_ENV, ServeError, api_key_from, serve_api, clone_app, serving, request_problem

HI = [{'role': 'user', 'content': 'привет! как дела?'}]

def call(port, method, path, body=None, headers=None, raw=None, key=KEY, timeout=120):
    "One HTTP request; returns (status, headers, body bytes)."
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    h = {'Content-Type': 'application/json', **({'Authorization': f'Bearer {key}'} if key else {}), **(headers or {})}
    c.request(method, path, body=raw if raw is not None else (json.dumps(body) if body is not None else None), headers=h)
    r = c.getresponse(); out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()); c.close()
    return out

def no_internals(body:bytes):
    "An error body a stranger may see: none of the server's files, no traceback."
    for bad in (b'site-packages', b'.py', b'Traceback', b'/home', b'/work', b'/usr'): assert bad not in body, body[:500]

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "`llmclone serve api` on a free loopback port, the key read from a file (nothing secret on its command line)."
    d = tmp_path_factory.mktemp('guard'); gguf = tiny_clone(d)
    (d/'key').write_text(KEY+'\n')
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    err = open(d/'stderr', 'w+')
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    p = subprocess.Popen([str(Path(sys.executable).parent/'llmclone'), 'serve', 'api', str(gguf), '--port', str(port), '--api-key-file', str(d/'key')],
                         stdout=subprocess.DEVNULL, stderr=err, env=env)
    end = time.monotonic() + 120
    while True:
        try:
            if call(port, 'GET', '/v1/models', timeout=5)[0] == 200: break
        except OSError: pass
        assert p.poll() is None and time.monotonic() < end, (err.seek(0), err.read()[-3000:])[1]
        time.sleep(0.2)
    assert KEY not in ' '.join(p.args)
    yield port, p
    p.send_signal(signal.SIGINT)
    try: p.wait(30)
    except subprocess.TimeoutExpired: p.kill(); p.wait()

def alive(server):
    "The process is still there and a normal request still gets a reply."
    port, p = server
    assert p.poll() is None, f'the server died (exit {p.returncode})'
    st, _, body = call(port, 'POST', '/v1/chat/completions', dict(model=CLONE, messages=HI, max_tokens=4, temperature=0))
    assert st == 200 and json.loads(body)['choices'][0]['message']['content'], body[:300]

CRASH = [('/v1/chat/completions', {'grammar': 'root ::= root'}), ('/v1/chat/completions', {'grammar': 'root ::= ['}),
         ('/v1/completions', {'grammar': 'root ::= root'}), ('/v1/completions', {'grammar': 'root ::= ['}),
         ('/v1/chat/completions', {'logit_bias': {'999999999': 100}}), ('/v1/completions', {'logit_bias': {'-5': 100}}),
         ('/v1/chat/completions', {'logit_bias': {'hi': 5}, 'logit_bias_type': 'tokens'}),
         ('/v1/chat/completions', {'logprobs': True, 'top_logprobs': 10**6}), ('/v1/completions', {'logprobs': 10**9}),
         ('/v1/completions', {'echo': True}), ('/v1/completions', {'suffix': 'x'}),
         ('/v1/chat/completions', {'response_format': {'type': 'json_object', 'schema': {'type': 'object'}}}),
         ('/v1/chat/completions', {'tools': [{'type': 'function', 'function': {'name': 'f', 'parameters': {}}}], 'tool_choice': 'required'}),
         ('/v1/chat/completions', {'n': 5}), ('/v1/chat/completions', {'temperature': 1e308}),
         ('/v1/chat/completions', {'temperature': -1}), ('/v1/chat/completions', {'top_k': -5}),
         ('/v1/chat/completions', {'seed': 2**70}), ('/v1/chat/completions', {'mirostat_mode': 7}),
         ('/v1/chat/completions', {'min_tokens': 10**9}), ('/v1/chat/completions', {'max_tokens': 10**9}),
         ('/v1/chat/completions', {'max_tokens': -1}), ('/v1/chat/completions', {'top_p': 'lots'}),
         ('/v1/chat/completions', {'stop': {'a': 1}}), ('/v1/completions', {'prompt': ['a', 'b']}),
         ('/v1/chat/completions', {'messages': []}), ('/v1/chat/completions', {'messages': [{'role': 'bogus', 'content': 1}]})]

def test_fields_that_reach_native_code_are_refused_and_the_server_lives(server):
    """Every request field llama-cpp-python hands to llama.cpp unchecked gets 400, and the server answers afterwards.
    Planted defect: without `Guard` in `clone_app`, `grammar: "root ::= root"` kills the process (SIGSEGV)."""
    port, p = server
    for path, extra in CRASH:
        base = {'model': CLONE, 'max_tokens': 4, **({'messages': HI} if 'chat' in path else {'prompt': 'привет'})}
        st, _, body = call(port, 'POST', path, {**base, **extra})
        assert (st, p.poll()) == (400, None), (path, extra, st, body[:300])
        assert json.loads(body)['error']['message'], body
        no_internals(body)
    for st_path in ('/extras/detokenize', '/extras/tokenize', '/v1/embeddings', '/v1/engines/copilot-codex/completions'):
        assert call(port, 'POST', st_path, {'tokens': [10**9], 'input': 'x', 'prompt': 'x'})[0] == 404, st_path
    alive(server)

def test_a_stream_with_a_bad_grammar_is_refused_before_it_starts(server):
    "Planted defect: checking only non-streamed requests lets `stream: true` carry the grammar through (a 200 stream, then a crash)."
    port, _ = server
    st, h, body = call(port, 'POST', '/v1/chat/completions', dict(model=CLONE, messages=HI, stream=True, grammar='root ::= ['))
    assert st == 400 and 'event-stream' not in h.get('content-type', ''), body[:200]
    alive(server)

def test_body_size_and_prompt_length_are_limited(server):
    """A body over `MAX_BODY` is refused with 413 before it is read to the end (also without Content-Length); a raw
    prompt over the context window, or a `max_tokens` that leaves no room for the prompt, gets 400.
    Planted defect: no size check (the 10 MB body was read and answered after a minute); no length check (500 from llama.cpp)."""
    port, _ = server
    big = json.dumps(dict(model=CLONE, messages=[{'role': 'user', 'content': 'я' * MAX_BODY}]))
    st, _, body = call(port, 'POST', '/v1/chat/completions', raw=big.encode())
    assert st == 413, body[:200]; no_internals(body)
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)            # chunked: no Content-Length to trust
    c.putrequest('POST', '/v1/chat/completions'); c.putheader('Content-Type', 'application/json')
    c.putheader('Authorization', f'Bearer {KEY}'); c.putheader('Transfer-Encoding', 'chunked'); c.endheaders()
    try:
        for _ in range(30):
            chunk = b' ' * 65536; c.send(b'%x\r\n%s\r\n' % (len(chunk), chunk))
        c.send(b'0\r\n\r\n')
    except OSError: pass                                                      # the server may close as soon as it has seen enough
    assert c.getresponse().status == 413; c.close()
    long = 'слово ' * 4000                                                    # ~ 4000+ tokens, context 2048
    st, _, body = call(port, 'POST', '/v1/chat/completions', dict(model=CLONE, messages=[{'role': 'user', 'content': long}], max_tokens=4))
    assert st == 200, body[:300]                              # a chat keeps the end of a long message, as training cut it
    for path, b in (('/v1/completions', dict(prompt=long)),  # a raw prompt cannot be cut for the caller
                    ('/v1/chat/completions', dict(messages=HI*2, max_tokens=2047))):   # no room left for the system prompt
        st, _, body = call(port, 'POST', path, dict(model=CLONE, **b))
        assert st == 400 and 'context window' in json.loads(body)['error']['message'], (path, st, body[:300])
    alive(server)

def test_malformed_requests_get_4xx_without_paths(server):
    "Planted defect: letting the library parse the body (500 with site-packages paths for invalid UTF-8 and a wrong content type)."
    port, _ = server
    ok = json.dumps(dict(model=CLONE, messages=HI, max_tokens=4)).encode()
    cases = [(b'{"messages": [', {}), (b'{"model": "clone", "messages": [{"role": "user", "content": "\xff\xfe"}]}', {}),
             (ok, {'Content-Type': 'text/plain'}), (ok, {'Content-Type': 'application/x-www-form-urlencoded'}),
             (b'{"model": "clone", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}', {}),
             (b'[' * 200_000 + b']' * 200_000, {}), (b'[1, 2]', {}), (b'"just a string"', {}), (b'', {})]
    for raw, headers in cases:
        st, _, body = call(port, 'POST', '/v1/chat/completions', raw=raw, headers=headers)
        assert 400 <= st < 500, (raw[:60], st, body[:300])
        no_internals(body)
    alive(server)

@pytest.fixture(scope='module')
def local(tmp_path_factory):
    "The app in this process with a key and one allowed web origin."
    with serving(clone_app(tiny_clone(tmp_path_factory.mktemp('local')), api_key=KEY, n_ctx=512, cors=('http://localhost:3000',))) as url:
        yield int(url.rsplit(':', 1)[1])

def test_cors_only_for_the_origins_given(local, server):
    """No web page may read the API unless its origin was given with `cors` (`--cors`); none by default.
    Planted defect: keeping llama-cpp-python's CORS middleware (every origin, with credentials)."""
    pre = {'Origin': 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type'}
    st, h, _ = call(local, 'OPTIONS', '/v1/chat/completions', headers=pre)
    assert 'access-control-allow-origin' not in h and 'access-control-allow-credentials' not in h, h
    st, h, _ = call(local, 'GET', '/v1/models', headers={'Origin': 'http://evil.example'})
    assert st == 200 and 'access-control-allow-origin' not in h, h
    st, h, _ = call(local, 'OPTIONS', '/v1/chat/completions', headers={**pre, 'Origin': 'http://localhost:3000'})
    assert st == 200 and h.get('access-control-allow-origin') == 'http://localhost:3000' and 'access-control-allow-credentials' not in h, h
    port, _ = server                                                          # `llmclone serve api` without --cors: no origin at all
    st, h, _ = call(port, 'OPTIONS', '/v1/chat/completions', headers={**pre, 'Origin': 'http://localhost:3000'})
    assert 'access-control-allow-origin' not in h and st >= 400, (st, h)
    st, h, _ = call(port, 'GET', '/v1/models', headers={'Origin': 'http://localhost:3000'})
    assert st == 200 and 'access-control-allow-origin' not in h, h

def test_host_header_must_name_the_server(local):
    "DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends `Host: evil.example`. Planted defect: no host check."
    for host in ('evil.example', 'evil.example:80', '127.0.0.1.evil.example'):
        assert call(local, 'GET', '/v1/models', headers={'Host': host})[0] == 400, host
    for host in (f'127.0.0.1:{local}', f'localhost:{local}', 'localhost'):
        assert call(local, 'GET', '/v1/models', headers={'Host': host})[0] == 200, host

def test_docs_behind_the_key(local):
    "Planted defect: only the library's routes check the key, so /docs and /openapi.json are open to anyone."
    for path in ('/docs', '/openapi.json', '/redoc'):
        assert call(local, 'GET', path, key=None)[0] == 401, path
        assert call(local, 'GET', path, key='wrong')[0] == 401, path
    st, _, body = call(local, 'GET', '/openapi.json')
    assert st == 200 and json.loads(body)['paths']
    assert call(local, 'GET', '/', key=None)[0] == 200                       # the chat page itself asks for the key

def test_beyond_loopback_only_with_a_key(tmp_path, monkeypatch):
    """`serve_api` on another interface without a key refuses to start (it only warned); the key comes from the argument,
    a file or $LLMCLONE_API_KEY. Planted defect: the warning instead of the refusal. Nothing binds here beyond loopback."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    for host in ('0.0.0.0', '::', '192.168.1.5', 'myhost.lan'):
        with pytest.raises(ServeError, match='key'): serve_api(tmp_path/'none.gguf', host=host)
    r = subprocess.run([str(Path(sys.executable).parent/'llmclone'), 'serve', 'api', str(tmp_path/'none.gguf'), '--host', '0.0.0.0'],
                       capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != API_KEY_ENV})
    assert r.returncode == 2 and 'key' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    (tmp_path/'k').write_text('from-file\n'); monkeypatch.setenv(API_KEY_ENV, 'from-env')
    assert (api_key_from('given', tmp_path/'k'), api_key_from(None, tmp_path/'k'), api_key_from()) == ('given', 'from-file', 'from-env')
    with pytest.raises(FileNotFoundError): serve_api(tmp_path/'none.gguf', host='0.0.0.0')   # with a key it goes on (to the missing file)
    (tmp_path/'empty').write_text('')
    with pytest.raises(ServeError, match='empty'): api_key_from(None, tmp_path/'empty')

def test_request_problem_keeps_ordinary_clients():
    "What OpenAI's client and the chat page send passes; neutral values of refused fields pass too."
    ok = {'model': CLONE, 'messages': HI, 'max_tokens': 64, 'temperature': 0.7, 'top_p': 0.9, 'stream': True, 'stop': ['\n\n'],
          'n': 1, 'logprobs': False, 'tools': [], 'response_format': {'type': 'text'}, 'seed': 42, 'user': 'x', 'stream_options': {'include_usage': True}}
    assert request_problem('/v1/chat/completions', ok, 2048) is None
    assert request_problem('/v1/completions', {'prompt': 'hi', 'max_tokens': 16}, 2048) is None

def test_a_long_history_is_cut_first_and_the_prompt_is_unchanged(tmp_path):
    """`clone_prompt` hands `prompt_ids` only the turns that can reach the prompt (`_recent`), so a history of 20 000
    messages costs what a short one does, and the prompt is token for token what `prompt_ids` makes of the whole history.
    Planted defects: counting a turn's tokens too high in `_recent` (twice its length: the history is cut too early), or
    counting a short turn as free (20 000 'ок' messages all reached `prompt_ids`, whose cutting is quadratic: minutes)."""
    import random
    from llama_cpp import Llama
    from llmclone_nb.serve import clone_prompt, clone_messages, _recent
    from llmclone_nb.prompt import GGUFTokenizer, prompt_ids
    from llmclone_nb.gguf_export import gguf_system
    llm = Llama(str(tiny_clone(tmp_path)), n_ctx=512, verbose=False)
    tok, rng = GGUFTokenizer(llm), random.Random(5)
    words = ['да', 'привет! как дела?', 'го в кино', 'слово ' * 40, 'ok', 'почему)']
    for n in [1, 2, 3, 4, 7, 20, 60]:
        for mt in [16, 128, 400, 490]:
            msgs = [{'role': rng.choice(['user', 'user', 'assistant']), 'content': rng.choice(words)} for _ in range(n)]
            if rng.random() < 0.3: msgs.insert(0, {'role': 'system', 'content': 'ты бот'})
            msgs.append({'role': 'user', 'content': rng.choice(words)})
            room = max(512 - mt, 16)
            assert clone_prompt(llm, msgs, mt) == prompt_ids(tok, clone_messages(msgs), gguf_system(llm), max_len=room), (n, mt)
    many = [{'role': 'user' if i % 2 == 0 else 'assistant', 'content': f'сообщение {i}'} for i in range(20_001)]
    assert len(_recent(tok, many, 512 - 128)) < 200
    short = [{'role': 'user' if i % 2 == 0 else 'assistant', 'content': 'ок'} for i in range(20_001)]   # a turn costs its marker at least
    assert len(_recent(tok, short, 512 - 128)) <= 512 - 128 + 2
