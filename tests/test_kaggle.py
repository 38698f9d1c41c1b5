"Every generated Kaggle kernel is valid and matches the notebooks (regenerating changes nothing)."
import json, re, tempfile, filecmp
from pathlib import Path
from llmclone_nb.pipeline import kaggle_kernels, KAGGLE_TITLES, _slug

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {'id', 'title', 'code_file', 'language', 'kernel_type', 'is_private', 'enable_gpu', 'enable_internet', 'dataset_sources'}

def metas(): return sorted((ROOT/'kaggle').glob('*/kernel-metadata.json'))

def test_every_chapter_has_a_kernel():
    "Every chapter notebook in nbs/ (not the index, the journey map drawn in the others, or the CLI page) has its kernel."
    names = {json.loads(m.read_text())['code_file'].split('/')[-1] for m in metas()}
    chapters = {p.name for p in (ROOT/'nbs').glob('*.ipynb')} - {'index.ipynb', '00_journey.ipynb', '99_cli.ipynb'}
    assert names == chapters == {f'{s}.ipynb' for s in KAGGLE_TITLES}

def test_metadata_valid():
    ids = []
    for m in metas():
        d = json.loads(m.read_text())
        assert REQUIRED <= d.keys(), (m, REQUIRED - d.keys())
        assert (m.parent/d['code_file']).resolve().is_file(), f'{m}: code file {d["code_file"]} missing'
        assert d['code_file'].endswith('.ipynb') and d['kernel_type'] == 'notebook' and d['language'] == 'python'
        assert re.fullmatch(r'[A-Za-z0-9_-]+/[a-z0-9][a-z0-9-]{2,49}', d['id']), d['id']
        assert 5 <= len(d['title']) <= 50 and _slug(d['title']) == d['id'].split('/')[1], 'Kaggle derives the slug from the title'
        assert d['enable_gpu'] and d['enable_internet'] and d['dataset_sources']
        ids.append(d['id'])
    assert len(ids) == len(set(ids)) and ids

def test_regenerating_changes_nothing():
    with tempfile.TemporaryDirectory() as t:
        out = Path(t)/'kaggle'
        # generate from the same relative place so code_file paths agree
        kaggle_kernels(ROOT/'nbs', out)
        for m in metas():
            new = json.loads((out/m.parent.name/'kernel-metadata.json').read_text())
            old = json.loads(m.read_text())
            assert (out/m.parent.name/new['code_file']).resolve() == (m.parent/old['code_file']).resolve()
            new.pop('code_file'); old.pop('code_file')
            assert new == old, f'{m.parent.name} drifted from the notebooks: rerun the pipeline notebook'

def test_kernels_ask_for_the_t4_machine():
    """Every kernel asks for Kaggle's T4 machine. Kaggle's CLI (Kaggle/kaggle-api ≥ 1.8.4, `kernels_push`) sends the metadata's
    `machine_shape` as the run's accelerator, and its docs/kernels.md lists 'NvidiaTeslaT4' among the ids, 'NvidiaTeslaP100' as the
    default GPU — which the presets refuse (compute capability 6.0). Fails when the key is dropped or names another machine."""
    for m in metas():
        d = json.loads(m.read_text())
        assert d.get('machine_shape') == 'NvidiaTeslaT4' and d['enable_gpu'] is True, (m, d.get('machine_shape'))

def test_push_asks_for_the_t4(tmp_path, monkeypatch):
    """`push_kaggle` pushes every kernel with `--accelerator NvidiaTeslaT4` (the CLI's flag that overrides the metadata) and, with a CLI
    too old for the flag (argparse exits 2), stops with a message instead of letting the kernel land on a P100. A fake `kaggle` on PATH
    records its arguments. Fails if the flag is dropped or an old CLI's exit is ignored."""
    import os, stat
    from llmclone_nb.pipeline import push_kaggle
    log, bin_ = tmp_path/'argv.txt', tmp_path/'bin'; bin_.mkdir()
    fake = bin_/'kaggle'
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit ${{FAKE_RC:-0}}\n'); fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f"{bin_}{os.pathsep}{os.environ['PATH']}")
    push_kaggle(out=tmp_path/'kaggle', nbs=ROOT/'nbs', user='someone')
    calls = log.read_text().splitlines()
    assert len(calls) == len(KAGGLE_TITLES) and all(c.startswith('kernels push -p ') and c.endswith('--accelerator NvidiaTeslaT4') for c in calls), calls
    monkeypatch.setenv('FAKE_RC', '2')
    import pytest
    with pytest.raises(RuntimeError, match='kaggle>=1.8.4'): push_kaggle(out=tmp_path/'kaggle2', nbs=ROOT/'nbs', user='someone')
