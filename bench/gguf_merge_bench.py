"""Streaming merge-and-convert of a 7B-shaped checkpoint: time and peak RSS.

    .venv/bin/python bench/gguf_merge_bench.py [--dir /tmp/llmclone-7b] [--layers 32] [--type q8_0] [--keep] [--export]

Writes a Mistral-7B-shaped checkpoint with random bf16 weights (hidden 4096, FFN 14336, 32 heads / 8 KV heads, vocab
32768; 32 layers ≈ 14.5 GB as safetensors shards written tensor by tensor), a random rank-16 LoRA adapter on every
linear projection, then runs `write_gguf(adapter, out, type)` in a fresh process and reports wall time and that
process's peak RSS. `--layers N` keeps every tensor full size (so the peak per-tensor memory is the 7B one) but writes
fewer blocks: the honest way to measure on a small disk or a busy machine. Needs ~15 GB free on --dir for 32 layers,
plus ~7.7 GB for the Q8_0 output.

`--export` runs `llmclone export ADAPTER --out FILE --type TYPE` instead, as a user would: default options, so with
verification (for a 7B on this machine, the streamed reference). A thread samples the process's /proc/self/status every
0.1 s: peak VmRSS, RssAnon (heap: what the OOM killer counts) and RssFile (mapped files: the GGUF llama.cpp maps, the
shared libraries; page cache the kernel can drop).

`--mem-limit GB` runs that process in a cgroup (v1 `memory`, needs root) whose hard limit is GB gigabytes, swap
included: the kernel must then keep the whole process (heap, mapped GGUF pages, page cache it dirties) under the limit,
dropping clean file pages as llama.cpp reads on, or kill it. The run completing, with its peak counted by the cgroup
(`memory.max_usage_in_bytes`), is the proof that the export fits a machine with that much memory.
"""
import argparse, json, os, resource, shutil, struct, subprocess, sys, time
from pathlib import Path
import numpy as np

SHAPE = dict(hidden=4096, ffn=14336, heads=32, kv_heads=8, vocab=32768)


