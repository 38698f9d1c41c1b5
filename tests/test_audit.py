"""Chapter 6a, the canary audit: exposure on a model that knows the secret, the trie scorer in chunks, planting, and the
audit run end to end on a tiny model — each canary's count verified in the data the audit clone really trained on."""
import json, math, os
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
from llmclone_nb.models import tiny_llama, save_tiny
from llmclone_nb.presets import PRESETS, sample_export_path
from llmclone_nb.train import fix_pad_token, read_jsonl
from llmclone_nb.export import prepare
from llmclone_nb.audit import (suffix_logprobs, make_canaries, canary_prefix_text, exposure, plant_canaries, candidate_secrets,
    seen_in_training, canary_counts, verify_planted, audit, audit_preset)

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

def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r, ensure_ascii=False)+'\n' for r in rows), encoding='utf-8')

def test_verify_planted_reads_the_text_not_the_labels(data, tmp_path):
    "A missing copy, a copy whose label lies, and a secret that also sits in your own messages are each caught."
    cans = plant_canaries(data, tmp_path/'planted')
    rows = read_jsonl(tmp_path/'planted'/'train.jsonl')
    assert verify_planted(tmp_path/'planted'/'train.jsonl', cans) == {'many': {'rows': 100, 'secret': 100}, 'once': {'rows': 1, 'secret': 1},
                                                                      'never': {'rows': 0, 'secret': 0}}
    many = [i for i, r in enumerate(rows) if r['messages'][-1]['content']==cans[0]['reply']]
    _write(tmp_path/'missing'/'train.jsonl', [r for i, r in enumerate(rows) if i!=many[0]])                 # 99 copies, labels intact
    with pytest.raises(ValueError, match=r"'many' planted 100×: 99 rows end with it"): verify_planted(tmp_path/'missing'/'train.jsonl', cans)
    relabelled = [dict(r, messages=r['messages'][:-1]+[{'role': 'assistant', 'content': 'ок'}]) if i==many[1] else r for i, r in enumerate(rows)]
    assert relabelled[many[1]]['meta']['canary'] == 'many'                                                    # the label still says canary
    _write(tmp_path/'relabelled'/'train.jsonl', relabelled)
    assert canary_counts(tmp_path/'relabelled'/'train.jsonl', cans)['many']['rows'] == 99
    never = cans[2]
    leaky = rows+[{'messages': [{'role': 'user', 'content': 'какой код?'}, {'role': 'assistant', 'content': f"вроде {never['secret']}"}], 'meta': {}}]
    _write(tmp_path/'leaky'/'train.jsonl', leaky)
    with pytest.raises(ValueError, match=r"'never' planted 0×: 0 rows end with it, 1 hold its secret"): verify_planted(tmp_path/'leaky'/'train.jsonl', cans)

def test_seen_in_training_nothing_fits(tiny, data, tmp_path):
    "A max_seq_len too small for the template's head and system prompt keeps no sample: reported as nothing seen, not a hang."
    _, tok = tiny
    plant_canaries(data, tmp_path/'planted')
    ad = tmp_path/'adapter'; ad.mkdir()
    (ad/'llmclone.json').write_text(json.dumps({'settings': dict(max_seq_len=16, micro_batch=2, grad_accum=1), 'steps': 3, 'seed': 42}))
    assert seen_in_training(tmp_path/'planted', ad, tok) == Counter()

TINY = dict(load_in_4bit=False, max_seq_len=160, micro_batch=16, grad_accum=1, lora_r=4, lora_alpha=8, learning_rate=3e-3,
            warmup_steps=1, eval_steps=1000, save_steps=1000)

def test_audit_end_to_end(tiny, data, tmp_path):
    "The audit on a tiny model: canaries planted into a copy, counted in the text of the data the clone trained on, one pass seen, audit.json written."
    m, tok = tiny
    base = save_tiny(m, tok, tmp_path/'base')
    before = (data/'train.jsonl').read_bytes()
    res = audit(data, tmp_path/'audit', preset='cpu', candidates=49, n=2, model_id=str(base), args={'disable_tqdm': True},
                **TINY)
    saved = json.loads((tmp_path/'audit'/'audit.json').read_text(encoding='utf-8'))
    assert saved['canaries'] == res['canaries'] and saved['base_model'] == str(base) and saved['preset'] == 'cpu'
    assert (data/'train.jsonl').read_bytes() == before and not (data/'canaries.json').exists()   # your dataset is untouched
    # the run's own record of its training data, and that file's text counted here, independently of audit()
    info = json.loads((Path(res['adapter'])/'llmclone.json').read_text(encoding='utf-8'))
    trained = read_jsonl(Path(info['data']['dir'])/'train.jsonl')
    assert Path(info['data']['dir']).resolve() == (tmp_path/'audit'/'data-canaries').resolve()
    for c in res['canaries']:
        reply = next(p['reply'] for p in res['planted'] if p['name'] == c['name'])
        here = sum(r['messages'][-1]['content'] == reply for r in trained)
        assert here == c['copies'] == c['in_training_data'] == c['trainable'], (c, here)
    # at least the preset's steps and at least one pass over the planted file: every copy was in a batch
    rows = len(trained)
    assert res['steps'] == max(PRESETS['cpu'].max_steps, math.ceil(rows/16)) and res['passes'] >= 1
    seen = {c['name']: c['seen'] for c in res['canaries']}
    extra = res['steps']*16-rows                      # samples drawn from the second pass
    assert seen['never'] == 0 and 100 <= seen['many'] <= 100+extra and 1 <= seen['once'] <= 2, seen
    assert [e['name'] for e in res['exposure']] == ['many', 'once', 'never'] and res['exposure'][0]['candidates'] == 50
    assert 'exposure_base' in res['exposure'][0] and res['in_your_data'] == {c['name']: {'rows': 0, 'secret': 0} for c in res['canaries']}
    assert res['unprompted']['replies'] == 2 and len(res['extraction']) == 3

