"""Labels and prompts against the real chat templates of real models (../shared/chat-templates, verbatim) and against
other well-known template styles: the labelled tokens are your reply and its end-of-turn marker, nothing of any user turn;
the unlabelled prefix is what inference feeds; the system text is in it."""
import json, re, random
from pathlib import Path
import pytest
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
from transformers import PreTrainedTokenizerFast
from llmclone_nb.prompt import sample, prompt_ids, prompt_text, conversation, chat_format, stop_ids, encode, SYSTEM_PROMPT
from llmclone_nb.train import tokenize_chat

TEMPLATES = Path(__file__).resolve().parents[2]/'shared'/'chat-templates'
# What ends an assistant turn in each model family, from the model cards and SOURCES.md: an independent reference,
# not what `chat_format` probes.
END = {'mistralai--Mistral-7B-Instruct-v0.3': '</s>', 'meta-llama--Llama-3.1-8B-Instruct': '<|eot_id|>',
       'meta-llama--Llama-3.2-3B-Instruct': '<|eot_id|>', 'Qwen--Qwen2.5-7B-Instruct': '<|im_end|>',
       'google--gemma-2-2b-it': '<end_of_turn>', 'HuggingFaceTB--SmolLM2-135M-Instruct': '<|im_end|>',
       'mlabonne--NeuralMonarch-7B': '</s>'}
MARKERS = re.compile(r'<\|[A-Za-z_]+\|>|\[/?[A-Z_]+\]|<(?:start|end)_of_turn>|</?s>|<bos>|<eos>')

def byte_tokenizer(template:str, bos_token=None, eos_token=None):
    "A byte-level BPE tokenizer (decodes exactly) whose special tokens are the template's markers, carrying `template`."
    t = Tokenizer(models.BPE()); t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False); t.decoder = decoders.ByteLevel()
    specials = sorted(set(MARKERS.findall(template)) | {x for x in (bos_token, eos_token) if x})
    t.train_from_iterator(['привет как дела, ну такое', 'hello how are you doing', 'fine thanks )) 🙂']*20,
                          trainers.BpeTrainer(vocab_size=500, special_tokens=specials, show_progress=False,
                                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, bos_token=bos_token, eos_token=eos_token)
    tok.chat_template = template
    return tok

def real_templates():
    if not TEMPLATES.is_dir(): return []
    special = json.loads((TEMPLATES/'special_tokens.json').read_text())
    return [pytest.param(f.stem, f.read_text(), special[f.name], id=f.stem) for f in sorted(TEMPLATES.glob('*.jinja'))]

# Styles not in the folder, written from their model cards: the rule must be general, not a table of special cases.
OTHER = {
    'llama2': ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
               "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
               "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
               "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
               "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
               "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", '<s>', '</s>', '</s>'),
    'mistral-v0.1': ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                     "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
                     "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
                     "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
                     '<s>', '</s>', '</s>'),
    'phi3': ("{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
             "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}"
             "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}"
             "{% else %}{{ eos_token }}{% endif %}", '<s>', '<|endoftext|>', '<|end|>'),
    'chatml-no-genprompt': ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}",
                            None, '<|im_end|>', '<|im_end|>'),
    'command-r': ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + message['content'] + '<|END_OF_TURN_TOKEN|>' }}"
                  "{% elif message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + message['content'] + '<|END_OF_TURN_TOKEN|>' }}"
                  "{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' + message['content'] + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}"
                  "{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}", '<BOS_TOKEN>', '<|END_OF_TURN_TOKEN|>', '<|END_OF_TURN_TOKEN|>'),
}

def all_templates():
    out = real_templates()
    out += [pytest.param(k, t, {'bos_token': b, 'eos_token': e}, id=k) for k, (t, b, e, _) in OTHER.items()]
    return out

def end_marker(name): return END.get(name) or OTHER[name][3]

USERS = ['привет, как дела?', 'how are you doing', 'ну такое  ', ' скинь фотки 🙂', 'what about "quotes" and \\ slashes?']
OWNER = ['норм )', ' fine thanks', 'ну такое\nа ты как?', 'щас скину )) ', 'ok']

