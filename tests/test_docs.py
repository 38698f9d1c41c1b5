"The docs check (nbdev's docs processing + nbconvert HTML + a Chromium screenshot) passes on the committed notebooks."
import shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def test_docs_render_with_figures_and_screenshot():
    shot = '01_export' if shutil.which('chromium') or shutil.which('chromium-browser') else ''
    if not shot and not __import__('os').environ.get('CI'): pytest.skip('chromium not installed (CI installs it)')
    r = subprocess.run([sys.executable, 'tools/docs_check.py', '--screenshot', shot], cwd=ROOT, capture_output=True, text=True, timeout=900)
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0, r.stdout[-3000:]
    assert (ROOT/'_docs_check'/'01_export.png').stat().st_size > 20_000


def test_quarto_assets_exist():
    "Every file `nbs/_quarto.yml` names (stylesheets, includes) is in `nbs/`: the docs check and the site agree on the assets."
    sys.path.insert(0, str(ROOT/'tools'))
    import docs_check
    assert docs_check._missing_assets() == []


def test_chapter_1_leads_with_the_readers_path():
    "Chapter 1 shows the reader's own export before any test scaffolding, and leaves the reader's internals to chapter 1b."
    import json, re
    cells = json.loads((ROOT/'nbs'/'01_export.ipynb').read_text(encoding='utf-8'))['cells']
    src = [''.join(c['source']) for c in cells]
    heads = [i for i, s in enumerate(src) if cells[i]['cell_type'] == 'markdown' and s.startswith('## ')]
    assert src[heads[0]].startswith('## The path through this chapter'), src[heads[0]][:60]
    first = lambda pat: next(i for i, s in enumerate(src) if re.search(pat, s))
    path = [first(p) for p in (r'find_export\(\)', r'inspect_export\(export', r'prepare\(export', r'plot_stats\(stats', r'to_dataset\(data_dir')]
    assert path == sorted(path), 'the path runs: find the export, inspect, prepare, plot, hand over'
    assert first(r'tiny_exports\(|fake_message\(') > path[-1], 'hand-built test exports come after the path'
    code = [s for c, s in zip(cells, src) if c['cell_type'] == 'code']
    assert not any(re.search(r'_Segments|_push_items|ijson|ExportStream\(', s) for s in code), 'the reader internals belong to chapter 1b'
