"Slower checks for chapter 3 (llmclone_nb.qlora): the CPU 4-bit trap and the 7B-shaped footprint."
import shutil, tempfile
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
bnb = pytest.importorskip('bitsandbytes')
from llmclone_nb.qlora import load_for_training, guard_cpu_4bit, _fp32_twin, _lora_grads
from llmclone_nb.models import tiny_llama, save_tiny


@pytest.fixture(scope='module')
def tiny_dir():
    d = Path(tempfile.mkdtemp())/'tiny'
    save_tiny(*tiny_llama(seed=1), d)
    yield d
    shutil.rmtree(d.parent)


def _grad_error_after_generate(tiny_dir, rearm:bool)->float:
    m4, tok = load_for_training('cpu', model_id=str(tiny_dir), load_in_4bit=True)
    torch.manual_seed(1)
    for n, p in m4.named_parameters():
        if 'lora_B' in n: p.data.normal_(0, 0.1)
    if rearm:  # what load_for_training would return without the guard
        for m in m4.modules():
            if isinstance(m, bnb.nn.Linear4bit): m.support_avx512bf16_for_cpu = True
    ref = _fp32_twin(m4, str(tiny_dir))
    ids = tok("Hello, how are you doing today? Привет!", return_tensors='pt').input_ids
    m4.eval()
    with torch.no_grad(): m4.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.eos_token_id)
    g4, gr = _lora_grads(m4, ids), _lora_grads(ref, ids)
    assert set(g4)==set(gr) and len(gr)==2*7*2
    return max(float('inf') if g4[k] is None else ((g4[k]-gr[k]).norm()/gr[k].norm()).item() for k in gr)


def test_lora_grads_after_generate_match_fp32_twin(tiny_dir):
    assert _grad_error_after_generate(tiny_dir, rearm=False) < 1e-4


@pytest.mark.skipif(torch.cuda.is_available() or not bnb.functional.has_avx512bf16(),
                    reason='the trap only exists on CPUs with AVX512-BF16')
def test_without_guard_the_check_fails(tiny_dir):
    assert _grad_error_after_generate(tiny_dir, rearm=True) > 0.1


@pytest.mark.skipif(torch.cuda.is_available() or not bnb.functional.has_avx512bf16(),
                    reason='the trap only exists on CPUs with AVX512-BF16')
def test_guard_unpacks_already_repacked_layers(tiny_dir):
    "A model that already ran an eval forward gets its weights unpacked by the guard (best effort: absmax went via bf16)."
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=torch.float32)
    m = AutoModelForCausalLM.from_pretrained(tiny_dir, quantization_config=q, dtype=torch.float32)
    lin = [x for x in m.modules() if isinstance(x, bnb.nn.Linear4bit)]
    shape = lin[0].weight.shape
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad(): m.eval()(ids)
    assert all(x.weight.quant_state.packing_format_for_cpu for x in lin)
    assert guard_cpu_4bit(m)==len(lin)==14
    assert not any(getattr(x.weight.quant_state, 'packing_format_for_cpu', False) for x in lin)
    assert lin[0].weight.shape==shape
    x = torch.randn(3, lin[0].in_features, requires_grad=True)
    lin[0].train()(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum()>0


def _footprint_of_layers(n_layers:int, tmp:Path)->dict:
    "Save a Mistral-7B-shaped model with `n_layers` random decoder layers (fp16) and measure its 4-bit footprint."
    from transformers import MistralConfig, AutoModelForCausalLM
    from llmclone_nb.qlora import footprint_4bit
    cfg = MistralConfig(vocab_size=32768, num_hidden_layers=n_layers)
    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float16)
    d = tmp/f'mistral7b-shaped-{n_layers}'
    m.save_pretrained(d); del m
    out = footprint_4bit(str(d), 'float16', double_quant=True)
    shutil.rmtree(d)
    return out


def test_weight_term_equals_footprint_of_7b_shaped_model(tmp_path):
    "Mistral-7B's shape with 1 and 2 layers: exact per-layer and embedding terms, extrapolated to 32 layers."
    from transformers import MistralConfig
    from llmclone_nb.qlora import estimate_memory
    f1, f2 = _footprint_of_layers(1, tmp_path), _footprint_of_layers(2, tmp_path)
    for n, f in ((1, f1), (2, f2)):
        e = estimate_memory(MistralConfig(vocab_size=32768, num_hidden_layers=n), 't4')
        assert (e['weights'], e['quant_constants']) == (f['weights'], f['quant_constants'])
    full = estimate_memory(MistralConfig(vocab_size=32768), 't4')
    for k in ('weights', 'quant_constants'):
        assert full[k] == f1[k] + 31*(f2[k] - f1[k])
    assert 4.0e9 < full['weights'] + full['quant_constants'] < 4.3e9


def test_gated_default_falls_back_to_the_open_copy(tiny_dir, monkeypatch, capsys):
    "No token for the preset's gated repository: the loader trains on the preset's non-gated copy and records it."
    from dataclasses import replace
    import llmclone_nb.qlora as ql
    from llmclone_nb.presets import PRESETS, GatedModelError
    class GatedRepoError(Exception): pass   # huggingface_hub's error of that name, as the Hub raises it
    real = ql._open_config
    def open_config(mid, token):
        if mid == 'gated-org/model': raise GatedRepoError('401 Client Error: access to model gated-org/model is restricted')
        return real(mid, token)
    monkeypatch.setattr(ql, '_open_config', open_config); ql._BASES.clear()
    p = replace(PRESETS['cpu'], model_id='gated-org/model', alt_model_id=str(tiny_dir))
    m, tok = load_for_training(p)
    assert m.llmclone_base == str(tiny_dir) and 'non-gated copy' in capsys.readouterr().out
    with pytest.raises(GatedModelError, match='accept the terms'):   # a model the user named is never swapped
        load_for_training(p, model_id='gated-org/model')
    with pytest.raises(GatedModelError):                             # nor a preset without a copy
        load_for_training(replace(p, alt_model_id=None))
    ql._BASES.clear()
