"Chapter 6's style figures on hand-made replies whose answers are counted by hand: the demo and `evaluate` compare the clone with you through these."
import math
import pytest
from llmclone_nb.evaluate import style_profile, style_distance, known_word_share, known_words, STYLE_SHARES

REPLIES = ['привет)', 'Hello there.', 'ну да 🙂', 'ок)']

def test_profile_counts():
    p = style_profile(REPLIES)
    assert p['replies'] == 4
    assert p['lowercase start'] == 0.75          # п, н, о lowercase; H not
    assert p['ends with )'] == 0.5 and p['ends with .'] == 0.25 and p['ends with emoji'] == 0.25
    assert p['cyrillic'] == 0.75                 # all but "Hello there."
    assert p['words mean'] == 1.5 and p['words median'] == 1.5   # 1, 2, 2, 1 words

def test_profile_edges():
    p = style_profile(['Ну...', '👍', 'ok 😂\ufe0f', '[PHONE] позвони)', ''])
    assert p['ends with .'] == 0                 # an ellipsis is not a closing period
    assert p['ends with emoji'] == 0.4           # 👍 and 😂 followed by a variation selector
    assert p['lowercase start'] == pytest.approx(2/3)   # replies without a letter do not count: ok, позвони (placeholder dropped) vs Ну
    assert p['ends with )'] == 0.2
    assert style_profile([])['replies'] == 0 and style_profile([])['words mean'] is None

def test_distance():
    a, b = style_profile(['a)']), style_profile(['B.'])
    assert style_distance(a, a) == 0
    # eight parts when neither profile knows whether its replies stopped: five habits, loops, words and messages per reply
    assert style_distance(a, b) == style_distance(b, a) == pytest.approx(3/8)   # case, ")" and "." differ; script, emoji, loops, lengths agree
    long, short = style_profile(['a b c d']), style_profile(['a b'])
    assert style_distance(long, short) == pytest.approx(0.5/8)                  # only the length: |4-2|/4
    opposite = style_distance(style_profile(['да)']), style_profile(['Yes.']))
    assert 0 < opposite <= 1 and opposite == pytest.approx(4/8)
    # with stops known, a ninth part: a reply cut at the budget is not one that ended
    assert style_distance(style_profile(['да)'], ended=[True]), style_profile(['да)'], ended=[False])) == pytest.approx(1/9)
    assert set(STYLE_SHARES) <= set(a)

def test_messages_and_loops_counted_by_hand():
    p = style_profile(['да)\nда)\nда)', 'ну\nок)', 'ну да ок ну да ок ну да ок', '[PHONE]'])
    assert p['messages mean'] == pytest.approx((3+2+1+0)/4)   # a placeholder alone is no message of yours
    assert p['loops'] == 0.5 and p['stops'] is None           # a line three times; three words three times

def test_known_words():
    rows = [{'messages': [{'role': 'system', 'content': 'You are chatting'}, {'role': 'user', 'content': 'Привет, как дела?'},
                          {'role': 'assistant', 'content': 'да норм)'}]}]
    v = known_words(rows)
    assert v == {'привет', 'как', 'дела', 'да', 'норм'}   # every speaker's words, lowercased; the system text is not the chat
    assert known_word_share(['Привет)', 'ну да', 'фывап'], v) == 0.5   # привет, да of привет, ну, да, фывап
    assert known_word_share(['[PHONE] норм'], v) == 1.0                  # placeholders are not words
    assert known_word_share(['))', ''], v) is None


# --- signature words: derived from the data, not a list ---
from collections import Counter
from llmclone_nb.evaluate import signature_words, style_stats
from llmclone_nb.samples import prepare
from llmclone_nb.train import load_rows
from llmclone_nb.presets import sample_export_path

