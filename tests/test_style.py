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
    assert style_distance(a, b) == style_distance(b, a) == pytest.approx(3/6)   # case, ")" and "." differ; script, emoji, length agree
    long, short = style_profile(['a b c d']), style_profile(['a b'])
    assert style_distance(long, short) == pytest.approx(0.5/6)                  # only the length: |4-2|/4
    opposite = style_distance(style_profile(['да)']), style_profile(['Yes.']))
    assert 0 < opposite <= 1 and opposite == pytest.approx(4/6)
    assert set(STYLE_SHARES) <= set(a)

def test_known_words():
    rows = [{'messages': [{'role': 'system', 'content': 'You are chatting'}, {'role': 'user', 'content': 'Привет, как дела?'},
                          {'role': 'assistant', 'content': 'да норм)'}]}]
    v = known_words(rows)
    assert v == {'привет', 'как', 'дела', 'да', 'норм'}   # every speaker's words, lowercased; the system text is not the chat
    assert known_word_share(['Привет)', 'ну да', 'фывап'], v) == 0.5   # привет, да of привет, ну, да, фывап
    assert known_word_share(['[PHONE] норм'], v) == 1.0                  # placeholders are not words
    assert known_word_share(['))', ''], v) is None