def chats(n=12, seed=0):
    "Conversations with unique, recognisable user and owner texts (system or not, 1-4 exchanges)."
    rnd = random.Random(seed)
    for k in range(n):
        msgs = [{'role': 'system', 'content': f'SYSTEM-{k} be yourself'}] if k % 3 else []
        for j in range(rnd.randint(1, 4)):
            msgs += [{'role': 'user', 'content': f'U{k}x{j} ' + rnd.choice(USERS)}, {'role': 'assistant', 'content': f'A{k}x{j} ' + rnd.choice(OWNER)}]
        yield msgs

@pytest.mark.parametrize('name,template,special', all_templates())
def test_labels_are_the_reply_and_its_end(name, template, special):
    tok = byte_tokenizer(template, **special)
    end = end_marker(name)
    for msgs in chats():
        ids, labels = sample(tok, msgs)
        lab = [i for i, l in zip(ids, labels) if l != -100]
        first = next(i for i, l in enumerate(labels) if l != -100)
        assert all(l != -100 for l in labels[first:]), 'one contiguous labelled span, at the end'
        text = tok.decode(lab)
        reply = msgs[-1]['content']
        assert text.endswith(end), (name, text)
        assert text[:-len(end)].strip() == reply.strip(), (name, text)
        for m in msgs[:-1]:   # nothing of any user turn, of the system text, or of earlier replies is labelled
            assert m['content'].strip()[:6] not in text, (name, m, text)
        # the unlabelled prefix is what inference feeds: our prompt, and the template's own render with the generation prompt
        prefix = ids[:first]
        assert prefix == prompt_ids(tok, msgs[:-1], system=None)
        hist = conversation(tok, msgs[:-1], system=None)
        native = tok.apply_chat_template(hist, add_generation_prompt=True, tokenize=True, return_dict=True)['input_ids']
        assert prefix[:len(native)] == list(native), name
        if msgs[0]['role'] == 'system': assert msgs[0]['content'] in tok.decode(prefix), (name, tok.decode(prefix))
        assert tokenize_chat(msgs, tok) == {'input_ids': ids, 'labels': labels, 'length': len(ids)}

@pytest.mark.parametrize('name,template,special', all_templates())
def test_train_on_all_labels_every_reply(name, template, special):
    tok = byte_tokenizer(template, **special)
    end = end_marker(name)
    for msgs in chats(seed=1):
        ids, labels = sample(tok, msgs, train_on='all')
        spans, cur = [], []
        for i, l in zip(ids, labels):
            if l != -100: cur.append(i)
            elif cur: spans.append(cur); cur = []
        if cur: spans.append(cur)
        replies = [m['content'] for m in msgs if m['role'] == 'assistant']
        assert len(spans) == len(replies), (name, [tok.decode(s) for s in spans])
        for s, r in zip(spans, replies):
            t = tok.decode(s); assert t.endswith(end) and t[:-len(end)].strip() == r.strip(), (name, t, r)

