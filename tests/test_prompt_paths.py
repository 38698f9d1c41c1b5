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

SP_CHATS = [HIST, [{'role': 'system', 'content': SYS}, *HIST], 'привет', [{'role': 'user', 'content': '  two spaces, 3.14 🙂\n\nи ещё'}],
            [{'role': 'user', 'content': 'a [INST] b'}, {'role': 'assistant', 'content': ' [/INST] </s> ok'}, {'role': 'user', 'content': 'x'}]]

def sp_templates():
    "SentencePiece-family chat templates: the real ones in ../shared/chat-templates (when present) and Llama 2's."
    from test_prompt import TEMPLATES, OTHER
    out = [pytest.param(OTHER['llama2'][0], id='llama2')]
    for name in ('mistralai--Mistral-7B-Instruct-v0.3', 'google--gemma-2-2b-it', 'mlabonne--NeuralMonarch-7B'):
        if (TEMPLATES/f'{name}.jinja').exists(): out.append(pytest.param((TEMPLATES/f'{name}.jinja').read_text(), id=name))
    return out

@pytest.fixture(scope='module')
def sp_base(tmp_path_factory):
    "A tiny Mistral-shaped checkpoint with the SentencePiece tokenizer of chapter 0 (space prefix on, as Mistral's)."
    from llmclone_nb.models import tiny_mistral, save_tiny
    m, t = tiny_mistral(sliding_window=None)
    return save_tiny(m, t, tmp_path_factory.mktemp('sp')/'base')

@pytest.mark.parametrize('template', sp_templates())
def test_sentencepiece_gguf_prompt_is_the_training_prompt(sp_base, template, tmp_path):
    """llama.cpp writes a `▁` after every control token of a SentencePiece vocabulary with a space prefix; transformers (training)
    does not. What the server and `chat_gguf` feed llama.cpp (`GGUFTokenizer`'s default) is the training prompt all the same.
    Planted defect that fails it: `GGUFTokenizer(llm, hf=False)` — llama.cpp's own ids (asserted to differ below)."""
    from llama_cpp import Llama
    from llmclone_nb.models import sp_tokenizer
    from llmclone_nb.prompt import GGUFTokenizer, prompt_ids, prompt_text, stop_ids
    hf = sp_tokenizer(); hf.chat_template = template
    llm = Llama(str(write_gguf(sp_base, tmp_path/'m.gguf', 'q8_0', chat_template=template)), vocab_only=True, verbose=False)
    served, by_folder, raw = GGUFTokenizer(llm), GGUFTokenizer(llm, hf=sp_base), GGUFTokenizer(llm, hf=False)
    by_folder.hf.chat_template = template
    differ = 0
    for c in SP_CHATS:
        msgs = [{'role': 'user', 'content': c}] if isinstance(c, str) else c
        s = tokenize_chat([*msgs, {'role': 'assistant', 'content': 'го)'}], hf)
        trained = s['input_ids'][:next(i for i, l in enumerate(s['labels']) if l != -100)]
        assert prompt_ids(hf, msgs, None) == trained
        # transformers >= the main pins rebuilds the GGUF's tokenizer as training's; an older one (Colab's, Kaggle's) writes the ▁
        # after control tokens too, so GGUFTokenizer keeps llama.cpp's ids and warns (pass hf=folder there)
        expect = trained if served.hf is not None else prompt_ids(raw, msgs, None)
        assert prompt_ids(served, msgs, None) == expect, hf.convert_ids_to_tokens(prompt_ids(served, msgs, None))
        assert prompt_ids(by_folder, msgs, None) == trained
        differ += prompt_ids(raw, msgs, None) != trained
        assert llm.tokenize(prompt_text(hf, msgs, None).encode(), add_bos=False, special=True) == prompt_ids(raw, msgs, None)
    assert differ == len(SP_CHATS)   # the defect is real: llama.cpp alone gives other ids for every chat
    assert stop_ids(served) == stop_ids(hf)
    llm.close()

def test_sentencepiece_chat_gguf_feeds_the_training_prompt(sp_base, tmp_path):
    "Chapter 5's `chat_gguf` (the path of the Modelfile check and of the notebooks) hands llama.cpp those ids too."
    from llama_cpp import Llama
    from llmclone_nb.models import sp_tokenizer
    hf, g = sp_tokenizer(), write_gguf(sp_base, tmp_path/'m.gguf', 'q8_0')
    full = Llama(str(g), n_ctx=16, verbose=False, logits_all=False)
    fed = _spy(full, 'create_completion', 'prompt')
    chat_gguf(g, HIST[:1], max_tokens=1, llm=full, system='')
    s = tokenize_chat([*HIST[:1], {'role': 'assistant', 'content': 'го)'}], hf)
    from llmclone_nb.prompt import GGUFTokenizer, prompt_ids
    if GGUFTokenizer(full).hf is None:   # an older transformers: llama.cpp's own ids (see the test above)
        assert fed == [prompt_ids(GGUFTokenizer(full, hf=False), HIST[:1], '')]
    else: assert fed == [s['input_ids'][:next(i for i, l in enumerate(s['labels']) if l != -100)]]
    full.close()
