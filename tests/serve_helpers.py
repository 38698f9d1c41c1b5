"Shared by the chapter 7 tests: a tiny clone GGUF (random weights, a real chat template and system prompt) and its live server."
import json, contextlib
from pathlib import Path

SYS = 'Ты Алекс. Пиши коротко, без заглавных.'   # the clone's own system prompt, as chapter 1 would record it
KEY = 'test-key-7'

def tiny_clone(d:Path)->Path:
    "chapter 5's GGUF of a tiny random Llama with a LoRA adapter whose llmclone.json records `SYS`."
    from llmclone_nb.models import tiny_llama, save_tiny
    from llmclone_nb.gguf_export import make_demo_adapter, write_gguf
    m, t = tiny_llama()
    ad = make_demo_adapter(save_tiny(m, t, d/'base'), d/'adapter')
    meta = json.loads((ad/'llmclone.json').read_text()); meta['system_prompt'] = SYS
    (ad/'llmclone.json').write_text(json.dumps(meta, ensure_ascii=False))
    return write_gguf(ad, d/'clone-q8_0.gguf', 'q8_0')

@contextlib.contextmanager
def live_server(gguf:Path, api_key:str|None=None):
    "The chapter's server on a free loopback port; yields its base URL."
    from llmclone_nb.serve import clone_app, serving
    with serving(clone_app(gguf, api_key=api_key, n_ctx=512), host='127.0.0.1', port=0, timeout=60) as url: yield url
