#!/usr/bin/env python3
"""Docs check without Quarto (it cannot be installed on these machines).

1. Process the notebooks exactly as `nbdev-docs` does before handing them to Quarto (`nbdev.serve.proc_nbs`:
   frontmatter, show_doc, hidden cells, directives removed...) into `_proc/`.
2. Render every processed page to standalone HTML with nbconvert into `_docs_check/`.
3. Check each page: it has its title, no error output, and keeps every figure its notebook shows
   (chapters that plot must show at least one figure).
4. Take a headless-Chromium screenshot of one chapter page (`--screenshot PAGE`) as an end-to-end look.

Exit status 1 with a list of problems when a check fails. Usage: python tools/docs_check.py [--screenshot 01_export]
"""
import argparse, json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'_docs_check'
# Pages that must show at least this many figures (plots are part of what the chapter teaches).
MIN_FIGURES = {'index': 1, '00_journey': 1, '01_export': 2, '02_swa': 2, '03_qlora': 2, '04_train': 1, '06_evaluate': 1}
# (chapters 1-3 and the home page open with the journey strip: one figure more than their own plots)

def _mixed_import_cells()->list:
    "Cells nbdev's docs processing would execute out of context: not exported, with an import and other statements."
    import ast
    out = []
    for nbp in sorted((ROOT/'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(nbp.read_text(encoding='utf-8'))['cells']):
            src = ''.join(c['source'])
            if c['cell_type']!='code' or re.search(r'^#\|\s*(export|exports|exporti)\b', src, re.M): continue
            try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
            except SyntaxError: continue
            if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)): continue
            if any(not isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.If)) for n in tree.body):
                out.append(f"{nbp.name} cell {i}: imports mixed with other code ({src.splitlines()[0][:60]!r}); "
                           "nbdev's docs processing runs every cell with an import: move the imports to a cell of their own")
    return out

def _missing_assets()->list:
    "Files that `nbs/_quarto.yml` names (stylesheets, includes, logos) but that are not in `nbs/`."
    import yaml
    cfg, out = yaml.safe_load((ROOT/'nbs'/'_quarto.yml').read_text(encoding='utf-8')), []
    def walk(v, key=''):
        if isinstance(v, dict): [walk(x, k) for k, x in v.items()]
        elif isinstance(v, list): [walk(x, key) for x in v]
        elif isinstance(v, str) and key in ('css', 'include-in-header', 'include-before-body', 'include-after-body', 'logo', 'favicon', 'metadata-files'):
            if key == 'metadata-files' and v == 'sidebar.yml': return  # written by nbdev-docs itself
            if not (ROOT/'nbs'/v).exists(): out.append(f"nbs/_quarto.yml names {key}: {v}, which is not in nbs/: add the file or drop the reference")
    walk(cfg)
    return out

def process():
    "Run nbdev's docs preprocessing into _proc/ and return that folder."
    from nbdev.serve import proc_nbs
    return Path(proc_nbs(force=True, n_workers=0))

def n_figures(nb:dict)->int:
    return sum(1 for c in nb['cells'] if c['cell_type']=='code' for o in c.get('outputs', [])
               if 'image/png' in o.get('data', {}) or 'image/svg+xml' in o.get('data', {}))

_FM = re.compile(r'^---\s*\n(.*?)\n---', re.S)

def quarto_like(nb):
    "Do the little Quarto would do on top of nbdev's processing: title block from frontmatter, hidden inputs."
    for c in nb.cells:
        c.metadata.pop('execution', None)  # execnb timing, not part of nbformat's schema
        src = c.source
        if c.cell_type=='markdown' and (m := _FM.match(src)):
            fm = dict(l.split(':', 1) for l in m.group(1).splitlines() if ':' in l)
            title, desc = (fm.get(k, '').strip().strip('"') for k in ('title', 'description'))
            c.source = f'# {title}\n\n> {desc}' + src[m.end():]
            nb.metadata['title'] = title
        if c.cell_type=='code':
            if re.search(r'^#\|\s*echo:\s*false', src, re.M): c.metadata.setdefault('tags', []).append('remove_input')
            c.source = re.sub(r'^#\|.*\n?', '', src, flags=re.M)

