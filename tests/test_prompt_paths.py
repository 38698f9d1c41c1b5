"""Training and inference see the same prompt: for one history, the tokens `chat` feeds transformers, the tokens
`chat_gguf` feeds llama.cpp and the unlabelled start of the training sample are the same list, system prompt included."""
import json
from dataclasses import asdict
from pathlib import Path
import pytest
pytest.importorskip('llama_cpp'); pytest.importorskip('peft')
from llmclone_nb.models import smollm2_path
from llmclone_nb.presets import get_preset
from llmclone_nb.gguf_export import make_demo_adapter, write_gguf, write_modelfile, chat_gguf, load_gguf
from llmclone_nb.train import load_clone, chat, tokenize_chat
from llmclone_nb.prompt import SYSTEM_PROMPT

SYS = 'Ты Алекс. Пиши коротко, без заглавных.'   # a system prompt of the user's own choosing (chapter 1's system_prompt=)
HIST = [{'role': 'user', 'content': 'привет! как дела?'}, {'role': 'assistant', 'content': 'норм)'},
        {'role': 'user', 'content': 'го вечером в кино?'}]

@pytest.fixture(scope='module')
def clone(tmp_path_factory):
    d = tmp_path_factory.mktemp('paths')
    ad = make_demo_adapter(smollm2_path(), d/'adapter', std=0.0)   # B = 0: the base model's behaviour, a real adapter folder
    meta = json.loads((ad/'llmclone.json').read_text())
    p = get_preset('cpu', verbose=False)
    meta.update(settings={**asdict(p), 'load_in_4bit': False}, system_prompt=SYS, base_model=str(smollm2_path()))
    (ad/'llmclone.json').write_text(json.dumps(meta, ensure_ascii=False))
    from transformers import AutoTokenizer
    AutoTokenizer.from_pretrained(smollm2_path()).save_pretrained(ad)   # chapter 4 saves the tokenizer beside the adapter
    return ad, write_gguf(ad, d/'clone-q8_0.gguf', 'q8_0')

def _spy(obj, name, key):
    "Record what `obj.name` is called with (argument `key`), then call through."
    seen, real = [], getattr(obj, name)
    def f(*a, **kw): seen.append(list(kw[key][0].tolist()) if key=='input_ids' else list(a[0])); return real(*a, **kw)
    setattr(obj, name, f)
    return seen

def test_chat_chat_gguf_and_training_share_the_prompt(clone):
    ad, gguf = clone
    model, tok = load_clone(ad)
    s = tokenize_chat([{'role': 'system', 'content': SYS}, *HIST, {'role': 'assistant', 'content': 'го)'}], tok)
    first = next(i for i, l in enumerate(s['labels']) if l != -100)
    prefix = s['input_ids'][:first]
    assert SYS in tok.decode(prefix)

    fed_hf = _spy(model, 'generate', 'input_ids')
    chat(model, HIST, tokenizer=tok, max_new_tokens=4)
    assert fed_hf == [prefix]

    llm = load_gguf(gguf, logits_all=False)
    fed_cpp = _spy(llm, 'create_completion', 'prompt')
    reply = chat_gguf(gguf, HIST, max_tokens=4, llm=llm)
    assert fed_cpp == [prefix] and isinstance(reply, str)
    llm.close()

def test_defaults_are_the_training_system_prompt(clone):
    "A plain string, the chat box and the Modelfile: the clone's own system prompt, never the template's default."
    ad, gguf = clone
    model, tok = load_clone(ad)
    fed = _spy(model, 'generate', 'input_ids')
    chat(model, 'привет', tokenizer=tok, max_new_tokens=2)
    text = tok.decode(fed[0])
    assert SYS in text and 'SmolLM' not in text
    mf = write_modelfile(gguf).read_text()
    assert f'SYSTEM """{SYS}"""' in mf
    # without a recorded prompt: chapter 1's default, again never the template's own
    model.llmclone = {}
    chat(model, 'привет', tokenizer=tok, max_new_tokens=2)
    assert SYSTEM_PROMPT in tok.decode(fed[1]) and 'SmolLM' not in tok.decode(fed[1])
