"""Chapter 7: what `llmclone serve api` costs over calling llama-cpp-python directly, and whether it holds 8 clients.

The server runs as users run it, a process of its own (`python -m llmclone_nb serve api GGUF --port P`, on 127.0.0.1).
The bench process loads the same GGUF with the very settings the server uses (`clone_app` builds the model; its
`Llama` has the same n_ctx, threads, batch, `logits_all=False`) and calls llama-cpp-python directly.

1. Pairs of streamed greedy replies, N of them, each pair on a last message of its own: `Llama.create_completion` on
   the prompt `clone_prompt` builds, with the server's own sampling values and stop string (direct), and the same chat
   request through the server with OpenAI's client (served). Each process has its own model and KV cache, so both
   sides of a pair evaluate the same new tokens and must give the same reply; the order within a pair alternates.
   A third side, raw HTTP (httpx, one `json.loads` per SSE line), separates the server from the OpenAI client's parsing.
   Measured per reply: first-token latency (request to first text), decode tokens/s ((chunks-1) / (last - first
   chunk)), end-to-end seconds. Goal: the server costs at most 10 %.
2. 8 clients streaming chat requests at once for a bounded time: every request must finish (finish_reason set),
   none may fail or be cut short.
Usage: .venv/bin/python bench/serve_bench.py [--gguf FILE] [--n 9] [--tokens 128] [--seconds 40] [--out JSON]
"""
import argparse, json, os, platform, signal, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIST = [{'role': 'user', 'content': 'привет! как дела?'}, {'role': 'assistant', 'content': 'норм)'},
        {'role': 'user', 'content': 'what are you doing tonight?'}]
TOPICS = ['your weekend', 'your favourite food', 'the last film you saw', 'your job', 'a trip you liked', 'your city',
          'music you play at home', 'a book you read', 'your plans for the summer', 'your first car', 'your friends',
          'a game you play', 'your morning routine', 'the weather where you are', 'a concert you went to']
EXCLUDE = {'n', 'logit_bias_type', 'user', 'min_tokens'}        # what the server leaves out of a request's kwargs

