"Slower checks of llmclone_nb.swa against transformers' Mistral (the notebook holds the main ones)."
import inspect
import pytest, torch
transformers = pytest.importorskip("transformers")
from transformers import MistralConfig, MistralForCausalLM, AttentionInterface
from llmclone_nb.swa import (swa_mask, naive_attention, chunked_attention, as_hf_attention, decode_rolling,
                             influence_map, reach_mask, receptive_field, attn_pairs)

def tiny(W, n_layers=2, hidden=64, seed=0, attn="eager"):
    torch.manual_seed(seed)
    cfg = MistralConfig(vocab_size=101, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=n_layers,
                        num_attention_heads=4, num_key_value_heads=2, sliding_window=W, max_position_embeddings=512,
                        attn_implementation=attn)
    return MistralForCausalLM(cfg).eval()

def test_rolling_cache_long_sequence_batch():
    m = tiny(W=8, n_layers=4, seed=1)
    ids = torch.randint(0, 101, (2, 100))               # 12.5 windows
    with torch.no_grad(): full = m(ids).logits
    torch.testing.assert_close(decode_rolling(m, ids), full, atol=1e-5, rtol=1e-4)

def test_rolling_cache_matches_hf_incremental_decoding():
    "transformers' own step-by-step decoding (its sliding-window cache) agrees with our rolling buffer."
    m = tiny(W=5, n_layers=2, seed=2)
    # transformers 5.24 names the cache `cache`; Colab's 5.15 still calls it `past_key_values`
    KV = 'cache' if 'cache' in inspect.signature(m.forward).parameters else 'past_key_values'
    ids = torch.randint(0, 101, (1, 30))
    steps, cache = [], None
    with torch.no_grad():
        for i in range(ids.shape[1]):
            out = m(ids[:, i:i + 1], **{KV: cache}, use_cache=True)
            cache = out[KV]
            steps.append(out.logits)
    torch.testing.assert_close(decode_rolling(m, ids), torch.cat(steps, 1), atol=1e-5, rtol=1e-4)

@pytest.mark.parametrize("impl", ["naive", "chunked"])
def test_our_kernels_inside_hf_model(impl):
    fn = naive_attention if impl == "naive" else chunked_attention
    AttentionInterface.register(f"test_{impl}", as_hf_attention(fn))
    m = tiny(W=6, n_layers=3, seed=3)
    ids = torch.randint(0, 101, (3, 50))
    with torch.no_grad():
        ref = m(ids).logits
        m.set_attn_implementation(f"test_{impl}")
        ours = m(ids).logits
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)

@pytest.mark.parametrize("W,k", [(8, 2), (2, 5), (6, 1)])
def test_receptive_field_boundary(W, k):
    R = receptive_field(W, k)
    L = R + 10
    im = influence_map(tiny(W=W, n_layers=k, hidden=32, seed=W + k), torch.randint(0, 101, (1, L)))
    assert torch.equal(im > 0, reach_mask(L, W, k))
    assert (im[torch.arange(R, L), torch.arange(0, L - R)] > 0).all()          # distance k(W-1) reached
    assert (im[torch.arange(R + 1, L), torch.arange(0, L - R - 1)] == 0).all() # distance k(W-1)+1 not

def test_pairs_count_the_mask():
    for L in (1, 5, 17, 64):
        for W in (None, 1, 3, 16, 100):
            assert attn_pairs(L, W) == int(swa_mask(L, W).sum())
