"Slower and edge-case checks of chapter 5's GGUF export, on tiny random models (seconds each)."
import json, math
from pathlib import Path
import numpy as np, pytest, torch

pytest.importorskip('gguf'); pytest.importorskip('llama_cpp'); pytest.importorskip('peft')
import gguf
from llmclone_nb.gguf_export import (st_header, st_read, base_shards, lora_factors, iter_merged, merge_to_hf, write_gguf,
                                     make_demo_adapter, export_gguf, read_adapter)
from llmclone_nb.verify import verify_gguf
from llmclone_nb.models import tiny_llama, tiny_mistral, save_tiny


def _logits(model, tok, text="Привет, как дела? 123"):
    ids = tok(text, return_tensors='pt').input_ids
    with torch.no_grad(): return model(ids).logits


def test_st_read_dtypes(tmp_path):
    from safetensors.torch import save_file
    ts = {'a': torch.randn(3, 5).to(torch.bfloat16), 'b': torch.randn(4).half(), 'c': torch.randn(2, 2)}
    save_file(ts, tmp_path/'x.safetensors')
    h = st_header(tmp_path/'x.safetensors')
    with open(tmp_path/'x.safetensors', 'rb') as f:
        for k, t in ts.items(): assert torch.equal(st_read(f, h[k]), t.float()), k


def _peft_adapter(tmp_path, model, tok, **cfg):
    "A real peft adapter (random B) on `model`, saved with llmclone.json, plus the peft model's logits."
    from peft import LoraConfig, get_peft_model
    base = save_tiny(model, tok, tmp_path/'base')
    pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, **cfg))
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if 'lora_B' in n or 'lora_embedding_B' in n: p.normal_(0, 0.05)
    pm.eval().save_pretrained(tmp_path/'adapter')
    (tmp_path/'adapter'/'llmclone.json').write_text(json.dumps({'base_model': str(base)}))
    return base, tmp_path/'adapter', _logits(pm, tok)


def test_merge_rslora_embedding_sharded(tmp_path):
    "rsLoRA scaling, LoRA on the embedding, and a sharded base checkpoint all merge exactly."
    from transformers import AutoModelForCausalLM
    m, t = tiny_llama()
    m.save_pretrained(tmp_path/'sharded', max_shard_size='100KB'); t.save_pretrained(tmp_path/'sharded')
    assert len(base_shards(tmp_path/'sharded')) > 1
    base, ad, want = _peft_adapter(tmp_path, m, t, target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj', 'embed_tokens'],
                                   use_rslora=True, alpha_pattern={'down_proj': 2})
    f = lora_factors(ad)
    assert any(k=='embedding' for *_, k in f['lora'].values())
    assert math.isclose(f['lora']['model.layers.0.mlp.down_proj.weight'][2], 2/math.sqrt(4))
    out = merge_to_hf(ad, tmp_path/'merged')
    got = _logits(AutoModelForCausalLM.from_pretrained(out), t)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # the sharded copy of the base merges the same, shard by shard
    names = [n for n, _ in iter_merged(tmp_path/'sharded', f)]
    assert sorted(names) == sorted(st_header(base/'model.safetensors'))


def test_gqa_llama_f16_and_sliding_window(tmp_path):
    "Q/K permutation with grouped-query attention (4 heads, 2 KV heads); Mistral's window caps the GGUF context."
    m, t = tiny_llama(num_attention_heads=8, num_key_value_heads=2)
    base = save_tiny(m, t, tmp_path/'llama')
    ad = make_demo_adapter(base, tmp_path/'ad', std=0.05)
    g = write_gguf(ad, tmp_path/'l.gguf', 'f16')
    r = verify_gguf(g, ad, texts=["<s>[INST] привет [/INST]ну привет)</s>", "<s>[INST] see you at 18:30? [/INST]ok</s>"])
    assert r['top1'] >= 0.99 and r['max_abs_err'] < 0.05, r
    mm, tt = tiny_mistral(sliding_window=16)
    g2 = write_gguf(save_tiny(mm, tt, tmp_path/'mistral'), tmp_path/'m.gguf', 'q8_0')
    assert gguf.GGUFReader(g2).get_field('llama.context_length').contents() == 16


