"Chapter 6 checks too slow or too fiddly for the notebook: exposure on a model that knows the secret, the scrubbed values of the sample, `evaluate` end to end."
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
from llmclone_nb.evaluate import (style_stats, scrubbed_values, _found, suffix_logprobs, make_canaries, canary_prefix_text,
    exposure, plant_canaries, score_blind, blind_pairs, evaluate, candidate_secrets, seen_in_training)
from collections import Counter

FIXTURE = Path(__file__).resolve().parent/'fixtures'/'planted_pii.json'

@pytest.fixture(scope='module')
def tiny():
    m, tok = tiny_llama(); fix_pad_token(tok)
    return m.eval(), tok

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('ch6')/'data'
    prepare(sample_export_path(), d)
    return d

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

class Knows(torch.nn.Module):
    "Wraps a model and adds `boost` to the logits of one token sequence right after `P` prefix tokens: a model that memorised it."
    def __init__(self, m, P, seq, boost=40.):
        super().__init__(); self.m, self.P, self.seq, self.boost = m, P, seq, boost
    def forward(self, input_ids, attention_mask=None, position_ids=None, **kw):
        out = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        logits = out.logits.clone()
        pos = position_ids if position_ids is not None else torch.arange(input_ids.shape[1])[None]
        for k, t in enumerate(self.seq):
            at = pos[0]==self.P-1+k
            # only where the sequence so far is the memorised one: the input token at this position must be seq[k-1]
            if k: at &= input_ids[0]==self.seq[k-1]
            logits[0, at, t] += self.boost
        out.logits = logits
        return out

def test_exposure_finds_a_memorised_canary(tiny):
    m, tok = tiny
    c = make_canaries(digits=3)[0]
    head = canary_prefix_text(tok, c)
    enc = tok([head+s for s in [c['secret'], *candidate_secrets(c['secret'])]], add_special_tokens=False).input_ids
    P = min(len(os.path.commonprefix([enc[0], e])) for e in enc)
    e = exposure(Knows(m, P, enc[0][P:]), tok, c)
    assert (e['rank'], e['exact'], e['candidates']) == (1, True, 1000) and math.isclose(e['exposure'], math.log2(1000), abs_tol=0.01)
    plain = exposure(m, tok, c)
    assert plain['rank'] > 1 and plain['exposure'] < e['exposure']

def test_suffix_logprobs_chunks_agree(tiny):
    m, _ = tiny
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(5, 300, (9,), generator=g).tolist()
    sufs = [torch.randint(5, 12, (4,), generator=g).tolist() for _ in range(40)]
    a, b = suffix_logprobs(m, prefix, sufs, 1024), suffix_logprobs(m, prefix, sufs, 2)
    assert max(abs(x-y) for x, y in zip(a, b)) < 1e-3

def test_plant_canaries_copies_and_keeps_validation(data, tmp_path):
    cans = plant_canaries(data, tmp_path/'planted')
    rows = read_jsonl(tmp_path/'planted'/'train.jsonl')
    assert sum('canary' in r['meta'] for r in rows) == sum(c['copies'] for c in cans) == 101
    assert len(rows) == len(read_jsonl(data/'train.jsonl'))+101
    assert all(r['messages'][-1]['content']==next(c['reply'] for c in cans if c['name']==r['meta']['canary']) for r in rows if 'canary' in r['meta'])
    assert (tmp_path/'planted'/'validation.jsonl').read_bytes() == (data/'validation.jsonl').read_bytes()
    assert json.loads((tmp_path/'planted'/'canaries.json').read_text())['canaries'] == cans

def test_blind_scores():
    pairs = blind_pairs([dict(context=str(i), you='me', clone='it') for i in range(10)])
    assert {p['clone'] for p in pairs} == {'A', 'B'}
    assert score_blind(pairs, {i: p['clone'] for i, p in enumerate(pairs)})['passed_share'] == 1.0
    assert score_blind(pairs, {})['passed_share'] is None

def test_evaluate_end_to_end(tiny, data, tmp_path):
    "evaluate() on a tiny adapter: eval.json, figures, fit per chat, leak audit and placeholder check all present."
    from peft import LoraConfig, get_peft_model
    m, tok = tiny
    base = save_tiny(m, tok, tmp_path/'base')
    ad = tmp_path/'run'/'adapter'
    peft = get_peft_model(m, LoraConfig(r=2, lora_alpha=4, target_modules=['q_proj', 'v_proj'], init_lora_weights=False))
    peft.save_pretrained(ad); tok.save_pretrained(ad)
    settings = asdict(replace(PRESETS['cpu'], model_id=str(base), max_seq_len=160, micro_batch=2, grad_accum=1))
    (ad/'llmclone.json').write_text(json.dumps({'preset': 'cpu', 'base_model': str(base), 'settings': settings, 'steps': 3, 'seed': 42}))
    planted = tmp_path/'planted'; plant_canaries(data, planted)
    res = evaluate(ad, planted, n=2, max_new_tokens=4, candidates=99)
    out = tmp_path/'run'/'eval'
    assert json.loads((out/'eval.json').read_text())['fit']['rows'] == len(read_jsonl(data/'validation.jsonl'))
    assert (out/'fit.png').stat().st_size > 1000 and (out/'style.png').stat().st_size > 1000
    assert res['fit']['overall']['clone'] != res['fit']['overall']['base']   # the adapter is not a no-op
    assert [e['name'] for e in res['leak']['exposure']] == ['many', 'once', 'never'] and res['leak']['exposure'][0]['candidates'] == 100
    assert sum(res['leak']['seen'].values()) <= 6 and res['placeholders']['values_checked'] > 20 and res['placeholders']['leaks'] == 0
    assert len(res['samples']) == len(res['blind']) == 2
    assert res['verbatim']['replies'] == 2+res['placeholders']['contexts'] and res['signature_words'] and res['style']['clone']['signature words'] is not None
    with pytest.raises(FileNotFoundError, match='GGUF'): evaluate(ad, planted, gguf=tmp_path/'nope.gguf')
    # a max_seq_len too small for the template's head and system prompt keeps no sample: reported, not a hang
    settings['max_seq_len'] = 16
    (ad/'llmclone.json').write_text(json.dumps({'preset': 'cpu', 'base_model': str(base), 'settings': settings, 'steps': 3, 'seed': 42}))
    assert seen_in_training(planted, ad, tok) == Counter()


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