def test_cli_audit_says_what_is_missing(tmp_path, capsys):
    from llmclone_nb.cli import main
    assert main(['audit', str(tmp_path/'nope')]) == 2
    err = capsys.readouterr().err
    assert 'llmclone audit: error' in err and str(tmp_path/'nope'/'train.jsonl') in err and 'llmclone prepare' in err

def test_audit_preset_states_its_differences():
    "The audit clone's preset is yours, run for at least one pass over the planted rows, evaluated once; explicit fields win."
    p, rest = audit_preset('cpu', 292)
    cpu = PRESETS['cpu']
    assert (p.max_steps, p.eval_steps, rest) == (math.ceil(292/cpu.batch_size), p.max_steps, {})
    assert replace(p, max_steps=cpu.max_steps, eval_steps=cpu.eval_steps) == cpu   # nothing else differs
    assert audit_preset('cpu', 10)[0].max_steps == cpu.max_steps                    # never fewer steps than the preset's
    p, rest = audit_preset('cpu', 292, max_steps=5, eval_steps=2, seed=1)
    assert (p.max_steps, p.eval_steps, rest) == (5, 2, {'seed': 1})


def test_audit_is_capped_by_the_preset(tmp_path):
    """10,000 rows, a real export's size: one pass with the t4 preset would be 1,263 steps. The plan caps the audit clone at the preset's
    `AUDIT_MAX_STEPS`, plants into the canaries plus a fixed subset of the rows that one pass covers, and says so before anything trains.
    Planted defects that fail it: no cap (steps = one pass over everything), or a cap without the subset (part of a pass: copies unseen)."""
    from llmclone_nb.audit import audit_plan, audit_plan_line, AUDIT_MAX_STEPS
    d = tmp_path/'data'; d.mkdir()
    rows = [{'messages': [{'role': 'user', 'content': f'вопрос {i}'}, {'role': 'assistant', 'content': f'ответ номер {i}'}]} for i in range(10_000)]
    (d/'train.jsonl').write_text(''.join(json.dumps(r, ensure_ascii=False)+'\n' for r in rows), encoding='utf-8')
    t4, cap = PRESETS['t4'], AUDIT_MAX_STEPS['t4']
    plan = audit_plan(d, 't4')
    assert plan['capped'] and (plan['steps'], plan['rows'], plan['your_rows']) == (cap, cap*t4.batch_size, 10_000)
    cans = plant_canaries(d, tmp_path/'planted', max_rows=plan['max_rows'])
    n = len(read_jsonl(tmp_path/'planted'/'train.jsonl'))
    assert n == plan['rows'] and audit_preset('t4', n)[0].max_steps == cap and math.ceil(n/t4.batch_size) <= cap   # one pass covers it all
    verify_planted(tmp_path/'planted'/'train.jsonl', cans)                                                         # every copy is there
    assert 'subset' in audit_plan_line(plan) and 'estimate' in audit_plan_line(plan)
    small = audit_plan(d, 'cpu', max_steps=5)          # an explicit step count wins: no cap, no subset
    assert (small['capped'], small['steps'], small['max_rows']) == (False, 5, None)


def test_canary_secrets_are_fresh():
    """A 4-digit secret may well occur in a big export; then the control would not be a control. `fresh_canaries` draws secrets that
    occur nowhere in your rows. Planted defect: always seed 0."""
    from llmclone_nb.audit import fresh_canaries
    taken = make_canaries()
    rows = [{'messages': [{'role': 'assistant', 'content': f"мой код {taken[2]['secret']}"}]}]
    cans = fresh_canaries(rows)
    assert cans != taken and not any(c['secret'] in rows[0]['messages'][0]['content'] for c in cans)
    assert fresh_canaries([]) == taken
