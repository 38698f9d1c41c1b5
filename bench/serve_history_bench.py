"""The bot's memory: how long building the clone's context takes in a 20 000-message chat against a 100-message one.

    .venv/bin/python bench/serve_history_bench.py [--rows 20000] [--repeat 5]

Three figures per chat size, medians of --repeat runs:
- `before`: chat_window as it was (every row of the session, merged by repeated string concatenation), on all rows;
- `window`: today's `chat_window(state.history(chat))`: the database keeps a bounded tail, the window is linear in it;
- `remember`: storing one more message (the insert, the session check and the trim).
A chat's rows are written in one transaction to build the database (as the old, unbounded version would have grown it),
then one `remember` trims it as the running bot does."""
import argparse, platform, random, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'))
from test_serve_history import reference_window
from llmclone_nb.serve import BotState, chat_window

def chat(n, seed=0):
    rng, t, rows = random.Random(seed), 1_700_000_000, []
    for i in range(n):
        t += rng.choice([1, 5, 30])
        own = i % 3 == 2
        rows.append((t, 'assistant' if own else 'user', None, rng.choice(['да', 'ну го', 'как дела?', 'завтра в 8 у кино', 'x' * 60])))
    rows.append((t + 1, 'user', None, 'а ты что думаешь?'))
    return rows

def timed(f, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return statistics.median(out)

def main():
    a = argparse.ArgumentParser(); a.add_argument('--rows', type=int, default=20_000); a.add_argument('--repeat', type=int, default=5)
    a = a.parse_args()
    print(f'# {time.strftime("%Y-%m-%d")} {platform.processor() or platform.machine()}, Python {platform.python_version()}')
    print(f"{'messages':>9} {'before (s)':>11} {'window (s)':>11} {'remember (s)':>13} {'rows kept':>10}")
    for n in (100, a.rows):
        rows = chat(n)
        ref = []
        before = timed(lambda: ref.append(reference_window(rows)), a.repeat if n <= 1000 else 1)
        with tempfile.TemporaryDirectory() as d:
            s = BotState(Path(d)/'s.sqlite')
            with s.lock:
                s.db.execute('BEGIN')
                s.db.executemany('INSERT INTO messages(chat_id, ts, role, label, content) VALUES(1,?,?,?,?)', rows[:-1])
                s.db.execute('COMMIT')
            s.remember(1, 'user', rows[-1][3], now=rows[-1][0])
            kept = s.q('SELECT COUNT(*) FROM messages WHERE chat_id=1')[0][0]
            window = timed(lambda: chat_window(s.history(1)), a.repeat)
            assert chat_window(s.history(1)) == ref[0], 'the bounded window differs'
            t = rows[-1][0]
            def one():
                nonlocal t; t += 1; s.remember(1, 'user', 'ещё', now=t)
            remember = timed(one, a.repeat)
            s.close()
        print(f'{n:>9} {before:>11.4f} {window:>11.4f} {remember:>13.4f} {kept:>10}')

if __name__ == '__main__': main()
