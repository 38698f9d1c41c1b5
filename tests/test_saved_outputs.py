"""Saved notebook outputs agree with today's presets: a committed output that prints a stale preset line fails.

Chapters print the preset they run with — `get_preset()` prints "Preset 'cpu' (no GPU): smollm2-135m-instruct, float32,
4-bit weights, 128 tokens, batch 4×1, LoRA r=16, 16 steps" — and some print a preset's fields ("cpu  smollm2-135m-instruct
max_seq_len=128"). When a preset changes, those saved outputs keep telling the reader the old numbers until the notebook is
run again and saved. This test reads every notebook's outputs as committed and names each line that no longer matches
`llmclone_nb.presets.PRESETS`.
"""
import contextlib, io, json, re
from pathlib import Path
import pytest
from llmclone_nb.presets import PRESETS, get_preset

NBS = sorted((Path(__file__).resolve().parents[1]/'nbs').glob('*.ipynb'))
# what `get_preset()` prints
LINE = re.compile(r"Preset '(?P<name>[\w-]+)' \((?P<gpu>[^)]*)\): (?P<model_id>\S+), (?P<dtype>\w+), (?P<bits>4-bit|full) weights, "
                  r"(?P<max_seq_len>\d+) tokens, batch (?P<micro_batch>\d+)×(?P<grad_accum>\d+), LoRA r=(?P<lora_r>\d+), "
                  r"(?P<max_steps>\d+) steps")
# a preset's name, model and sequence length on one line (chapter 2's table of presets)
FIELDS = re.compile(r"^\s*(?P<name>[\w-]+)\s+(?P<model_id>\S+)\s+max_seq_len=(?P<max_seq_len>\d+)\s*$", re.M)


def output_texts(nb:Path):
    "`(cell index, text)` of every saved text output of a notebook (streams and the plain-text form of results)."
    for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
        for o in c.get('outputs', []):
            t = o.get('text', o.get('data', {}).get('text/plain', ''))
            yield i, ''.join(t) if isinstance(t, list) else t


def stale(text:str)->list:
    "One message per preset line in `text` that disagrees with `PRESETS`."
    out = []
    for m in LINE.finditer(text):
        p = PRESETS.get(m['name'])
        if p is None: out.append(f"{m[0]!r}: there is no preset {m['name']!r} any more"); continue
        # a 12-16 GB Ampere card runs the t4 preset's sizes in bf16 (`pick_preset`)
        dtypes = {p.dtype} | ({'bfloat16'} if p.name == 't4' else set())
        want = {'model_id': p.model_id, 'bits': '4-bit' if p.load_in_4bit else 'full', 'max_seq_len': str(p.max_seq_len),
                'micro_batch': str(p.micro_batch), 'grad_accum': str(p.grad_accum), 'lora_r': str(p.lora_r),
                'max_steps': str(p.max_steps)}
        bad = [f"{k} {m[k]} (now {v})" for k, v in want.items() if m[k] != v]
        if m['dtype'] not in dtypes: bad.append(f"dtype {m['dtype']} (now {p.dtype})")
        if bad: out.append(f"{m[0]!r}: {', '.join(bad)}")
    for m in FIELDS.finditer(text):
        p = PRESETS.get(m['name'])
        if p is None: continue  # not a preset's line
        bad = [f"{k} {m[k]} (now {v})" for k, v in (('model_id', p.model_id), ('max_seq_len', str(p.max_seq_len))) if m[k] != v]
        if bad: out.append(f"{m[0].strip()!r}: {', '.join(bad)}")
    return out


@pytest.mark.parametrize('name', list(PRESETS))
def test_reads_what_get_preset_prints(name):
    "The pattern matches the line `get_preset` prints today (a change of format must not make the check pass vacuously)."
    with contextlib.redirect_stdout(io.StringIO()) as f: get_preset(name)
    line = f.getvalue()
    assert LINE.search(line), f"get_preset prints {line!r}, which this test no longer recognises: update LINE"
    assert stale(line) == []


def test_a_stale_line_fails():
    "The line the issue found in chapters 1-3 and 5 (a cpu preset of 384 tokens and 60 steps) is reported, field by field."
    p = PRESETS['cpu']
    old = (f"Preset 'cpu' (no GPU): {p.model_id}, {p.dtype}, 4-bit weights, {p.max_seq_len + 256} tokens, "
           f"batch {p.micro_batch}×{p.grad_accum}, LoRA r={p.lora_r}, {p.max_steps + 44} steps")
    msgs = stale(old)
    assert len(msgs) == 1 and 'max_seq_len' in msgs[0] and 'max_steps' in msgs[0], msgs
    assert stale(f"cpu     {p.model_id}    max_seq_len={p.max_seq_len + 256}\n")
    assert stale(f"Preset 'tiny' (no GPU): x, float32, full weights, 1 tokens, batch 1×1, LoRA r=1, 1 steps")


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_saved_preset_lines_match_presets(nb):
    problems = [f"cell {i}: {msg}" for i, text in output_texts(nb) for msg in stale(text)]
    assert not problems, (f"{nb.name} shows preset lines that no longer match PRESETS:\n  " + '\n  '.join(problems) +
                          f"\nRun it again and save the outputs: nbdev-test nbs/{nb.name} --save && nbdev-clean --fname nbs/{nb.name}")
