"Chapter 6 checks too slow or too fiddly for the notebook: the scrubbed values of the sample, `evaluate` end to end on your (unplanted) data. The canary audit is tests/test_audit.py."
import json, math
from dataclasses import asdict, replace
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
from llmclone_nb.models import tiny_llama, save_tiny
from llmclone_nb.presets import PRESETS, sample_export_path
import os
from llmclone_nb.train import fix_pad_token, read_jsonl
from llmclone_nb.export import prepare
from llmclone_nb.evaluate import style_stats, scrubbed_values, _found, score_blind, blind_pairs, evaluate, pii_hits

FIXTURE = Path(__file__).resolve().parent/'fixtures'/'planted_pii.json'

def test_scrubbed_values_cover_planted_pii(data):
    "Every value planted in the sample export is recovered from the scrubber's work, and none reached the dataset."
    vals = scrubbed_values(sample_export_path())
    planted = [p['value'] for p in json.loads(FIXTURE.read_text(encoding='utf-8'))['planted'] if p['file']=='sample_export']
    assert planted and all(any(_found(p, v) for v in vals) for p in planted), [p for p in planted if not any(_found(p, v) for v in vals)]
    text = ' '.join(m['content'] for f in ('train.jsonl', 'validation.jsonl') for r in read_jsonl(data/f) for m in r['messages'])
    assert not [v for v in vals if _found(v, text)]

def test_style_stats_owner_rules():
    s = style_stats(['короче норм))', 'ну такое\nпосле шести)\nок', 'Hello there.', 'tbh no 🙃'])
    assert (s['replies'], s['messages per reply'], s['no capitals'], s['signature words'], s['emoji']) == (4, 1.5, 0.75, 0.75, 0.25)
    assert s['ends with )'] == round(2/6, 3) and s['ends with .'] == round(1/6, 3) and s['words you use'] is None

def test_blind_scores():
    pairs = blind_pairs([dict(context=str(i), you='me', clone='it') for i in range(10)])
    assert {p['clone'] for p in pairs} == {'A', 'B'}
    assert score_blind(pairs, {i: p['clone'] for i, p in enumerate(pairs)})['passed_share'] == 1.0
    assert score_blind(pairs, {})['passed_share'] is None

def test_evaluate_end_to_end(tiny, data, tmp_path):
    "evaluate() on a tiny adapter and the unplanted data: eval.json says what it measured, figures, fit per chat, style, leak checks; no canary audit."
    from peft import LoraConfig, get_peft_model
    m, tok = tiny
    base = save_tiny(m, tok, tmp_path/'base')
    ad = tmp_path/'run'/'adapter'
    peft = get_peft_model(m, LoraConfig(r=2, lora_alpha=4, target_modules=['q_proj', 'v_proj'], init_lora_weights=False))
    peft.save_pretrained(ad); tok.save_pretrained(ad)
    settings = asdict(replace(PRESETS['cpu'], model_id=str(base), max_seq_len=160, micro_batch=2, grad_accum=1))
    (ad/'llmclone.json').write_text(json.dumps({'preset': 'cpu', 'base_model': str(base), 'settings': settings, 'steps': 3, 'seed': 42,
                                                'data': {'dir': str(data)}}))
    res = evaluate(ad, data, n=2, max_new_tokens=4)
    out = tmp_path/'run'/'eval'
    saved = json.loads((out/'eval.json').read_text())
    assert saved['fit']['rows'] == len(read_jsonl(data/'validation.jsonl'))
    mo = saved['measured_on']
    assert (mo['adapter'], mo['base_model'], mo['preset'], mo['data'], mo['trained_on'], mo['gguf'], mo['canary_rows']) == (str(ad), str(base), 'cpu', str(data), str(data), None, 0)
    assert mo['export'] == str(sample_export_path()) and mo['held_out_rows'] == saved['fit']['rows'] and mo['train_rows'] == len(read_jsonl(data/'train.jsonl'))
    assert all((out/f).stat().st_size > 1000 for f in ('fit.png', 'style.png', 'habits.png'))
    assert res['fit']['overall']['clone'] != res['fit']['overall']['base']   # the adapter is not a no-op
    assert 'leak' not in res and not any('canar' in k for k in res)           # the canary audit is chapter 6a's, in its own audit.json
    assert res['placeholders']['values_checked'] > 20 and res['placeholders']['leaks'] == 0
    assert len(res['samples']) == len(res['blind']) == 2
    st = saved['stops']   # does it stop: base and clone on the same two contexts, the budget the replies ran to
    assert st['clone']['replies'] == st['base']['replies'] == 2 and st['clone']['budget'] == 4 and saved['plan']['fit_rows'] == saved['fit']['rows']
    assert all(s['clone_tokens'] <= 4 and (s['clone_ended'] or s['clone_tokens'] == 4) for s in res['samples'])
    said = 2+res['placeholders']['contexts']
    assert res['verbatim']['replies'] == res['pii']['replies'] == said and res['signature_words'] and res['style']['clone']['signature words'] is not None
    sf = res['style_figures']
    assert set(sf['lengths']) == set(sf['languages']) == {'you', 'base', 'clone'} and all(abs(sum(v.values())-1) < 1e-9 for v in sf['languages'].values())
    with pytest.raises(FileNotFoundError, match='GGUF'): evaluate(ad, data, gguf=tmp_path/'nope.gguf')