def test_llmclone_chat_template_wins(tmp_path):
    m, t = tiny_llama()
    base = save_tiny(m, t, tmp_path/'base')
    ad = make_demo_adapter(base, tmp_path/'ad')
    meta = json.loads((ad/'llmclone.json').read_text()); meta['chat_template'] = '{% for m in messages %}{{ m.content }}{% endfor %}'
    (ad/'llmclone.json').write_text(json.dumps(meta))
    g = write_gguf(ad, tmp_path/'x.gguf', 'q8_0')
    assert gguf.GGUFReader(g).get_field('tokenizer.chat_template').contents() == meta['chat_template']


def test_errors_speak(tmp_path):
    with pytest.raises(FileNotFoundError, match='adapter_config.json'): read_adapter(tmp_path)
    m, t = tiny_llama()
    base = save_tiny(m, t, tmp_path/'base')
    ad = make_demo_adapter(base, tmp_path/'ad')
    cfg = json.loads((ad/'adapter_config.json').read_text())
    (ad/'adapter_config.json').write_text(json.dumps({**cfg, 'use_dora': True}))
    with pytest.raises(NotImplementedError, match='DoRA'): write_gguf(ad, tmp_path/'x.gguf')
    (ad/'adapter_config.json').write_text(json.dumps(cfg))
    # an adapter for a bigger model than the base: tensors it changes do not exist
    m3, t3 = tiny_llama(num_hidden_layers=3)
    ad3 = make_demo_adapter(save_tiny(m3, t3, tmp_path/'base3'), tmp_path/'ad3', base_model=str(base))
    with pytest.raises(KeyError, match='different base model'): write_gguf(ad3, tmp_path/'y.gguf')
    assert not (tmp_path/'y.gguf').exists() and not list(tmp_path.glob('.y.gguf*'))
    with pytest.raises(ValueError, match='choose one of'): export_gguf(ad, tmp_path/'z.gguf', 'q2_k')


def test_smollm2_q8_0_export(tmp_path):
    "The real small model end to end: q8_0 through `export_gguf`, tokenisation identical, high agreement."
    from llmclone_nb.models import smollm2_path
    ad = make_demo_adapter(smollm2_path(), tmp_path/'adapter')
    out = export_gguf(ad, tmp_path/'clone-q8_0.gguf', 'q8_0')
    v = out['verification']
    assert v['tokens_identical'], v['token_mismatches']
    assert v['top1'] > 0.95 and v['ppl'] < 1.2*v['ppl_hf'], v
    assert (tmp_path/'Modelfile').exists()


def test_held_out_texts_from_chapter1_data(tmp_path):
    "Chapter 4's llmclone.json names chapter 1's data folder: its validation rows are the held-out texts."
    m, t = tiny_llama()
    ad = make_demo_adapter(save_tiny(m, t, tmp_path/'base'), tmp_path/'ad')
    (tmp_path/'data').mkdir()
    rows = [{'messages': [{'role': 'user', 'content': f'вопрос {i}'}, {'role': 'assistant', 'content': f'ответ {i}'}]} for i in range(3)]
    (tmp_path/'data'/'validation.jsonl').write_text('\n'.join(json.dumps(r, ensure_ascii=False) for r in rows), encoding='utf-8')
    meta = json.loads((ad/'llmclone.json').read_text()); meta['data'] = {'dir': str(tmp_path/'data')}
    (ad/'llmclone.json').write_text(json.dumps(meta))
    from llmclone_nb.verify import held_out_texts
    texts = held_out_texts(t, adapter_dir=ad)
    assert len(texts) == 3 and 'ответ 2' in texts[2]


