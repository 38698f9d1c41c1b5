"""The bot's memory of a chat is bounded (rows and characters) and its window is built in linear time, yet the clone sees
exactly what the unbounded version showed it: compared with that version (kept below as the reference) on random chats."""
import random
import pytest
from llmclone_nb.serve import chat_window, BotState, HISTORY_CHARS, HISTORY_ROWS, SESSION_GAP
from llmclone_nb.samples import session_samples

def reference_window(rows, group=False, gap=SESSION_GAP, max_chars=HISTORY_CHARS):
    "chat_window as it was before the bound: every row of the session, merged by repeated concatenation."
    if not rows: return []
    i = len(rows)-1
    while i>0 and rows[i][0]-rows[i-1][0]<=gap: i -= 1
    turns = []
    for _, role, label, text in rows[i:]:
        own = role=='assistant'
        if turns and turns[-1][0]==own and turns[-1][1]==label: turns[-1][2] += '\n'+text
        else: turns.append([own, label, text])
    if not turns or turns[-1][0]: return []
    return session_samples([tuple(t) for t in turns]+[(True, None, '')], group, max_chars)[-1][:-1]

def random_chat(rng, n, group):
    rows, t = [], 1_700_000_000
    words = ['да', 'нет', 'го', 'привет', 'как дела', 'ок', 'почему)', 'x' * 300, 'длинное сообщение ' * 40]
    for _ in range(n):
        t += rng.choice([1, 5, 60, 3600, SESSION_GAP + 1]) if rng.random() < 0.05 else rng.choice([1, 5, 60])
        own = rng.random() < 0.3
        label = None if own or not group else f'Person {rng.randint(1, 3)}'
        rows.append((t, 'assistant' if own else 'user', label, rng.choice(words)))
    if rows and rows[-1][1] == 'assistant': rows.append((t + 1, 'user', 'Person 1' if group else None, 'а?'))
    return rows

@pytest.mark.parametrize('group', [False, True])
def test_window_equals_the_unbounded_version(group):
    """Planted defect: a tail cut too short in `_tail` (e.g. `max_chars` without the margin for a long last turn) changes
    the window on some of these chats."""
    rng = random.Random(7)
    for n in [1, 2, 3, 5, 10, 30, 100, 400]:
        for max_chars in [12, 100, 250, 3000]:
            for _ in range(6):
                rows = random_chat(rng, n, group)
                assert chat_window(rows, group, max_chars=max_chars) == reference_window(rows, group, max_chars=max_chars), (n, max_chars)
    long_run = [(1_700_000_000 + i, 'user', None, f'сообщение {i}') for i in range(5000)]          # one speaker, no reply
    assert chat_window(long_run) == reference_window(long_run)

def test_memory_is_bounded_and_shows_the_clone_the_same_window(tmp_path):
    """3000 messages into one chat: the database keeps at most `HISTORY_ROWS` rows and about 2 * `HISTORY_CHARS`
    characters, and the window from what it kept equals the window from every message.
    Planted defect: no `trim` in `remember` (every message kept: the 20k-row chat of the issue)."""
    s, rng, everything = BotState(tmp_path/'s.sqlite'), random.Random(3), []
    t = 1_700_000_000
    for i in range(3000):
        t += 1; role = 'assistant' if rng.random() < 0.3 else 'user'
        text = rng.choice(['да', 'ну го', 'x' * 80, 'длинное ' * 30])
        s.remember(5, role, text, now=t); everything.append((t, role, None, text))
    s.remember(5, 'user', 'а?', now=t + 1); everything.append((t + 1, 'user', None, 'а?'))
    kept = s.history(5)
    n_rows = s.q('SELECT COUNT(*), SUM(length(content)) FROM messages WHERE chat_id=5')[0]
    assert n_rows[0] <= HISTORY_ROWS and n_rows[1] <= 2 * HISTORY_CHARS + 300, n_rows
    assert kept == everything[-len(kept):]
    assert chat_window(kept) == reference_window(everything)
    for i in range(HISTORY_ROWS + 50): s.remember(6, 'user', 'a', now=t + i)                       # short messages: the row cap
    assert s.q('SELECT COUNT(*) FROM messages WHERE chat_id=6')[0][0] == HISTORY_ROWS