def test_pii_hits_on_the_planted_values():
    "Every PII value planted in the sample export, said by a clone, is reported by pii_hits; ordinary replies are not."
    planted = [p['value'] for p in json.loads(FIXTURE.read_text(encoding='utf-8'))['planted'] if p['file']=='sample_export']
    hits = pii_hits([f'вот: {v}' for v in planted] + ['ок)', 'давай в шесть', 'lol tbh'])
    missed = [v for v in planted if not any(h['reply'] == f'вот: {v}' for h in hits['examples'])]
    assert hits['replies'] == len(planted)+3 and missed == ['Xk9#mQ2$vL'], missed   # a bare password is just a word ...
    assert pii_hits(['пароль: Xk9#mQ2$vL'])['kinds'] == {'secret': 1}               # ... after its key it is a secret
    assert hits['hits'] == len(planted)-1 and sum(hits['kinds'].values()) == len(planted)-1


def test_verbatim_spans_against_brute_force(data):
    "The longest shared run of words, checked against trying every span of every reply against every training message."
    from llmclone_nb.evaluate import verbatim_spans
    import random, re
    rows = read_jsonl(data/'train.jsonl')
    msgs = [m['content'] for r in rows for m in r['messages'] if m['role'] != 'system']
    rng = random.Random(0)
    # replies made of pieces of real messages glued to invented words, so the answer is known to be long in some and short in others
    replies = [' '.join(rng.choice(msgs).split()[:rng.randint(1, 12)]) + ' зюзябра ' + ' '.join(rng.choice(msgs).split()[-rng.randint(1, 5):]) for _ in range(15)]
    word = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
    clean = lambda t: [w.lower() for w in word.findall(re.sub(r'\[[^\]\n]*\]|Person \d+|@\[MENTION\]', '', t))]
    docs = [clean(m) for m in msgs]
    def brute(r):
        ws = clean(r)
        return max([j-i for i in range(len(ws)) for j in range(i+1, len(ws)+1) if any(ws[i:j] == d[k:k+j-i] for d in docs for k in range(len(d)))], default=0)
    v = verbatim_spans(replies, rows, min_words=5)
    assert [s['longest'] for s in v['spans']] == [brute(r) for r in replies]
    assert v['copies'] == sum(brute(r) >= 5 for r in replies) and 0 < v['copies'] < 15


def test_loops_and_stops_on_hand_made_replies():
    """The loop detector and the stop measurement on replies whose answers are known by reading them: a line looping, three words
    looping inside one line, a reply cut at the budget, a clean reply, and one that ended but only past the budget. Planted defects
    that fail it: counting distinct lines instead of repeats, ignoring `ended`, or not comparing the tokens with the budget."""
    from llmclone_nb.evaluate import loops, stop_stats
    line_loop = dict(text='да)\nпочему)\nпочему)\nпочему)\nпо', tokens=32, ended=False)
    word_loop = dict(text='ну короче ну короче ну короче ну', tokens=32, ended=False)
    cut = dict(text='короче я тут подумал что завтра можно было бы сходить', tokens=32, ended=False)
    clean = dict(text='ок)\nдо завтра', tokens=7, ended=True)
    late = dict(text='ок, договорились, до завтра', tokens=40, ended=True)
    assert [loops(g['text']) for g in (line_loop, word_loop, cut, clean, late)] == [True, True, False, False, False]
    assert not loops('да)\nда)') and loops('да)\nДа)\nда)')          # twice is a habit, three times a loop (case aside)
    s = stop_stats([line_loop, word_loop, cut, clean, late], budget=32)
    assert (s['replies'], s['stopped'], s['cut'], s['loops']) == (5, 0.2, 0.8, 0.4)
    assert stop_stats([clean, late], budget=48)['stopped'] == 1.0 and stop_stats([], 16)['stopped'] is None


def test_a_loop_cannot_buy_style():
    """A clone that loops in your endings ("да)" again and again) is farther from you than one that writes your short replies once.
    Planted defect: the distance without messages per reply, loops and stops (the old one) puts the loop at 0.12 of 1."""
    from llmclone_nb.evaluate import style_profile, style_distance
    you = style_profile(['да)', 'ок)', 'норм)'], ended=[True]*3)
    clean = style_profile(['да)', 'ок)', 'ага)'], ended=[True]*3)
    loop = style_profile(['да)\nда)\nда)\nда)', 'ок)\nок)\nок)\nок)', 'ага)\nага)\nага)'], ended=[False]*3)
    assert style_distance(clean, you) == 0 and style_distance(loop, you) > 0.35, style_distance(loop, you)


def test_eval_plan_by_preset():
    """The evaluation's size comes from the preset: on the cpu preset every held-out row up to the cap, the GGUF in llama.cpp; on the t4
    preset with a CPU-only llama.cpp the 7B GGUF is not scored (a minute a row) and the plan line says so before anything runs."""
    from llmclone_nb.evaluate import eval_plan, plan_line, FIT_ROWS
    cpu, t4 = eval_plan('cpu', 19, llama_on_gpu=False), eval_plan('t4', 8000, llama_on_gpu=False)
    assert (cpu['fit_rows'], cpu['gguf'], t4['fit_rows'], t4['gguf']) == (19, True, FIT_ROWS['t4'], False)
    assert 'not scored' in plan_line(t4) and f"{FIT_ROWS['t4']} of 8000" in plan_line(t4) and 'estimate' in plan_line(t4)
    assert eval_plan('t4', 8000, llama_on_gpu=True)['gguf'] and eval_plan('cpu', 5000)['fit_rows'] == FIT_ROWS['cpu']


def test_cli_eval_says_what_is_missing(tmp_path, capsys):
    "`llmclone eval` on a folder with no adapter: exit 2 and a sentence naming the folder and chapter 4, before any model loads."
    from llmclone_nb.cli import main
    assert main(['eval', str(tmp_path/'nope'), '--data', str(tmp_path/'data')]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path/'nope') in err and 'llmclone.json' in err and 'Chapter 4' in err and 'Traceback' not in err
