"""Acceptance check: our streaming converter vs llama.cpp's own convert_hf_to_gguf.py, key by key and tensor by tensor.

    .venv/bin/python bench/compare_converters.py [--adapter DIR] [--llama-cpp DIR] [--types f16 q8_0] [--out report.json]

Both converters get the same model: ours reads the base + adapter and merges on the fly; llama.cpp's reads the merged
HF checkpoint that `merge_to_hf` writes from the same adapter. Without --adapter it runs SmolLM2-135M-Instruct (BPE)
and a tiny SentencePiece Mistral, each with a random stand-in adapter. llama.cpp's converter is taken from --llama-cpp,
$LLAMA_CPP_DIR, or llama-cpp-python's source distribution (`pip download --no-binary :all: llama-cpp-python==<installed>`,
unpacked in a temp folder; nothing of llama.cpp is copied into this repository). Every difference is printed.
"""
import argparse, json, subprocess, sys, tarfile, tempfile
from pathlib import Path
import numpy as np
import gguf
from llmclone_nb import gguf_export as ge


def llama_cpp_dir(arg=None):
    d = ge.find_llama_cpp(arg)
    if d: return d
    import llama_cpp
    cache = Path(tempfile.gettempdir())/'llmclone-llama-cpp-sdist'
    hits = list(cache.glob('*/vendor/llama.cpp/convert_hf_to_gguf.py'))
    if not hits:
        cache.mkdir(exist_ok=True)
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
                        f'llama-cpp-python=={llama_cpp.__version__}', '-d', str(cache)], check=True, capture_output=True)
        with tarfile.open(next(cache.glob('llama_cpp_python-*.tar.gz'))) as t: t.extractall(cache, filter='data')
        hits = list(cache.glob('*/vendor/llama.cpp/convert_hf_to_gguf.py'))
    return hits[0].parent


def _val(f):
    try: return f.contents()
    except Exception: return None


def compare(ours, theirs)->dict:
    "Every metadata and tensor difference between two GGUF files."
    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
    fa = {k: _val(v) for k, v in a.fields.items() if not k.startswith('GGUF.')}
    fb = {k: _val(v) for k, v in b.fields.items() if not k.startswith('GGUF.')}
    keys = dict(only_ours=sorted(set(fa)-set(fb)), only_theirs=sorted(set(fb)-set(fa)), differ={})
    for k in sorted(set(fa) & set(fb)):
        if fa[k] != fb[k]:
            if isinstance(fa[k], list) and isinstance(fb[k], list) and len(fa[k]) == len(fb[k]):
                idx = [i for i, (x, y) in enumerate(zip(fa[k], fb[k])) if x != y]
                keys['differ'][k] = f"{len(idx)} of {len(fa[k])} entries differ, e.g. #{idx[0]}: ours {fa[k][idx[0]]!r}, theirs {fb[k][idx[0]]!r}"
            else: keys['differ'][k] = f"ours {str(fa[k])[:80]!r}, theirs {str(fb[k])[:80]!r}"
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    tens = dict(only_ours=sorted(set(ta)-set(tb)), only_theirs=sorted(set(tb)-set(ta)), identical=0, differ={})
    for n in sorted(set(ta) & set(tb)):
        x, y = ta[n], tb[n]
        if x.tensor_type == y.tensor_type and list(x.shape) == list(y.shape) and np.array_equal(x.data, y.data):
            tens['identical'] += 1; continue
        if list(x.shape) != list(y.shape): tens['differ'][n] = f"shape ours {list(x.shape)}, theirs {list(y.shape)}"; continue
        dx = gguf.quants.dequantize(x.data, x.tensor_type).astype(np.float32).ravel()
        dy = gguf.quants.dequantize(y.data, y.tensor_type).astype(np.float32).ravel()
        tens['differ'][n] = (f"types ours {x.tensor_type.name}, theirs {y.tensor_type.name}; max |diff| {np.abs(dx-dy).max():.3g} "
                             f"(values up to {np.abs(dy).max():.3g})")
    return dict(keys=keys, tensors=tens)


def run(name, adapter, work, lc, types):
    merged = ge.merge_to_hf(adapter, work/f'{name}-merged')
    out = {}
    for t in types:
        ours = ge.write_gguf(adapter, work/f'{name}-ours-{t}.gguf', t)
        theirs = ge.convert_with_llama_cpp(merged, work/f'{name}-llamacpp-{t}.gguf', t, lc)
        out[t] = r = compare(ours, theirs)
        k, ts = r['keys'], r['tensors']
        print(f"\n== {name} {t}: {ts['identical']} tensors byte-identical, {len(ts['differ'])} differ; "
              f"{len(k['differ'])} keys differ, {len(k['only_ours'])} only ours, {len(k['only_theirs'])} only llama.cpp's")
        for n, d in ts['differ'].items(): print(f"  tensor {n}: {d}")
        for n in ts['only_ours']: print(f"  tensor only in ours: {n}")
        for n in ts['only_theirs']: print(f"  tensor only in llama.cpp's: {n}")
        for n, d in k['differ'].items(): print(f"  key {n}: {d}")
        for n in k['only_ours']: print(f"  key only in ours: {n}")
        for n in k['only_theirs']: print(f"  key only in llama.cpp's: {n}")
    return out


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--adapter'); ap.add_argument('--llama-cpp'); ap.add_argument('--out')
    ap.add_argument('--types', nargs='+', default=['f16', 'q8_0'])
    a = ap.parse_args()
    lc = llama_cpp_dir(a.llama_cpp); print('llama.cpp converter:', lc/'convert_hf_to_gguf.py')
    work = Path(tempfile.mkdtemp(prefix='compare-converters-'))
    report = {}
    if a.adapter: report['adapter'] = run('adapter', Path(a.adapter), work, lc, a.types)
    else:
        from llmclone_nb.models import smollm2_path, tiny_mistral, save_tiny
        report['smollm2'] = run('smollm2', ge.make_demo_adapter(smollm2_path(), work/'smol-ad'), work, lc, a.types)
        m, t = tiny_mistral(sliding_window=None)
        report['tiny-mistral'] = run('tiny-mistral', ge.make_demo_adapter(save_tiny(m, t, work/'tiny'), work/'tiny-ad', std=0.05), work, lc, a.types)
    if a.out: Path(a.out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
