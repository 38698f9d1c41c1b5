"""The GPU benchmarks run their t4 path on the CPU (issue 30.6): the random checkpoint is built one tensor at a time, in
shards, with a tokenizer that `load_for_training` can open; `bench/train_gpu.py --dry-run` trains NF4 with 8-bit AdamW."""
import importlib.util, json, subprocess, sys
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('bitsandbytes')
BENCH = Path(__file__).resolve().parents[1]/'bench'


def _bench(name):
    spec = importlib.util.spec_from_file_location(name, BENCH/f'{name}.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


def test_random_checkpoint_in_shards_opens_like_a_hub_model(tmp_path):
    """Every weight of the config's model is in the shards (norms at 1), and the folder has a tokenizer. Planted defect
    caught: the old checkpoint without a tokenizer (`load_for_training` then fails on `AutoTokenizer`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from llmclone_nb.models import tiny_mistral, sp_tokenizer
    from llmclone_nb.qlora import load_for_training
    cfg, tok = tiny_mistral(sliding_window=None)[0].config, sp_tokenizer()
    d = _bench('qlora_memory_gpu').random_checkpoint(tmp_path/'ckpt', cfg, tok, shard_bytes=100_000)
    index = json.loads((d/'model.safetensors.index.json').read_text())
    assert len(set(index['weight_map'].values())) > 1   # several shards: one at a time in memory
    ref = AutoModelForCausalLM.from_config(cfg)
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float16)
    got, want = m.state_dict(), ref.state_dict()
    assert {k: tuple(v.shape) for k, v in got.items()} == {k: tuple(v.shape) for k, v in want.items()}
    assert all(bool((v == 1).all()) for k, v in got.items() if k.endswith('norm.weight'))
    assert 0.01 < float(got['model.layers.0.mlp.up_proj.weight'].float().std()) < 0.03
    assert AutoTokenizer.from_pretrained(d)('привет').input_ids == tok('привет').input_ids
    model, _ = load_for_training('t4', model_id=str(d))   # what the benchmark's child process does
    assert sum(p.requires_grad for p in model.parameters()) > 0


def test_train_gpu_dry_run_is_the_t4_path(tmp_path):
    "Planted defect caught: the old dry run (fp32 weights, adamw_torch)."
    p = subprocess.run([sys.executable, str(BENCH/'train_gpu.py'), '--dry-run', '--steps', '1'], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout[p.stdout.index('\n{\n')+1:]   # the row, printed as indented JSON after the training log
    row = json.loads(out[:out.index('\n}')+2])
    assert row['load_in_4bit'] and row['optim'] == 'paged_adamw_8bit' and row['optimizer'] == 'bitsandbytes.AdamW 8-bit', row
    assert row['steps'] == 1 and row['final_loss'] == row['final_loss']