def test_other_road(tmp_path):
    "llama.cpp's own converter on our merged checkpoint gives the same tensors as ours (needs a llama.cpp checkout)."
    from llmclone_nb.gguf_export import find_llama_cpp, convert_with_llama_cpp
    lc = find_llama_cpp()
    if lc is None: pytest.skip('no llama.cpp checkout: set $LLAMA_CPP_DIR')
    m, t = tiny_mistral(sliding_window=None)
    ad = make_demo_adapter(save_tiny(m, t, tmp_path/'base'), tmp_path/'ad', std=0.05)
    theirs = convert_with_llama_cpp(merge_to_hf(ad, tmp_path/'merged'), tmp_path/'theirs.gguf', 'q8_0', lc)
    ours = write_gguf(ad, tmp_path/'ours.gguf', 'q8_0')
    a = {x.name: x for x in gguf.GGUFReader(ours).tensors}; b = {x.name: x for x in gguf.GGUFReader(theirs).tensors}
    assert a.keys() == b.keys() and all(np.array_equal(a[n].data, b[n].data) for n in a)
    assert verify_gguf(theirs, ad)['top1'] > 0.95


@pytest.mark.parametrize('tied', [False, True])
def test_streamed_reference_is_peft(tmp_path, tied):
    "The bounded-memory reference (weights on meta, each module's merged in for its forward only) computes peft's logits."
    from llmclone_nb.verify import streamed_reference, hf_logits
    m, t = tiny_mistral(sliding_window=None, tie_word_embeddings=tied)
    base, ad, want = _peft_adapter(tmp_path, m, t, target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'])
    model, tok = streamed_reference(ad)
    assert all(p.device.type == 'meta' for p in model.parameters())
    torch.testing.assert_close(_logits(model, tok), want, atol=1e-4, rtol=1e-4)
    # one padded batch gives every text its own logits
    texts = ["Привет, как дела? 123", "hi", "a longer text with more tokens than the others, to be padded"]
    for (a, x), (b, y) in zip(hf_logits(model, tok, texts, batched=True), hf_logits(model, tok, texts)):
        assert a == b; np.testing.assert_allclose(x, y, atol=1e-4)


def test_verify_streams_when_the_model_does_not_fit(tmp_path, monkeypatch):
    "verify_gguf picks the streamed reference by itself when the fp32 model would not fit in the free RAM."
    import llmclone_nb.verify as ve
    m, t = tiny_mistral(sliding_window=None)
    base, ad, _ = _peft_adapter(tmp_path, m, t, target_modules=['q_proj', 'v_proj'])
    f = write_gguf(ad, tmp_path/'c.gguf', 'f16')
    monkeypatch.setattr(ve, 'free_ram', lambda: 4*sum(p.numel() for p in m.parameters()))  # the fp32 model fills all of it
    assert not ve.reference_fits(ad, cuda=False)
    r = verify_gguf(f, ad)
    assert r['reference'] == 'streamed' and r['top1_clear'] >= 0.99, r
    monkeypatch.setattr(ve, 'free_ram', lambda: 2**40)
    assert verify_gguf(f, ad)['reference'] == 'in memory'


def test_hub_download_takes_the_shards_not_the_consolidated_copy():
    "Mistral-7B-Instruct-v0.3's repository holds the HF shards and a 14.5 GB consolidated.safetensors for mistral-inference."
    from fnmatch import fnmatch   # how huggingface_hub matches allow_patterns
    from llmclone_nb.gguf_export import HUB_FILES
    repo = ['.gitattributes', 'README.md', 'config.json', 'consolidated.safetensors', 'generation_config.json',
            'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors',
            'model.safetensors.index.json', 'params.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer.model',
            'tokenizer.model.v3', 'tokenizer_config.json']
    got = {f for f in repo if any(fnmatch(f, p) for p in HUB_FILES)}
    assert 'consolidated.safetensors' not in got
    assert {'config.json', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json',
            'model-00001-of-00003.safetensors', 'model-00003-of-00003.safetensors'} <= got
    assert any(fnmatch('model.safetensors', p) for p in HUB_FILES)   # single-file checkpoints (SmolLM2) too
