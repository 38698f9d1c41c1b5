"""Chapter 7: what `llmclone serve api` costs over calling llama-cpp-python directly, and whether it holds 8 clients.

1. First-token latency and tokens/s of a streamed greedy reply, N times each: `Llama.create_completion` on the prompt
   `prompt_ids` builds (direct) vs the same request through the server with OpenAI's client (served). Goal: overhead <= 10 %.
2. 8 clients streaming chat requests at once for a bounded time: every request must finish (finish_reason set) and
   none may fail or be cut short.
Usage: .venv/bin/python bench/serve_bench.py [--gguf FILE] [--n 5] [--tokens 64] [--seconds 60]
"""
import argparse, json, os, platform, statistics, sys, threading, time
from pathlib import Path

HIST = [{'role': 'user', 'content': 'привет! как дела?'}, {'role': 'assistant', 'content': 'норм)'},
        {'role': 'user', 'content': 'what are you doing tonight?'}]

def hist(tag):
    "The history with a last message of its own, so neither path reuses the other's cached prompt."
    return HIST[:-1] + [{'role': 'user', 'content': f'tell me about your weekend, in detail ({tag})'}]

def direct(llm, ids, tokens):
    t0 = time.perf_counter(); first = None; n = 0
    for c in llm.create_completion(prompt=ids, max_tokens=tokens, temperature=0, stream=True):
        if first is None: first = time.perf_counter() - t0
        n += 1
    return first, n / (time.perf_counter() - t0 - first) if n > 1 else 0.0, n

def served(client, tokens, msgs=HIST):
    t0 = time.perf_counter(); first = None; n = 0
    for c in client.chat.completions.create(model='clone', messages=msgs, max_tokens=tokens, temperature=0, stream=True):
        if c.choices and c.choices[0].delta.content:
            if first is None: first = time.perf_counter() - t0
            n += 1
    return first, n / (time.perf_counter() - t0 - first) if n > 1 else 0.0, n

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--gguf'); ap.add_argument('--n', type=int, default=5)
    ap.add_argument('--tokens', type=int, default=64); ap.add_argument('--seconds', type=float, default=60)
    a = ap.parse_args()
    from openai import OpenAI
    from llmclone_nb.models import smollm2_gguf
    from llmclone_nb.serve import clone_app, serving, clone_prompt, CLONE
    from llama_cpp.server import app as srv
    gguf = Path(a.gguf or smollm2_gguf())
    res = {'gguf': gguf.name, 'date': time.strftime('%Y-%m-%d'), 'cpus': os.cpu_count(), 'load': os.getloadavg()[0]}
    with serving(clone_app(gguf)) as url:
        llm = srv._llama_proxy(CLONE)                          # the very Llama the server uses: same threads, same cache
        client = OpenAI(base_url=url + '/v1', api_key='none', max_retries=0, timeout=300)
        served(client, 4); direct(llm, clone_prompt(llm, HIST, 4), 4)   # warm up both paths
        d, s = [], []
        for i in range(a.n):                                   # interleaved, so load changes hit both alike
            d.append(direct(llm, clone_prompt(llm, hist(f'{i}a'), a.tokens), a.tokens)); s.append(served(client, a.tokens, hist(f'{i}b')))
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        res.update(direct_first_s=med(d, 0), served_first_s=med(s, 0), direct_tok_s=med(d, 1), served_tok_s=med(s, 1),
                   direct_tokens=med(d, 2), served_tokens=med(s, 2))
        res['first_token_overhead'] = res['served_first_s'] / res['direct_first_s'] - 1
        res['tok_s_overhead'] = 1 - res['served_tok_s'] / res['direct_tok_s']
        # 8 clients for a bounded time
        stop_at, done, bad, lock = time.monotonic() + a.seconds, [], [], threading.Lock()
        def client_loop(k):
            c = OpenAI(base_url=url + '/v1', api_key='none', max_retries=0, timeout=300)
            while time.monotonic() < stop_at:
                try:
                    fin = None
                    for ch in c.chat.completions.create(model='clone', messages=HIST, max_tokens=32, temperature=0.7, stream=True):
                        if ch.choices: fin = ch.choices[0].finish_reason or fin
                    with lock: (done if fin in ('stop', 'length') else bad).append(fin)
                except Exception as e:
                    with lock: bad.append(repr(e))
        ts = [threading.Thread(target=client_loop, args=(k,)) for k in range(8)]
        t0 = time.monotonic(); [t.start() for t in ts]; [t.join(a.seconds + 600) for t in ts]
        res.update(clients=8, seconds=round(time.monotonic() - t0, 1), requests_ok=len(done), requests_bad=len(bad), bad=bad[:5])
    res['machine'] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(json.dumps(res, indent=1))

if __name__ == '__main__': main()
