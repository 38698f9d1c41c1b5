"Preset rules on described devices, checked against chapter 3's memory estimate for Mistral-7B's shape (no GPU needed)."
import pytest
from transformers import MistralConfig
from llmclone_nb.presets import Device, pick_preset, UnsupportedGPU, PRESETS
from llmclone_nb.qlora import estimate_memory

DEVICES = [Device('cuda', 'Tesla T4', 1, (7, 5), 15.8), Device('cuda', 'Tesla T4', 2, (7, 5), 15.8),
           Device('cuda', 'NVIDIA GeForce RTX 3060', 1, (8, 6), 12.5), Device('cuda', 'NVIDIA RTX A4000', 1, (8, 6), 16.9),
           Device('cuda', 'NVIDIA L4', 1, (8, 9), 23.7), Device('cuda', 'NVIDIA A100-SXM4-40GB', 1, (8, 0), 42.4)]

@pytest.fixture(autouse=True)
def no_env(monkeypatch): monkeypatch.delenv('LLMCLONE_PRESET', raising=False)

@pytest.mark.parametrize('dev', DEVICES, ids=lambda d: f'{d.n_gpus}x{d.name}')
def test_every_gpu_gets_a_preset_that_fits(dev):
    p = pick_preset(dev)
    est = estimate_memory(MistralConfig(), p, gpu_memory=dev.memory_gb*1e9*0.95)   # what the driver leaves usable
    assert est['fits'], (dev.name, p.name, round(est['total']/1e9, 1))
    assert (p.dtype == 'bfloat16') == dev.bf16

@pytest.mark.parametrize('cc,name', [((6, 0), 'Tesla P100-PCIE-16GB'), ((7, 0), 'Tesla V100-SXM2-16GB'), ((3, 7), 'Tesla K80')])
def test_old_gpus_are_refused_with_the_fix(cc, name):
    with pytest.raises(UnsupportedGPU, match=r"GPU T4 x2.*T4 GPU.*LLMCLONE_PRESET=cpu"):
        pick_preset(Device('cuda', name, 1, cc, 16.0))

def test_ampere_preset_needs_its_memory():
    "The rule's threshold is the estimator's own number: ampere does not fit 16 GB, fits 20."
    est = lambda gb: estimate_memory(MistralConfig(), PRESETS['ampere'], gpu_memory=gb*1e9)['fits']
    assert not est(16) and est(20)


# --- free RAM inside a container: the cgroup's limit, not the host's MemAvailable -------------------------------------
import os, subprocess, sys
from pathlib import Path
from llmclone_nb.presets import cgroup_room, free_ram


def _tree(root, files):
    for rel, text in files.items():
        f = Path(root)/rel; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(text)


def test_cgroup_room_v1(tmp_path):
    # a 4 GB limit on the container, 1.5 GB in use of which 0.5 GB clean file cache; a tighter 3 GB limit one level up
    _tree(tmp_path, {'memory/docker/abc/memory.limit_in_bytes': '4000000000', 'memory/docker/abc/memory.usage_in_bytes': '1500000000',
                     'memory/docker/abc/memory.stat': 'cache 600000000\ntotal_inactive_file 500000000\n',
                     'memory/docker/memory.limit_in_bytes': '3000000000', 'memory/docker/memory.usage_in_bytes': '2000000000',
                     'memory/memory.limit_in_bytes': str(2**63-4096), 'memory/memory.usage_in_bytes': '9000000000'})
    own = tmp_path/'cgroup'; own.write_text('5:cpu:/\n4:memory:/docker/abc\n0::/\n')
    assert cgroup_room(tmp_path, own) == 1_000_000_000                              # the parent's 3 GB − 2 GB
    (tmp_path/'memory/docker/memory.limit_in_bytes').write_text(str(2**63-4096))    # no parent limit: 4 − 1.5 + 0.5
    assert cgroup_room(tmp_path, own) == 3_000_000_000
    own.write_text('4:memory:/\n')
    assert cgroup_room(tmp_path, own) is None                                       # the host: no limit


def test_cgroup_room_v2(tmp_path):
    _tree(tmp_path, {'user.slice/memory.max': '2000000000', 'user.slice/memory.current': '800000000',
                     'user.slice/memory.stat': 'anon 500000000\ninactive_file 100000000\n'})
    own = tmp_path/'cgroup'; own.write_text('0::/user.slice\n')
    assert cgroup_room(tmp_path, own) == 1_300_000_000
    (tmp_path/'user.slice/memory.max').write_text('max')
    assert cgroup_room(tmp_path, own) is None


def test_free_ram_in_a_real_memory_cgroup():
    "A process put in a 1 GB memory cgroup (v1, needs root) sees at most 1 GB free, whatever the host has."
    g = Path('/sys/fs/cgroup/memory')/f'llmclone-test-{os.getpid()}'
    try: g.mkdir(); (g/'memory.limit_in_bytes').write_text('1000000000')
    except OSError as e: pytest.skip(f'no writable cgroup v1 memory controller here: {e}')
    try:
        r = subprocess.run([sys.executable, '-c', 'from llmclone_nb.presets import free_ram; print(free_ram())'], capture_output=True,
                           text=True, preexec_fn=lambda: (g/'cgroup.procs').write_text(str(os.getpid())), timeout=120)
        assert r.returncode == 0, r.stderr
        assert 0 < int(r.stdout) <= 1_000_000_000 < free_ram(), (r.stdout, free_ram())
    finally: g.rmdir()
