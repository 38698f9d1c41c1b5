"The blind test's scoring and its confidence interval, checked against the exact definitions, and `llmclone eval --quiz` answered from scripted stdin."
import json, math, random, subprocess, sys
from pathlib import Path
from statistics import NormalDist
import pytest
from llmclone_nb.evaluate import binomial_ci, score_blind, blind_pairs, terminal_quiz

BIN = Path(sys.executable).parent/'llmclone'

def _wilson_by_search(k, n, conf=0.95):
    "The Wilson interval by its definition: the p whose z-test |k/n - p| <= z*sqrt(p(1-p)/n) accepts, found by bisection on each side."
    z, ph = NormalDist().inv_cdf(0.5+conf/2), k/n
    ok = lambda p: abs(ph-p) <= z*math.sqrt(p*(1-p)/n)
    def edge(inside, outside):
        for _ in range(100):
            mid = (inside+outside)/2
            inside, outside = (mid, outside) if ok(mid) else (inside, mid)
        return inside
    lo = 0. if ok(0.) else edge(ph, 0.)
    hi = 1. if ok(1.) else edge(ph, 1.)
    return lo, hi

def _coverage(n, p, conf=0.95):
    "Exact coverage of the interval at true accuracy p: the binomial probability of the k whose interval contains p."
    return sum(math.comb(n, k)*p**k*(1-p)**(n-k) for k in range(n+1) if binomial_ci(k, n, conf)[0] <= p <= binomial_ci(k, n, conf)[1])

@pytest.mark.parametrize('k,n', [(14, 20), (0, 20), (20, 20), (1, 3), (50, 100), (7, 9)])
def test_wilson_matches_its_definition(k, n):
    lo, hi = binomial_ci(k, n)
    rlo, rhi = _wilson_by_search(k, n)
    assert lo == pytest.approx(rlo, abs=1e-9) and hi == pytest.approx(rhi, abs=1e-9)
    assert 0 <= lo <= k/n <= hi <= 1

def test_wilson_known_value_and_coverage():
    # Wilson's interval for 14/20 as printed in Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I style: 0.481-0.855
    lo, hi = binomial_ci(14, 20)
    assert (round(lo, 3), round(hi, 3)) == (0.481, 0.855)
    # near-nominal coverage averaged over p (the interval's known behaviour; a plain Wald interval falls well short at n=20)
    ps = [i/200 for i in range(10, 191)]
    assert abs(sum(_coverage(20, p) for p in ps)/len(ps) - 0.95) < 0.02
    assert binomial_ci(14, 20, 0.99)[0] < lo and binomial_ci(14, 20, 0.80)[0] > lo
    with pytest.raises(ValueError): binomial_ci(0, 0)

def _pairs(n=8, seed=3):
    return blind_pairs([dict(context=f'msg {i}', you=f'me {i}', clone=f'clone {i}') for i in range(n)], seed=seed)

def test_score_counts_what_the_judge_told_apart():
    pairs = _pairs()
    rng = random.Random(0)
    answers = {i: rng.choice('AB') for i in range(len(pairs))}
    answers.pop(2)                                         # one skipped
    told = sum(answers[i] != p['clone'] for i, p in enumerate(pairs) if i in answers)   # picked the real reply
    s = score_blind(pairs, answers)
    assert (s['answered'], s['told_apart'], s['fooled']) == (7, told, 7-told)
    assert s['accuracy'] == round(told/7, 3) and s['ci95'] == [round(x, 3) for x in binomial_ci(told, 7)]
    assert score_blind(pairs, {})['ci95'] is None

def test_terminal_quiz_reads_answers_and_hides_the_key():
    pairs = _pairs(4)
    right = ['B' if p['clone'] == 'A' else 'A' for p in pairs]
    script = iter(['?', right[0], right[1].lower(), 's', pairs[3]['clone']])   # a typo, lowercase, a skip, one fooled
    lines = []
    answers, s = terminal_quiz(pairs, ask=lambda _: next(script), say=lines.append)
    assert answers == {0: right[0], 1: right[1], 3: pairs[3]['clone']}
    assert (s['answered'], s['told_apart']) == (3, 2)
    key_at = next(i for i, l in enumerate(lines) if l.strip().startswith('Key'))
    assert key_at == len(lines)-2 and lines[-1].startswith('You told them apart 2/3')

def test_cli_quiz_from_stdin(tmp_path):
    pairs = _pairs(5)
    out = tmp_path/'eval'; out.mkdir()
    (out/'eval.json').write_text(json.dumps({'blind': pairs}), encoding='utf-8')
    right = ['B' if p['clone'] == 'A' else 'A' for p in pairs]
    stdin = '\n'.join(right[:4]+[pairs[4]['clone']])+'\n'
    r = subprocess.run([str(BIN), 'eval', str(tmp_path/'adapter'), '--data', str(tmp_path/'data'), '--out', str(out), '--quiz'],
                       input=stdin, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lo, hi = binomial_ci(4, 5)
    assert f'You told them apart 4/5 times (80%, 95% CI {lo:.0%}–{hi:.0%})' in r.stdout
    saved = json.loads((out/'eval.json').read_text(encoding='utf-8'))
    assert saved['quiz']['score']['told_apart'] == 4 and saved['blind'] == pairs
