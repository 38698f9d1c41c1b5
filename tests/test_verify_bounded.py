"Chapter 5a's bounded-memory verification: every tensor against its merged weight, and llama.cpp on the first layers that fit."
from pathlib import Path
from unittest import mock
import numpy as np, pytest, torch

pytest.importorskip('gguf'); pytest.importorskip('llama_cpp'); pytest.importorskip('peft')
import gguf
from hypothesis import given, settings, strategies as st, HealthCheck
import llmclone_nb.gguf_export as ge
from llmclone_nb.gguf_export import write_gguf, quantize_gguf, make_demo_adapter, encode_merged, encode_tensor, MergedTensor, iter_lazy
from llmclone_nb.verify import tensor_check, gguf_tensors, layers_that_fit, cut_gguf, verify_gguf, load_reference
from llmclone_nb.models import tiny_mistral, save_tiny

T = gguf.GGMLQuantizationType


@pytest.fixture(scope='module')
def tiny4(tmp_path_factory):
    "A 4-layer tiny Mistral (grouped-query attention: 4 heads, 2 KV heads) with a random-B adapter on every projection."
    d = tmp_path_factory.mktemp('tiny4')
    m, t = tiny_mistral(sliding_window=None, num_hidden_layers=4, hidden_size=128, intermediate_size=256)
    base = save_tiny(m, t, d/'base')
    return base, make_demo_adapter(base, d/'adapter', std=0.05), d


def _reader_table(f):
    return {t.name: (int(t.data_offset), int(t.n_bytes), t.tensor_type, tuple(int(x) for x in reversed(t.shape)))
            for t in gguf.GGUFReader(f).tensors}


@pytest.mark.parametrize('type', ['f16', 'q8_0', 'q4_k_m'])
def test_header_reader_is_ggufs(tiny4, type):
    "Our header-only reader gives the offsets, sizes, types and shapes gguf's GGUFReader gives, for our files and llama.cpp's."
    base, ad, d = tiny4
    f = write_gguf(ad, d/f'h-{type}.gguf', type) if type != 'q4_k_m' else quantize_gguf(write_gguf(ad, d/'h16.gguf', 'f16'), d/'hk.gguf', type)
    assert gguf_tensors(f) == _reader_table(f)


@pytest.mark.parametrize('type', ['f16', 'bf16', 'q8_0', 'q4_0', 'q6_k'])
def test_correct_files_pass(tiny4, type):
    base, ad, d = tiny4
    f = d/f'ok-{type}.gguf'
    if type == 'q6_k': quantize_gguf(write_gguf(ad, d/'ok16.gguf', 'f16'), f, type)
    else: write_gguf(ad, f, type)
    r = tensor_check(f, ad)
    assert r['ok'] and r['n_tensors'] == len(gguf_tensors(f)) and r['adapter_judged'] == 28, r
    assert 0.9 < r['kept_median'] < 1.1, r


def _swap_layers(real):
    "iter_lazy with layers 0 and 1 of v_proj exchanged: a converter that mixes up its layer order."
    def fake(base, adapter=None):
        items = list(real(base, adapter)); names = [n for n, _ in items]; d = dict(items)
        a, b = 'model.layers.0.self_attn.v_proj.weight', 'model.layers.1.self_attn.v_proj.weight'
        d[a], d[b] = d[b], d[a]
        return iter([(n, d[n]) for n in names])
    return fake


def test_wrong_files_are_refused(tiny4):
    "Three converter mistakes, each caught by the tensor it breaks: no merge, Q/K not reordered, layers swapped."
    base, ad, d = tiny4
    unmerged = tensor_check(write_gguf(base, d/'unmerged.gguf', 'q8_0'), ad)
    assert not unmerged['ok'] and any('not merged' in p for p in unmerged['problems']), unmerged
    with mock.patch.object(ge, 'permute_qk', lambda w, n: w):
        f = write_gguf(ad, d/'unpermuted.gguf', 'f16')
    r = tensor_check(f, ad)
    assert not r['ok'] and {p.split(' ')[0].split('.')[2] for p in r['problems']} == {'attn_q', 'attn_k'}, r['problems']
    with mock.patch.object(ge, 'iter_lazy', _swap_layers(ge.iter_lazy)):
        f = write_gguf(ad, d/'swapped.gguf', 'f16')
    r = tensor_check(f, ad)
    assert not r['ok'] and {p.split(' ')[0].rstrip(':') for p in r['problems']} == {'blk.0.attn_v.weight', 'blk.1.attn_v.weight'}, r['problems']