def hist(i):
    "The history with a last message of its own, so no reply starts from a cached prompt of an earlier one."
    return HIST[:-1] + [{'role': 'user', 'content': f'write a long story about {TOPICS[i % len(TOPICS)]} ({i})'}]

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start_server(gguf, log, wait=120):
    "`llmclone serve api` as its own process; returns (process, base URL) once `/v1/models` answers."
    import httpx
    port = free_port()
    p = subprocess.Popen([sys.executable, '-m', 'llmclone_nb', 'serve', 'api', str(gguf), '--host', '127.0.0.1',
                          '--port', str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url, end = f'http://127.0.0.1:{port}', time.monotonic() + wait
    while time.monotonic() < end:
        if p.poll() is not None: raise RuntimeError(f'the server exited with {p.returncode}; see {log.name}')
        try:
            if httpx.get(url + '/v1/models', timeout=2).status_code == 200: return p, url
        except httpx.HTTPError: pass
        time.sleep(0.2)
    stop_server(p); raise RuntimeError(f'the server did not answer within {wait} s; see {log.name}')

def stop_server(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try: p.wait(10)
        except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait(10)

def proc_cpu(pid):
    "CPU seconds (user + system) a process has used so far, from /proc (10 ms ticks)."
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')

def timing(t0, stamps, text, fin):
    "first-token s, decode tokens/s, end-to-end s, text chunks, reply, finish_reason."
    n, end = len(stamps), time.perf_counter()
    tps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else 0.0
    return dict(first=stamps[0] - t0 if stamps else None, tok_s=tps, total=end - t0, n=n, text=text, fin=fin)

def direct(llm, msgs, tokens, sampling):
    "llama-cpp-python directly: the handler's prompt, stop and sampling, with no chat conversion, server or client."
    from llmclone_nb.serve import clone_prompt
    from llmclone_nb.prompt import chat_format
    t0 = time.perf_counter(); stamps, text, fin = [], '', None
    ids = clone_prompt(llm, msgs, tokens)
    end = chat_format(llm._llmclone_tok)['end']
    for c in llm.create_completion(prompt=ids, max_tokens=tokens, stop=[end] if end else [], stream=True, **sampling):
        ch = c['choices'][0]
        if ch['text']: stamps.append(time.perf_counter()); text += ch['text']
        fin = ch.get('finish_reason') or fin
    return timing(t0, stamps, text, fin)

def served(client, msgs, tokens):
    "Through the server with OpenAI's client, as a user's program calls it."
    t0 = time.perf_counter(); stamps, text, fin = [], '', None
    for c in client.chat.completions.create(model='clone', messages=msgs, max_tokens=tokens, temperature=0, stream=True):
        if not c.choices: continue
        if c.choices[0].delta.content: stamps.append(time.perf_counter()); text += c.choices[0].delta.content
        fin = c.choices[0].finish_reason or fin
    return timing(t0, stamps, text, fin)

def raw(http, url, msgs, tokens):
    "Through the server with plain httpx: one `json.loads` per SSE event, no client library."
    t0 = time.perf_counter(); stamps, text, fin = [], '', None
    body = dict(model='clone', messages=msgs, max_tokens=tokens, temperature=0, stream=True)
    with http.stream('POST', url + '/v1/chat/completions', json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith('data:') or line[5:].strip() == '[DONE]': continue
            ch = json.loads(line[5:])['choices'][0]
            if ch['delta'].get('content'): stamps.append(time.perf_counter()); text += ch['delta']['content']
            fin = ch.get('finish_reason') or fin
    return timing(t0, stamps, text, fin)

def clients(url, k, seconds, tokens=32):
    "k clients streaming chat replies for `seconds`: (ok, failed, cut short, failures)."
    from openai import OpenAI
    stop_at, ok, bad, cut, lock = time.monotonic() + seconds, [0], [], [0], threading.Lock()
    def loop(j):
        c, i = OpenAI(base_url=url + '/v1', api_key='none', max_retries=0, timeout=600), 0
        while time.monotonic() < stop_at:
            i += 1
            try:
                fin = None
                for ch in c.chat.completions.create(model='clone', messages=hist(100 * j + i), max_tokens=tokens,
                                                    temperature=0.7, stream=True):
                    if ch.choices: fin = ch.choices[0].finish_reason or fin
                with lock:
                    if fin in ('stop', 'length'): ok[0] += 1
                    else: cut[0] += 1
            except Exception as e:
                with lock: bad.append(repr(e)[:200])
    ts = [threading.Thread(target=loop, args=(j,)) for j in range(k)]
    t0 = time.monotonic(); [t.start() for t in ts]; [t.join(seconds + 900) for t in ts]
    return dict(clients=k, seconds=round(time.monotonic() - t0, 1), requests_ok=ok[0], requests_failed=len(bad),
                requests_cut_short=cut[0], failures=bad[:5])

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--gguf'); ap.add_argument('--n', type=int, default=9)
    ap.add_argument('--tokens', type=int, default=128); ap.add_argument('--seconds', type=float, default=40)
    ap.add_argument('--clients', type=int, default=8); ap.add_argument('--out', help='append this run to a JSON list')
    ap.add_argument('--note', default='')
    a = ap.parse_args()
    import httpx
    from openai import OpenAI
    from llama_cpp.server import app as srv
    from llama_cpp.server.types import CreateChatCompletionRequest
    from llmclone_nb.models import smollm2_gguf
    from llmclone_nb.serve import clone_app, CLONE, _SAMPLING
    gguf = Path(a.gguf or smollm2_gguf())
    clone_app(gguf)                                            # builds the model exactly as the server process does
    llm = srv._llama_proxy(CLONE)
    req = CreateChatCompletionRequest(model=CLONE, messages=HIST, max_tokens=a.tokens, temperature=0, stream=True)
    kw = req.model_dump(exclude=EXCLUDE)                       # the kwargs the server hands its chat handler
    sampling = {k: kw[k] for k in _SAMPLING if k in kw}
    res = dict(gguf=gguf.name, date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), note=a.note, n=a.n,
               max_tokens=a.tokens, n_threads=llm.context_params.n_threads, n_threads_batch=llm.context_params.n_threads_batch,
               n_ctx=llm.n_ctx(), n_batch=llm.n_batch, sampling={k: v for k, v in sampling.items() if v is not None},
               load_before=os.getloadavg())
    log = tempfile.NamedTemporaryFile('w+', prefix='serve_bench_', suffix='.log', delete=False)
    proc, url = start_server(gguf, log)
    try:
        client = OpenAI(base_url=url + '/v1', api_key='none', max_retries=0, timeout=600)
        http = httpx.Client(timeout=600)
        res['server'] = f'python -m llmclone_nb serve api {gguf.name} --host 127.0.0.1 --port {url.rsplit(":", 1)[1]} (pid {proc.pid})'
        w = hist(999); direct(llm, w, 8, sampling); served(client, w, 8)   # warm up every path
        w = hist(998); direct(llm, w, 8, sampling); raw(http, url, w, 8)
        sides = {'direct': lambda m: direct(llm, m, a.tokens, sampling), 'served': lambda m: served(client, m, a.tokens),
                 'raw': lambda m: raw(http, url, m, a.tokens)}
        def go_(k):
            def f(m):                                           # the reply, and the CPU each process spent on it
                c0, s0 = time.process_time(), proc_cpu(proc.pid)
                r = sides[k](m)
                r.update(cpu_bench=time.process_time() - c0, cpu_server=proc_cpu(proc.pid) - s0); return r
            return f
        go = {k: go_(k) for k in sides}
        runs = {'direct': [], 'served': [], 'direct_raw': [], 'raw': []}
        for i in range(a.n):
            # message A_i: direct vs OpenAI client, B_i: direct vs raw HTTP. The server's cache is shared by its two
            # sides, so each gets its own message; both processes see the same sequence of prompts (same cached prefix),
            # the order of A/B and of direct/server within a pair alternates, so load changes hit every side alike.
            groups = [('served', hist(2 * i)), ('raw', hist(2 * i + 1))][::1 if i % 2 == 0 else -1]
            for j, (side, m) in enumerate(groups):
                first, second = ('direct', side) if (i + j) % 2 == 0 else (side, 'direct')
                for k in (first, second): runs['direct' if k == 'direct' and side == 'served' else 'direct_raw' if k == 'direct' else k].append(go[k](m))
        res['same_reply'] = {k: sum(runs[d][i]['text'] == runs[k][i]['text'] for i in range(a.n))
                             for d, k in (('direct', 'served'), ('direct_raw', 'raw'))}
        res['finish_reasons'] = {k: sorted({str(r['fin']) for r in v}) for k, v in runs.items()}
        for k, v in runs.items():
            res[k] = dict(first_s=statistics.median(r['first'] for r in v), tok_s=statistics.median(r['tok_s'] for r in v),
                          total_s=statistics.median(r['total'] for r in v), chunks=statistics.median(r['n'] for r in v),
                          cpu_ms_per_token_bench=1e3 * sum(r['cpu_bench'] for r in v) / sum(r['n'] for r in v),
                          cpu_ms_per_token_server=1e3 * sum(r['cpu_server'] for r in v) / sum(r['n'] for r in v),
                          per_reply=[dict(first_s=round(r['first'], 4), tok_s=round(r['tok_s'], 2), total_s=round(r['total'], 3),
                                          chunks=r['n']) for r in v])
        for d, k in (('direct', 'served'), ('direct_raw', 'raw')):
            s, dd = res[k], res[d]
            pair = lambda f: statistics.median(f(runs[k][i], runs[d][i]) for i in range(a.n))
            res[k + '_overhead'] = dict(first_token=s['first_s'] / dd['first_s'] - 1, tok_s=1 - s['tok_s'] / dd['tok_s'],
                                        end_to_end=s['total_s'] / dd['total_s'] - 1,
                                        paired_first_token=pair(lambda x, y: x['first'] / y['first'] - 1),
                                        paired_tok_s=pair(lambda x, y: 1 - x['tok_s'] / y['tok_s']),
                                        paired_end_to_end=pair(lambda x, y: x['total'] / y['total'] - 1))
        res['load_after_pairs'] = os.getloadavg()
        res['concurrency'] = clients(url, a.clients, a.seconds)
        res['server_alive_after'] = proc.poll() is None
    finally:
        stop_server(proc)
        log.seek(0); tail = log.read()[-2000:]; log.close(); os.unlink(log.name)
    res['server_log_tail'] = tail
    res['load_after'] = os.getloadavg()
    res['machine'] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    SIDES = ('direct', 'served', 'direct_raw', 'raw')
    print(json.dumps({k: v for k, v in res.items() if k not in SIDES and k != 'server_log_tail'}, indent=1, ensure_ascii=False))
    for k in SIDES:
        print(k, {m: round(res[k][m], 4) for m in ('first_s', 'tok_s', 'total_s', 'chunks', 'cpu_ms_per_token_bench', 'cpu_ms_per_token_server')})
    if a.out:
        out = Path(a.out); old = json.loads(out.read_text()) if out.exists() else []
        tmp = out.with_suffix('.tmp'); tmp.write_text(json.dumps(old + [res], indent=1, ensure_ascii=False)); tmp.replace(out)

if __name__ == '__main__': main()
