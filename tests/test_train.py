"Chapter 4 checks that are too slow for the notebook: loss mask on two templates, resume after SIGKILL, two-process DDP."
import json, os, signal, subprocess, sys, textwrap
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import load_file
from llmclone_nb.models import tiny_llama, save_tiny, sp_tokenizer, smollm2_path
from llmclone_nb.train import tokenize_chat, loss_spans, fix_pad_token, find_last_checkpoint, train, PadCollator, load_clone, chat

PY = sys.executable
USERS = ["привет, как дела?", "ты где?", "пойдём в кино завтра?", "что думаешь про проект?", "скинь фотки", "как выходные?"]
OWNER = ["норм, работаю потихоньку )", "дома, скоро выйду", "го, только вечером )", "ну такое, надо думать", "щас скину )", "гуляли весь день"]

def _rows(n, seed):
    import random
    rnd, rows = random.Random(seed), []
    for _ in range(n):
        msgs = [{'role': 'system', 'content': 'You are Alex.'}] if rnd.random() < 0.5 else []
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(USERS))
            msgs += [{'role': 'user', 'content': USERS[i]+' '+'ну'*rnd.randint(0, 6)}, {'role': 'assistant', 'content': OWNER[i]}]
        rows.append({'messages': msgs, 'meta': {}})
    return rows

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    "A tiny Llama checkpoint and a small dataset folder in chapter 1's format."
    d = tmp_path_factory.mktemp('ch4')
    save_tiny(*tiny_llama(), d/'tiny')
    data = d/'data'; data.mkdir()
    for split, n, seed in (('train', 64, 0), ('validation', 12, 1)):
        (data/f'{split}.jsonl').write_text(''.join(json.dumps(r, ensure_ascii=False)+'\n' for r in _rows(n, seed)), encoding='utf-8')
    (data/'stats.json').write_text('{}')
    return d

TINY = dict(preset='cpu', load_in_4bit=False, max_seq_len=96, micro_batch=4, grad_accum=1, lora_r=4, lora_alpha=8,
            learning_rate=3e-3, warmup_steps=2, eval_steps=100, save_steps=2, save_total_limit=2)

def _script(tmp, body):
    p = tmp/'run.py'; p.write_text(textwrap.dedent(body)); return p

def _adapter(d): return load_file(Path(d)/'adapter'/'adapter_model.safetensors')
def _losses(d): return {h['step']: h['loss'] for h in json.loads((Path(d)/'log_history.json').read_text()) if 'loss' in h}

# --- 1. reply-only labels on both chat-template families ---------------------------------------------------------

@pytest.mark.parametrize('which', ['smollm2', 'mistral'])
def test_loss_mask_decodes_to_replies(which):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(smollm2_path()) if which=='smollm2' else sp_tokenizer()
    fix_pad_token(tok)
    assert tok.pad_token_id != tok.eos_token_id
    for r in _rows(30, 2):
        s = tokenize_chat(r['messages'], tok, train_on='all')
        replies = [m['content'] for m in r['messages'] if m['role']=='assistant']
        spans = loss_spans(s['labels'])
        assert len(spans) == len(replies)
        for span, text in zip(spans, replies):
            assert tok.eos_token_id in span                      # the end of turn is learned
            assert tok.decode(span, skip_special_tokens=True).strip() == text
        last = tokenize_chat(r['messages'], tok, train_on='last')
        assert loss_spans(last['labels']) == spans[-1:]
    # padding is masked by position: a pad id equal to EOS cannot erase a real end of turn
    a, b = (tokenize_chat(r['messages'], tok) for r in _rows(2, 3))
    batch = PadCollator(tok.eos_token_id)([a, b])
    assert int((batch['labels'] == tok.eos_token_id).sum()) == sum(x['labels'].count(tok.eos_token_id) for x in (a, b))

# --- 2. resume after SIGKILL ---------------------------------------------------------------------------------------

