"""The t4 preset's training path on the CPU (issue 30.7): a tiny Mistral-shaped model in NF4 through bitsandbytes, paged 8-bit
AdamW (bitsandbytes ≥ 0.49 steps it on the CPU), gradient checkpointing, a checkpoint and a resume; llmclone.json records the
optimizer that really ran."""
import json
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
bnb = pytest.importorskip('bitsandbytes')
from safetensors.torch import load_file
from transformers import TrainerCallback
from llmclone_nb.models import tiny_mistral, save_tiny
from llmclone_nb.train import train, find_last_checkpoint

T4 = dict(preset='t4', max_seq_len=64, micro_batch=2, grad_accum=2, lora_r=32, lora_alpha=64, warmup_steps=1,
          eval_steps=100, save_steps=1, eval_rows=2, learning_rate=1e-3, args={'disable_tqdm': True, 'logging_steps': 1})


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('t4')
    save_tiny(*tiny_mistral(hidden_size=128, intermediate_size=256), d/'tiny')   # LoRA A/B of 32×128: 8-bit state (≥ 4096 values)
    row = lambda i: {'messages': [{'role': 'system', 'content': 'You are Alex.'}, {'role': 'user', 'content': f'как дела {i}?'},
                                  {'role': 'assistant', 'content': f'норм, работаю {i} )'}]}
    (d/'data').mkdir()
    (d/'data'/'train.jsonl').write_text(''.join(json.dumps(row(i), ensure_ascii=False)+'\n' for i in range(24)))
    (d/'data'/'validation.jsonl').write_text(''.join(json.dumps(row(i), ensure_ascii=False)+'\n' for i in range(6)))
    return d


class Dropped(Exception): pass

class Probe(TrainerCallback):
    "Records what the Trainer really trains with; optionally stops the run (an exception, as a dropped session) after a step."
    def __init__(self, stop_after=None): self.stop_after, self.seen = stop_after, {}
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kw):
        self.seen = dict(n4=sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules()),
                         checkpointing=model.is_gradient_checkpointing, use_cache=model.config.use_cache,
                         fp16=args.fp16, optim=str(getattr(args.optim, 'value', args.optim)))
    def on_step_end(self, args, state, control, optimizer=None, **kw):
        opt = getattr(optimizer, 'optimizer', optimizer)
        self.seen['optimizer'] = f"{type(opt).__module__}.{type(opt).__name__}"
        self.seen['bits'] = getattr(getattr(opt, 'args', None), 'optim_bits', 32)
        self.seen['state_dtypes'] = sorted({str(v.dtype) for s in opt.state.values() for v in s.values() if torch.is_tensor(v)})
        if state.global_step == self.stop_after: raise Dropped('session dropped')


def test_t4_preset_trains_and_resumes_on_the_cpu(setup, tmp_path):
    """Planted defects caught: `training_args` swapping paged_adamw_8bit for adamw_torch on the CPU (the optimizer class and
    the recorded one differ), and a resume that loses the 8-bit optimizer state (the adapters differ from the straight run)."""
    d, kw = setup, dict(model_id=str(setup/'tiny'), **T4)
    probe = Probe()
    ref = train(d/'data', tmp_path/'ref', max_steps=3, callbacks=[probe], **kw)
    s = probe.seen
    assert s['n4'] == 7*2 and s['checkpointing'] and s['use_cache'] is False and s['optim'] == 'paged_adamw_8bit', s
    assert s['optimizer'].startswith('bitsandbytes.') and s['bits'] == 8 and 'torch.uint8' in s['state_dtypes'], s   # 8-bit moments
    info = json.loads((tmp_path/'ref'/'adapter'/'llmclone.json').read_text())
    assert info['optimizer'] == 'bitsandbytes.AdamW 8-bit' and info['settings']['optim'] == 'paged_adamw_8bit'   # not paged on a CPU
    assert info['settings']['load_in_4bit'] and info['settings']['dtype'] == 'float16' and info['base_model'] == str(d/'tiny')
    assert ref['steps'] == 3 and all(v == v for v in (ref['train_loss'], ref['eval_loss']))   # finite losses

    with pytest.raises(Dropped): train(d/'data', tmp_path/'run', max_steps=3, callbacks=[Probe(stop_after=2)], **kw)
    assert find_last_checkpoint(tmp_path/'run').name == 'checkpoint-1' and not (tmp_path/'run'/'adapter').exists()
    res = train(d/'data', tmp_path/'run', max_steps=3, **kw)
    assert res['resumed_from'].endswith('checkpoint-1') and res['steps'] == 3
    a, b = (load_file(Path(p)/'adapter'/'adapter_model.safetensors') for p in (tmp_path/'ref', tmp_path/'run'))
    assert a.keys() == b.keys() and any('lora_B' in k for k in a)
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-5)
    assert all(a[k].abs().sum() > 0 for k in a if 'lora_B' in k)   # B starts at zero: it trained