def render(proc:Path)->list:
    "Render processed notebooks to HTML; return a list of problems."
    from nbconvert import HTMLExporter
    import nbformat
    OUT.mkdir(exist_ok=True)
    problems = []
    src_nbs = sorted((ROOT/'nbs').glob('*.ipynb'))
    if not src_nbs: return ['no notebooks in nbs/']
    for src in src_nbs:
        p = proc/src.name
        if not p.exists(): problems.append(f'{src.name}: not produced by nbdev docs processing'); continue
        nb = nbformat.read(p, as_version=4)
        quarto_like(nb)
        from traitlets.config import Config
        cfg = Config({'TagRemovePreprocessor': {'enabled': True, 'remove_input_tags': {'remove_input'}},
                      'HTMLExporter': {'exclude_input_prompt': True, 'exclude_output_prompt': True}})
        html, _ = HTMLExporter(config=cfg, template_name='lab', embed_images=True).from_notebook_node(nb)
        (OUT/f'{src.stem}.html').write_text(html, encoding='utf-8')
        want = n_figures(json.loads(src.read_text(encoding='utf-8')))
        got = html.count('src="data:image/png') + html.count('<svg')
        title = (nb.metadata.get('title') or '')
        if title and title.split(':')[0].split('—')[0].strip()[:20] not in html: problems.append(f'{src.name}: title missing from the page')
        if 'jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr' in html and 'Traceback' in html:
            problems.append(f'{src.name}: a traceback is rendered on the page')
        if any(o.get('output_type')=='error' for c in nb.cells for o in c.get('outputs', [])):
            problems.append(f'{src.name}: an error output is saved in the notebook')
        if got < want: problems.append(f'{src.name}: {want} figures in the notebook, {got} on the page')
        need = MIN_FIGURES.get(src.stem, 0)
        if want < need: problems.append(f'{src.name}: shows {want} figures, the chapter needs at least {need} (run `nbdev-test --save` to store outputs)')
        print(f'{src.name:24s} {len(html)//1024:6d} KiB  {got} figures')
    return problems

def chromium()->str|None:
    for c in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(c): return shutil.which(c)

def screenshot(page:str)->list:
    "Screenshot `_docs_check/<page>.html` with headless Chromium; check the picture is a real page."
    exe = chromium()
    if exe is None: return ['chromium not found: install Debian\'s `chromium` package']
    html, png = OUT/f'{page}.html', OUT/f'{page}.png'
    png.unlink(missing_ok=True)
    cmd = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
           '--disable-dev-shm-usage', '--hide-scrollbars', '--window-size=1280,2000', f'--screenshot={png}', html.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not png.exists(): return [f'screenshot failed: {r.stderr[-500:]}']
    import matplotlib.image as mpimg
    img = mpimg.imread(png)
    rows_with_ink = int(((img[..., :3].std(axis=1)) > 0.02).any(axis=1).sum())
    print(f'screenshot {png.relative_to(ROOT)}: {img.shape[1]}x{img.shape[0]}, {rows_with_ink} rows with content')
    if img.std() < 0.02 or rows_with_ink < 200: return [f'screenshot {png} looks blank']
    return []

def chat_page_shot()->list:
    "Chapter 7's chat page as headless Chromium showed it with a streamed reply (taken by tests/test_serve_page.py)."
    png = OUT/'07_serve_chat.png'
    if not png.exists(): print('chat page screenshot: not taken yet (tests/test_serve_page.py takes it)'); return []
    import matplotlib.image as mpimg
    img = mpimg.imread(png)
    print(f'chat page screenshot {png.relative_to(ROOT)}: {img.shape[1]}x{img.shape[0]}')
    return [f'chat page screenshot {png} looks blank'] if img.std() < 0.02 else []

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--screenshot', default='01_export', help='page to screenshot ("" to skip)')
    a = ap.parse_args()
    problems = _mixed_import_cells() + _missing_assets()
    if problems: print('Docs check FAILED:\n  ' + '\n  '.join(problems)); sys.exit(1)
    problems = render(process())
    if a.screenshot: problems += screenshot(a.screenshot)
    problems += chat_page_shot()
    if problems:
        print('Docs check FAILED:\n  ' + '\n  '.join(problems)); sys.exit(1)
    print(f'Docs check passed: pages in {OUT.relative_to(ROOT)}/')