def test_resume_after_sigkill(setup, tmp_path):
    "Kill a run with SIGKILL after step 5 (checkpoint at 4), resume it: same adapter and losses as an uninterrupted run."
    d = setup
    ref = train(d/'data', tmp_path/'ref', max_steps=8, model_id=str(d/'tiny'), args={'disable_tqdm': True, 'logging_steps': 1}, **TINY)
    assert ref['resumed_from'] is None and ref['steps'] == 8
    assert ref['eval_loss'] < ref['eval_loss_start'] - 0.02   # it learns: validation loss drops
    script = _script(tmp_path, f'''
        import os, signal, sys
        from transformers import TrainerCallback
        from llmclone_nb.train import train
        class Kill(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == 5: os.kill(os.getpid(), signal.SIGKILL)
        train({str(d/'data')!r}, {str(tmp_path/'run')!r}, max_steps=8, model_id={str(d/'tiny')!r}, callbacks=[Kill()],
              args={{'disable_tqdm': True, 'logging_steps': 1}}, **{TINY!r})
    ''')
    p = subprocess.run([PY, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert not (tmp_path/'run'/'adapter').exists()
    assert find_last_checkpoint(tmp_path/'run').name == 'checkpoint-4'
    # a checkpoint half-written when the session died (no trainer_state.json) must be skipped
    half = tmp_path/'run'/'checkpoints'/'checkpoint-6'; half.mkdir(); (half/'adapter_model.safetensors').write_bytes(b'')
    res = train(d/'data', tmp_path/'run', max_steps=8, model_id=str(d/'tiny'), args={'disable_tqdm': True, 'logging_steps': 1}, **TINY)
    assert res['resumed_from'].endswith('checkpoint-4') and res['steps'] == 8
    a, b = _adapter(tmp_path/'ref'), _adapter(tmp_path/'run')
    assert a.keys() == b.keys()
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6)
    la, lb = _losses(tmp_path/'ref'), _losses(tmp_path/'run')
    assert sorted(la) == sorted(lb) == list(range(1, 9))
    for s in la: assert abs(la[s]-lb[s]) < 1e-5, (s, la[s], lb[s])
    assert all(a[k].abs().sum() > 0 for k in a if "lora_B" in k)   # LoRA B starts at zero: it trained
    info = json.loads((tmp_path/'run'/'adapter'/'llmclone.json').read_text())
    assert info['base_model'] == str(d/'tiny') and info['preset'] == 'cpu' and info['pad_token'] != info['eos_token']
    model, tok = load_clone(tmp_path/'run'/'adapter')
    assert isinstance(chat(model, 'привет', tokenizer=tok, max_new_tokens=4), str)

def test_finished_run_stays_finished(setup, tmp_path):
    "Running a completed run again trains no extra step (transformers resumes one step past the end) and keeps its adapter."
    d = setup
    kw = dict(max_steps=4, model_id=str(d/'tiny'), args={'disable_tqdm': True, 'logging_steps': 1}, **TINY)
    first = train(d/'data', tmp_path/'run', **kw)
    a = _adapter(tmp_path/'run')
    again = train(d/'data', tmp_path/'run', **kw)
    assert again['resumed_from'].endswith('checkpoint-4') and again['steps'] == 4
    assert max(h['step'] for h in again['log_history']) == 4
    assert sorted(_losses(tmp_path/'run')) == [1, 2, 3, 4]
    b = _adapter(tmp_path/'run')
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
    assert again['eval_loss'] == first['eval_loss']

# --- 3. two processes (gloo) == one process with the same global batch --------------------------------------------

def test_two_process_ddp_matches_single(setup, tmp_path):
    d = setup
    script = _script(tmp_path, f'''
        import sys
        from llmclone_nb.train import train
        opts = {{**{TINY!r}, 'micro_batch': int(sys.argv[2]), 'save_steps': 100}}
        train({str(d/'data')!r}, sys.argv[1], max_steps=6, model_id={str(d/'tiny')!r},
              args={{'disable_tqdm': True, 'logging_steps': 1}}, **opts)
    ''')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GLOO_SOCKET_IFNAME': 'lo'}
    p1 = subprocess.run([PY, str(script), str(tmp_path/'one'), '4'], capture_output=True, text=True, timeout=120, env=env)
    assert p1.returncode == 0, p1.stderr[-3000:]
    p2 = subprocess.run([PY, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(script), str(tmp_path/'two'), '2'],
                        capture_output=True, text=True, timeout=180, env=env)
    assert p2.returncode == 0, p2.stderr[-3000:]
    l1, l2 = _losses(tmp_path/'one'), _losses(tmp_path/'two')
    assert sorted(l1) == sorted(l2) == list(range(1, 7))
    for s in l1: assert abs(l1[s]-l2[s]) < 1e-4, (s, l1[s], l2[s])
    a, b = _adapter(tmp_path/'one'), _adapter(tmp_path/'two')
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