def test_export_raises_on_a_wrong_file(tiny4):
    base, ad, d = tiny4
    with mock.patch.object(ge, 'permute_qk', lambda w, n: w), pytest.raises(AssertionError, match='differ from the merged model'):
        ge.export_gguf(ad, d/'bad'/'clone.gguf', 'f16', modelfile=False)


def test_cut_verification(tiny4):
    "With little memory the check runs the first layers in llama.cpp against HF cut the same way — and agrees; uncut, it would not."
    base, ad, d = tiny4
    f = write_gguf(ad, d/'cut-f16.gguf', 'f16')
    sizes = gguf_tensors(f); rest = sum(nb for n, (_, nb, _, _) in sizes.items() if not n.startswith('blk.'))
    layer = sum(nb for n, (_, nb, _, _) in sizes.items() if n.startswith('blk.0.'))
    ram = 3*(rest+2.5*layer)   # a third of it holds the non-layer tensors and two layers
    assert layers_that_fit(f) == (4, 4) and layers_that_fit(f, ram) == (2, 4)
    r = verify_gguf(f, ad, ram=ram)
    assert (r['layers_run'], r['layers'], r['reference']) == (2, 4, 'streamed') and r['tensors']['ok']
    assert r['top1_clear'] >= 0.99 and r['max_abs_err'] < 0.05, r
    cut = cut_gguf(f, d/'first2.gguf', 2)
    assert layers_that_fit(cut, float('inf')) == (2, 2)
    for n, (_, nb, q, shape) in gguf_tensors(cut).items(): assert sizes[n][1:] == (nb, q, shape)   # same tensors, same bytes count
    wrong = verify_gguf(cut, load_reference(ad), max_tokens=64)   # the 2-layer file against the whole 4-layer model
    assert wrong['max_abs_err'] > 10*r['max_abs_err'], (wrong['max_abs_err'], r['max_abs_err'])
    assert not list(Path(d).glob('**/first-layers.gguf'))   # the cut copy of the check is removed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 70), cols=st.sampled_from([32, 64, 96]), block=st.integers(1, 2000),
       qtype=st.sampled_from([T.F16, T.BF16, T.Q8_0, T.Q4_0]), lora=st.booleans(), seed=st.integers(0, 2**16))
def test_blocks_encode_as_the_whole(tmp_path, rows, cols, block, qtype, lora, seed):
    "Merging and encoding a block of rows at a time gives the whole tensor's bytes (rows are independent in every GGML type)."
    from safetensors.torch import save_file
    from llmclone_nb.gguf_export import st_header
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g).to(torch.bfloat16)
    f = tmp_path/f'w{seed}.safetensors'; save_file({'w': w}, f)
    ad = {'lora': {'w': (torch.randn(2, cols, generator=g), torch.randn(rows, 2, generator=g)*0.1, 2.0, 'linear')}} if lora else None
    t = MergedTensor(f, st_header(f)['w'], 'w', ad)
    whole = encode_tensor(t.rows().numpy(), qtype)
    got = encode_merged(t, qtype, block=block)
    if not lora: assert got.tobytes() == whole.tobytes()
    else:   # a block's B[r0:r1] @ A may round its last bit differently from the whole product: compare what the bytes mean
        a, b = gguf.quants.dequantize(got, qtype), gguf.quants.dequantize(whole, qtype)
        assert np.mean(a != b) < 0.01 and np.allclose(a, b, atol=0.2), (np.mean(a != b), np.abs(a-b).max())
    for r0, r1 in ((0, 1), (rows//2, rows), (1, rows+5)):
        assert torch.allclose(t.rows(r0, r1), t.rows()[r0:r1], atol=1e-6)