def tensors(layers, h=SHAPE['hidden'], f=SHAPE['ffn'], kv=SHAPE['hidden']*SHAPE['kv_heads']//SHAPE['heads'], v=SHAPE['vocab']):
    yield 'model.embed_tokens.weight', (v, h)
    for i in range(layers):
        p = f'model.layers.{i}.'
        yield p+'input_layernorm.weight', (h,)
        for n, s in (('self_attn.q_proj', (h, h)), ('self_attn.k_proj', (kv, h)), ('self_attn.v_proj', (kv, h)), ('self_attn.o_proj', (h, h)),
                     ('mlp.gate_proj', (f, h)), ('mlp.up_proj', (f, h)), ('mlp.down_proj', (h, f))):
            yield p+n+'.weight', s
        yield p+'post_attention_layernorm.weight', (h,)
    yield 'model.norm.weight', (h,)
    yield 'lm_head.weight', (v, h)


def write_checkpoint(d:Path, layers:int, shard_bytes:int=5*2**30, seed:int=0):
    "Random bf16 safetensors shards, written tensor by tensor (a 64 Mi-value random pool, sliced at random offsets)."
    from llmclone_nb.models import sp_tokenizer
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pool = (rng.standard_normal(2**26, dtype=np.float32)*0.02).view(np.uint32)
    pool = ((pool + 0x7FFF + ((pool >> 16) & 1)) >> 16).astype(np.uint16)  # float32 → bf16 bits, round to nearest even
    shards, cur, size = [], [], 0
    for n, s in tensors(layers):
        nb = int(np.prod(s))*2
        if cur and size+nb > shard_bytes: shards.append(cur); cur, size = [], 0
        cur.append((n, s)); size += nb
    shards.append(cur)
    wm = {}
    for i, group in enumerate(shards):
        fn = f'model-{i+1:05d}-of-{len(shards):05d}.safetensors'
        head, off = {}, 0
        for n, s in group:
            nb = int(np.prod(s))*2; head[n] = dict(dtype='BF16', shape=list(s), data_offsets=[off, off+nb]); off += nb; wm[n] = fn
        hb = json.dumps({'__metadata__': {'format': 'pt'}, **head}).encode(); hb += b' '*(-len(hb) % 8)
        with open(d/fn, 'wb') as f:
            f.write(struct.pack('<Q', len(hb))); f.write(hb)
            for n, s in group:
                k = int(np.prod(s)); o = int(rng.integers(0, len(pool)))
                if len(s)==1: f.write(np.full(k, 0x3F80, np.uint16).tobytes()); continue  # norms: 1.0 in bf16
                while k:
                    take = min(k, len(pool)-o); f.write(pool[o:o+take].tobytes()); k -= take; o = 0
    (d/'model.safetensors.index.json').write_text(json.dumps({'metadata': {}, 'weight_map': wm}))
    tok = sp_tokenizer()
    tok.save_pretrained(d); shutil.copy(Path(tok.name_or_path)/'tokenizer.model', d/'tokenizer.model')
    (d/'config.json').write_text(json.dumps(dict(architectures=['MistralForCausalLM'], model_type='mistral', hidden_size=SHAPE['hidden'],
        intermediate_size=SHAPE['ffn'], num_hidden_layers=layers, num_attention_heads=SHAPE['heads'], num_key_value_heads=SHAPE['kv_heads'],
        head_dim=128, vocab_size=SHAPE['vocab'], max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=1e6, sliding_window=None,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, torch_dtype='bfloat16')))
    return d


CHILD = """
import sys, time, resource, json
t0 = time.time()
from llmclone_nb.gguf_export import write_gguf
t1 = time.time()
write_gguf(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps(dict(import_s=t1-t0, convert_s=time.time()-t1, peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20)))
"""

CHILD_EXPORT = r"""
import sys, time, resource, json, threading, re
peak = dict(VmRSS=0, RssAnon=0, RssFile=0)
def watch():
    while True:
        st = open('/proc/self/status').read()
        for k in peak: peak[k] = max(peak[k], int(re.search(k+r':\s+(\d+)', st)[1]))
        time.sleep(0.1)
threading.Thread(target=watch, daemon=True).start()
t0 = time.time()
from llmclone_nb.cli import main
rc = main(['export', sys.argv[1], '--out', sys.argv[2], '--type', sys.argv[3]])
time.sleep(0.3)
print(json.dumps(dict(rc=rc, export_s=time.time()-t0, peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20,
                      **{f'peak_{k}_gb': v/2**20 for k, v in peak.items()})))
"""


CGROUP = Path('/sys/fs/cgroup/memory')


def limited(gb:float):
    "A fresh cgroup v1 memory group limited to `gb` GB (RAM + swap); returns (folder, preexec_fn that joins it)."
    if not (CGROUP/'memory.limit_in_bytes').exists(): sys.exit(f"{CGROUP}: no cgroup v1 memory controller here; run without --mem-limit")
    g = CGROUP/f'llmclone-bench-{os.getpid()}'; g.mkdir()
    (g/'memory.limit_in_bytes').write_text(str(int(gb*1e9)))
    if (g/'memory.memsw.limit_in_bytes').exists(): (g/'memory.memsw.limit_in_bytes').write_text(str(int(gb*1e9)))
    return g, lambda: (g/'cgroup.procs').write_text(str(os.getpid()))


def cgroup_report(g:Path)->dict:
    "What the cgroup counted: its peak (RAM, page cache included), how often it hit the limit, OOM kills."
    oom = dict(l.split() for l in (g/'memory.oom_control').read_text().splitlines())
    return dict(mem_limit_gb=int((g/'memory.limit_in_bytes').read_text())/1e9, cgroup_peak_gb=int((g/'memory.max_usage_in_bytes').read_text())/1e9,
                limit_hits=int((g/'memory.failcnt').read_text()), oom_kills=int(oom.get('oom_kill', 0)))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dir', default='/tmp/llmclone-7b'); ap.add_argument('--layers', type=int, default=32)
    ap.add_argument('--type', default='q8_0'); ap.add_argument('--rank', type=int, default=16); ap.add_argument('--keep', action='store_true')
    ap.add_argument('--export', action='store_true', help='run `llmclone export` with default options (verification included)')
    ap.add_argument('--mem-limit', type=float, help='run the measured process in a cgroup limited to this many GB (root)')
    a = ap.parse_args()
    from llmclone_nb.gguf_export import make_demo_adapter
    d = Path(a.dir); base = d/f'base-{a.layers}'
    free = shutil.disk_usage(d.parent if not d.exists() else d).free/2**30
    t = time.time()
    if not (base/'model.safetensors.index.json').exists():
        need = (sum(int(np.prod(s)) for _, s in tensors(a.layers))*2)/2**30
        if free < need*1.6: sys.exit(f"{d}: {free:.0f} GB free, need about {need*1.6:.0f} GB (checkpoint + output). Use --layers or another --dir.")
        write_checkpoint(base, a.layers)
    t_ckpt = time.time()-t
    ad = make_demo_adapter(base, d/f'adapter-{a.layers}', r=a.rank)
    ckpt_gb = sum(p.stat().st_size for p in base.glob('*.safetensors'))/2**30
    out = d/f'out-{a.layers}.{a.type}.gguf'
    g, join = limited(a.mem_limit) if a.mem_limit else (None, None)
    r = subprocess.run([sys.executable, '-c', CHILD_EXPORT if a.export else CHILD, str(ad), str(out), a.type], capture_output=True, text=True,
                       preexec_fn=join)
    cg = cgroup_report(g) if g else {}
    if g: g.rmdir()
    if r.returncode: sys.exit(f"exit {r.returncode} {cg}\n" + r.stderr[-3000:])
    if a.export: print(r.stdout)   # what `llmclone export` printed: the verification result
    res = json.loads(r.stdout.strip().splitlines()[-1])
    if a.export: res['convert_s'] = res['export_s']
    n_params = sum(int(np.prod(s)) for _, s in tensors(a.layers))
    res.update(**cg, layers=a.layers, params_b=round(n_params/1e9, 2), checkpoint_gb=round(ckpt_gb, 2), gguf_gb=round(out.stat().st_size/2**30, 2),
               type=a.type, rank=a.rank, checkpoint_write_s=round(t_ckpt, 1), cpus=os.cpu_count(),
               mparams_per_s=round(n_params/1e6/res['convert_s'], 1))
    print(json.dumps(res, indent=1))
    if not a.keep: shutil.rmtree(d, ignore_errors=True)