def _chat(q, a): return {'messages': [{'role': 'system', 'content': 'sys'}, {'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]}

def test_signature_words_known_answer():
    # 'короче' in 3 of your replies and never theirs, '👍' twice; 'the' is everyone's; 'да' only once (below min_count=2)
    rows = [_chat('the plan?', 'короче the plan 👍'), _chat('the time?', 'короче the time'), _chat('ok the end', 'короче да 👍'),
            _chat('the the the', 'the')]
    got = signature_words(rows, k=5, min_count=2)
    assert [w for w, z in got] == ['короче', '👍', 'the'] and got[0][1] > got[1][1] > 0 > got[2][1]
    assert signature_words([]) == []
    # the system text and canary rows never count
    assert signature_words(rows+[dict(_chat('x', 'секрет секрет секрет'), meta={'canary': 'a'})], k=5, min_count=2) == got

def _rates(rows):
    you, them = Counter(), Counter()
    for r in rows:
        for c, m in ((you, r['messages'][-1]), (them, r['messages'][-2])):
            c.update(t.strip('.,!?;:()"«»…-') for t in m['content'].lower().split())
    return you, them

@pytest.fixture(scope='module')
def two_owners(tmp_path_factory):
    "The bundled export twice: as its owner wrote it, and with Лена (user5550100002) as the owner."
    out = {}
    for name, me in (('nikita', None), ('lena', 'user5550100002')):
        d = tmp_path_factory.mktemp(name)
        prepare(sample_export_path(), d, me=me)
        out[name] = load_rows(d)['train']
    return out

def test_signature_words_come_from_the_data(two_owners):
    words = {k: [w for w, z in signature_words(rows)] for k, rows in two_owners.items()}
    assert len(words['nikita']) == 10 and len(set(words['nikita']) & set(words['lena'])) <= 3, words
    for k, rows in two_owners.items():
        you, them = _rates(rows)
        ny, nt = sum(you.values()), sum(them.values())
        for w in words[k]:
            if w.isalpha():   # each word is really more frequent in the owner's replies (whitespace counts, independent of the tokenizer)
                assert you[w]/ny > them[w]/nt, (k, w, you[w], ny, them[w], nt)
    # the style table's signature row uses them: the owner's own replies carry them far more often than the other side's
    rows = two_owners['nikita']
    sig = tuple(words['nikita'])
    mine = style_stats([r['messages'][-1]['content'] for r in rows], signature=sig)['signature words']
    theirs = style_stats([r['messages'][-2]['content'] for r in rows], signature=sig)['signature words']
    assert mine > theirs + 0.2, (mine, theirs)


# --- reply length distribution and language mix, on replies counted by hand ---
from llmclone_nb.evaluate import length_distribution, language_mix, script_of, compare_style, habits_table, LENGTH_BINS

OWNER = ['ок)', 'да', 'ну такое)', 'короче завтра в шесть', 'lol', 'ок tbh', '👍', 'скинь [PHONE] пж',
         'короче я думаю что это вообще не то что мы хотели но ладно давай попробуем']   # 1, 1, 2, 4, 1, 2, 0, 2, 15 words
BASE = ['Sure, I can help with that. What would you like to know?', 'Hello! How are you today?', 'I understand.']   # 11, 5, 2

def test_length_distribution_known_answer():
    d = length_distribution(OWNER)
    assert list(d) == ['0', '1', '2–3', '4–7', '8–15', '16+'] and LENGTH_BINS == (1, 2, 4, 8, 16)
    assert d == {'0': 1/9, '1': 3/9, '2–3': 3/9, '4–7': 1/9, '8–15': 1/9, '16+': 0.}
    assert length_distribution(BASE) == {'0': 0., '1': 0., '2–3': 1/3, '4–7': 1/3, '8–15': 1/3, '16+': 0.}
    assert length_distribution(['раз два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать'])['16+'] == 1.
    assert length_distribution(['a b c'], edges=(2, 3))  == {'0–1': 0., '2': 0., '3+': 1.}

def test_language_mix_known_answer():
    assert [script_of(r) for r in OWNER] == ['Cyrillic', 'Cyrillic', 'Cyrillic', 'Cyrillic', 'Latin', 'both', 'no letters', 'Cyrillic', 'Cyrillic']
    assert language_mix(OWNER) == {'Cyrillic': 6/9, 'Latin': 1/9, 'both': 1/9, 'no letters': 1/9}
    assert language_mix(BASE) == {'Cyrillic': 0., 'Latin': 1., 'both': 0., 'no letters': 0.}
    assert script_of('[PHONE] Person 3') == 'no letters' and script_of('ёж') == 'Cyrillic'   # placeholders and labels are not your letters
    assert language_mix([]) == dict.fromkeys(['Cyrillic', 'Latin', 'both', 'no letters'])

def test_compare_style_carries_lengths_and_languages():
    samples = [dict(you=o, base=b, clone=o) for o, b in zip(OWNER, BASE)]   # 3 contexts; the clone answers like you
    sf = compare_style(samples, [])
    assert sf['lengths']['clone'] == sf['lengths']['you'] == length_distribution(OWNER[:3])
    assert sf['languages']['base'] == language_mix(BASE) and sf['distance']['clone'] == 0
    t = habits_table(sf)
    assert list(t) == ['you', 'base', 'clone'] and t['you']['distance from you'] == 0 and t['base']['distance from you'] == sf['distance']['base']
    assert t['base']['alphabet: Latin'] == 1. and t['you']['1 words'] == 2/3 and t['clone']['words mean'] == pytest.approx(4/3)
