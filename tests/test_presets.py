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