@pytest.mark.parametrize('name,template,special', all_templates())
def test_cutting_keeps_the_head_and_whole_turns(name, template, special):
    "A cut sample's prompt is the prompt of a shorter history: whole oldest turns gone (system kept), or the oldest message's start."
    tok = byte_tokenizer(template, **special)
    n_whole = n_short = 0
    for msgs in chats(seed=2):
        system = [m for m in msgs if m['role'] == 'system']
        hist = [m for m in msgs[:-1] if m['role'] != 'system']
        full, _ = sample(tok, msgs)
        for max_len in (len(full) - 1, len(full) // 2, 40):
            s = sample(tok, msgs, max_len=max_len)
            if s is None: continue
            ids, labels = s
            assert len(ids) <= max_len
            first = next(i for i, l in enumerate(labels) if l != -100)
            prefix = ids[:first]
            whole = [k for k in range(0, len(hist), 2) if prefix == prompt_ids(tok, system + hist[k:], system=None)]
            if whole: n_whole += 1; continue
            # the last user message alone, cut from its start: the same template head and tail around a suffix of its text
            last = hist[-1]['content']
            shorter = [prompt_ids(tok, system + [{'role': 'user', 'content': last[len(last)-j:]}], system=None) for j in range(len(last)+1)]
            assert prefix in shorter, (name, max_len, tok.decode(prefix))
            n_short += 1
            if system: assert system[0]['content'] in tok.decode(prefix), (name, tok.decode(prefix))
    assert n_whole and n_short, (n_whole, n_short)   # both kinds of cut were exercised

def test_system_folded_where_refused():
    if not TEMPLATES.is_dir(): pytest.skip('../shared/chat-templates is absent')
    sp = json.loads((TEMPLATES/'special_tokens.json').read_text())
    g = byte_tokenizer((TEMPLATES/'google--gemma-2-2b-it.jinja').read_text(), **sp['google--gemma-2-2b-it.jinja'])
    assert chat_format(g)['system'] == 'fold'
    ids = prompt_ids(g, 'привет')   # SYSTEM_PROMPT by default, folded into the only user turn
    assert g.decode(ids) == f'<bos><start_of_turn>user\n{SYSTEM_PROMPT}\n\nпривет<end_of_turn>\n<start_of_turn>model\n'
    assert stop_ids(g) == [g.convert_tokens_to_ids('<end_of_turn>'), g.eos_token_id] or set(stop_ids(g)) == {g.convert_tokens_to_ids('<end_of_turn>'), g.eos_token_id}

def test_mistral_v03_system_goes_to_the_last_user_turn():
    "The defect that reached users: with the real v0.3 template the old labeller put the loss on the other person's words."
    from llmclone_nb.models import sp_tokenizer
    tok = sp_tokenizer()
    if TEMPLATES.is_dir(): assert tok.chat_template == (TEMPLATES/'mistralai--Mistral-7B-Instruct-v0.3.jinja').read_text()
    msgs = [{'role': 'system', 'content': 'SYS'}, {'role': 'user', 'content': 'привет'}, {'role': 'assistant', 'content': 'ку)'},
            {'role': 'user', 'content': 'how are you'}, {'role': 'assistant', 'content': 'fine'}]
    s = tokenize_chat(msgs, tok)
    lab = [i for i, l in zip(s['input_ids'], s['labels']) if l != -100]
    assert tok.decode(lab) == 'fine</s>'
    assert tok.decode(s['input_ids']) == '<s>[INST] привет[/INST] ку)</s>[INST] SYS\n\nhow are you[/INST] fine</s>'


def _linear_prompt_ids(tok, messages, max_len):
    "The slow obvious reference: drop the oldest pair of turns one at a time, re-rendering each time (what prompt_ids did before bisection)."
    from llmclone_nb.prompt import _turns, _assemble, _shorten
    sys_, turns = _turns(tok, messages, None)
    ids = lambda t: encode(tok, prompt_text(tok, _assemble(tok, sys_, t), None))
    out = ids(turns)
    while len(out) > max_len and len(turns) > 2:
        turns = turns[2:]; out = ids(turns)
    if len(out) > max_len and turns:
        s = _shorten(turns[0]['content'], lambda s: len(ids([{**turns[0], 'content': s}] + turns[1:])) <= max_len)
        if s is not None: out = ids([{**turns[0], 'content': s}] + turns[1:])
    return out

@pytest.mark.parametrize('name,template,special', all_templates())
def test_cut_by_bisection_equals_the_linear_cut(name, template, special):
    """Long chats (runs of one sender, 10-40 exchanges) cut to many budgets: prompt_ids' bisection over whole pairs gives exactly
    the ids of the one-pair-at-a-time loop. Planted defect that fails it: `hi = k-1` for `hi = k` in the bisection (one pair too many
    dropped), or a lower bound of `len(turns)-max_len` pairs instead of half that."""
    tok = byte_tokenizer(template, **special)
    rnd = random.Random(7)
    checked = 0
    for k in range(6):
        msgs = [{'role': 'system', 'content': 'SYSTEM be yourself'}] if k % 2 else []
        for j in range(rnd.randint(10, 40)):
            msgs += [{'role': 'user', 'content': f'U{j} ' + rnd.choice(USERS)} for _ in range(rnd.randint(1, 3))]
            msgs += [{'role': 'assistant', 'content': f'A{j} ' + rnd.choice(OWNER)} for _ in range(rnd.randint(1, 2))]
        msgs += [{'role': 'user', 'content': 'last ' + rnd.choice(USERS)}]
        full = len(prompt_ids(tok, msgs, system=None))
        for max_len in sorted({full, full - 1, full // 2, full // 3, full // 7, 60, 25, 8}):
            assert prompt_ids(tok, msgs, system=None, max_len=max_len) == _linear_prompt_ids(tok, msgs, max_len), (name, max_len)
            checked += 1
    assert checked >= 30
