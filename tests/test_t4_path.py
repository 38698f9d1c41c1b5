"""The t4 path without a T4 (issue 30): the gated model and no token, devices, the rank's own GPU; and the user's path
(issue 24): no silent fallback on the bundled sample, a bounded evaluation, a log without progress bars."""
import contextlib, io, json, os, sys
from dataclasses import replace
from pathlib import Path
import pytest

torch = pytest.importorskip('torch')
import llmclone_nb.presets as pr
import llmclone_nb.qlora as ql
from llmclone_nb.presets import PRESETS, GatedModelError, NoExportFound, find_export, sample_export_path, free_gpu
from llmclone_nb.models import tiny_llama, save_tiny

GATED, COPY = PRESETS['t4'].model_id, PRESETS['t4'].alt_model_id


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('tiny')/'tiny'
    save_tiny(*tiny_llama(seed=3), d)
    return d


@pytest.fixture
def gated_hub(monkeypatch, tiny_dir, tmp_path):
    """The Hub as a user without access sees it: huggingface_hub's own `GatedRepoError` (a 401) for the gated repository
    unless a token is given, raised from the download function transformers calls (which turns it into its OSError).
    With a token, or for any other repository, the files of `tiny_dir` land in a fresh cache, as a download would."""
    import shutil, httpx, transformers.utils.hub as th
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, EntryNotFoundError
    calls = []
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path/'hub'))
    def download(repo_id, filename, *a, token=None, cache_dir=None, **k):
        calls.append((repo_id, filename, token))
        if repo_id == GATED and not token:
            url = f'https://huggingface.co/{repo_id}/resolve/main/{filename}'
            resp = httpx.Response(401, request=httpx.Request('GET', url), headers={'X-Error-Code': 'GatedRepo'})
            raise GatedRepoError(f'401 Client Error. Cannot access gated repo for url {url}. Access to model {repo_id} is '
                                 'restricted. You must have access to it and be authenticated to access it.', response=resp)
        if not (tiny_dir/filename).exists(): raise EntryNotFoundError(f'{filename} not in {repo_id}')
        root = Path(cache_dir or constants.HF_HUB_CACHE)/f"models--{repo_id.replace('/', '--')}"
        snap = root/'snapshots'/('0'*40); snap.mkdir(parents=True, exist_ok=True)
        (root/'refs').mkdir(exist_ok=True); (root/'refs'/'main').write_text('0'*40)
        shutil.copy(tiny_dir/filename, snap/filename)
        return str(snap/filename)
    monkeypatch.setattr(th, 'hf_hub_download', download)
    for k in ('HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'): monkeypatch.delenv(k, raising=False)
    assert pr.hf_token() is None   # no token at all: no variable, no Colab or Kaggle secret
    ql._BASES.clear()
    yield calls
    ql._BASES.clear()


# --- 1. one resolved model id ----------------------------------------------------------------------------------------

def test_gated_without_token_takes_the_copy(gated_hub, capsys):
    "Planted defect caught: `base_model_id` that returns the preset's id unasked (the raw 401 comes back as an OSError)."
    p = replace(PRESETS['cpu'], model_id=GATED, alt_model_id=COPY)
    assert ql.base_model_id(p) == COPY
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and 'gated' in out[0] and COPY in out[0] and 'no HF_TOKEN' in out[0]
    assert ql.base_model_id(p) == COPY and capsys.readouterr().out == ''   # asked once: no second notice
    assert (GATED, 'config.json', None) in gated_hub


def test_gated_with_a_token_keeps_the_repo(gated_hub, monkeypatch):
    monkeypatch.setattr(ql, 'hf_token', lambda: 'hf_has_access')
    p = replace(PRESETS['cpu'], model_id=GATED, alt_model_id=COPY)
    assert ql.base_model_id(p) == GATED


def test_neither_opens_is_a_clear_error(gated_hub, tiny_dir):
    "The preset's copy shut too, or no copy, or a model the user named: `GatedModelError` with the steps, never swapped."
    with pytest.raises(GatedModelError, match=r'(?s)accept the terms.*did not open either'):
        ql.base_model_id(replace(PRESETS['cpu'], model_id=GATED, alt_model_id=str(tiny_dir/'missing-copy')))
    with pytest.raises(GatedModelError, match='HF_TOKEN'):
        ql.base_model_id(replace(PRESETS['cpu'], model_id=GATED, alt_model_id=None))
    with pytest.raises(GatedModelError):
        ql.base_model_id(PRESETS['t4'], model_id=GATED)


def test_train_uses_the_resolved_id_everywhere(gated_hub, tiny_dir, tmp_path, monkeypatch, capsys):
    """Preflight, loader, training and llmclone.json all see one id: the copy. Planted defect caught: `train` calling
    `train_preflight` on the preset's own id (the raw OSError of issue 30.1)."""
    from llmclone_nb.train import train
    data = tmp_path/'data'; data.mkdir()
    rows = [{'messages': [{'role': 'user', 'content': f'привет {i}'}, {'role': 'assistant', 'content': f'норм {i} )'}]} for i in range(12)]
    for split in ('train', 'validation'): (data/f'{split}.jsonl').write_text(''.join(json.dumps(r, ensure_ascii=False)+'\n' for r in rows))
    p = replace(PRESETS['cpu'], model_id=GATED, alt_model_id=str(tiny_dir))
    res = train(data, tmp_path/'run', preset=p, max_steps=1, load_in_4bit=False, max_seq_len=48, lora_r=2, eval_steps=10,
                args={'disable_tqdm': True}, target_modules=['q_proj'])
    info = json.loads((tmp_path/'run'/'adapter'/'llmclone.json').read_text())
    assert info['base_model'] == res['base_model'] == info['settings']['model_id'] == str(tiny_dir)
    assert f'using its non-gated copy {tiny_dir}' in capsys.readouterr().out


# --- 2. inputs on the model's device ---------------------------------------------------------------------------------

class Reached(Exception): "The model was called with every tensor on its own device."

class OnMeta(torch.nn.Module):
    """A model that reports the meta device (as a model on cuda:0 reports cuda:0) and checks that every tensor it is given
    is there too. `generate` answers with stop tokens on the CPU (meta tensors keep their shapes, not their values)."""
    def __init__(self, stop:int, forward_raises:bool=True):
        super().__init__()
        self.w = torch.nn.Parameter(torch.empty(1, device='meta')); self.stop, self.forward_raises = stop, forward_raises
        self.calls = []
    @property
    def device(self): return torch.device('meta')
    def _check(self, what, kw):
        bad = {k: str(v.device) for k, v in kw.items() if torch.is_tensor(v) and v.device.type != 'meta'}
        self.calls.append(what)
        assert not bad, f"{what} got tensors on another device than the model's (meta): {bad}"
    def generate(self, **kw):
        self._check('generate', kw)
        b, n = kw['input_ids'].shape
        return torch.full((b, n + 3), self.stop, dtype=torch.long)
    def forward(self, **kw):
        self._check('forward', kw)
        raise Reached()
    def disable_adapter(self): return contextlib.nullcontext()


@pytest.fixture(scope='module')
def tok():
    from llmclone_nb.train import fix_pad_token, ensure_chat_template
    _, t = tiny_llama(); fix_pad_token(t); ensure_chat_template(t)
    return t


def test_chat_feeds_the_models_device(tok):
    "Planted defect caught: `torch.tensor([ids])` in `chat` without `device=clone.device`."
    from llmclone_nb.train import chat, compare_replies
    from llmclone_nb.prompt import stop_ids
    m = OnMeta(stop_ids(tok)[0])
    assert chat(m, 'привет', tokenizer=tok) == ''
    rows = [{'messages': [{'role': 'user', 'content': 'как дела?'}, {'role': 'assistant', 'content': 'норм'}]}]
    assert len(compare_replies(m, tok, rows, n=1)) == 1 and m.calls == ['generate']*3


def test_chapter4_stop_cell_feeds_the_models_device(tok):
    "Chapter 4's cell that checks the clone stops by itself, run as it is on a model that is not on the CPU."
    from llmclone_nb.train import _system_of
    from llmclone_nb.prompt import prompt_ids, stop_ids
    nb = json.loads((Path(__file__).resolve().parents[1]/'nbs'/'04_train.ipynb').read_text())
    src = next(''.join(c['source']) for c in nb['cells'] if c.get('id') == '2ab23e5f')
    m = OnMeta(stop_ids(tok)[0])
    exec(src, dict(torch=torch, clone=m, tok=tok, prompt_ids=prompt_ids, _system_of=_system_of, stop_ids=stop_ids))
    assert m.calls == ['generate']


def test_chapter3_trap_check_feeds_the_models_device(tok):
    "Chapter 3's trap check (`grad_error_after_generate`): generate and forward get the model's device. Planted defect: no `.to`."
    m4, ref = OnMeta(tok.eos_token_id), OnMeta(tok.eos_token_id)
    with pytest.raises(Reached):
        ql.grad_error_after_generate(m4, ref, torch.tensor([[1, 5, 9]]))
    assert m4.calls == ['generate', 'forward']
    with pytest.raises(Reached): ql._lora_grads(ref, torch.tensor([[1, 5, 9]]))


def test_other_chapters_generate_on_the_models_device(tok):
    "Chapter 0's `reply` (used in chapter 3) and chapter 6's batched `generate` (chapter 6, the pipeline)."
    from llmclone_nb.models import reply
    from llmclone_nb.evaluate import generate
    from llmclone_nb.prompt import stop_ids
    m = OnMeta(stop_ids(tok)[0])
    reply(m, tok, [{'role': 'user', 'content': 'hi'}], max_new_tokens=2)
    generate(m, tok, [[{'role': 'user', 'content': 'hi'}], [{'role': 'user', 'content': 'как дела?'}]], max_new_tokens=2)
    assert m.calls == ['generate']*2


# --- 3. the rank's own GPU -------------------------------------------------------------------------------------------

@pytest.fixture
def two_gpus(monkeypatch):
    "Two faked cards: GPU 0 nearly empty (15 GB free), GPU 1 holding another process (6 GB free)."
    free = {0: 15*10**9, 1: 6*10**9}
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'mem_get_info', lambda i=None: (free[0 if i is None else int(i)], 16*10**9))
    return free


def test_free_gpu_asks_the_ranks_own_card(two_gpus, monkeypatch):
    "Planted defect caught: `mem_get_info(0)` in every rank."
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    assert free_gpu() == two_gpus[0]
    monkeypatch.setenv('LOCAL_RANK', '1')
    assert free_gpu() == two_gpus[1] and pr.gpu_index() == 1
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)   # a launcher that shows each process its own card only
    assert pr.gpu_index() == 0


def test_train_preflight_on_rank_1_sees_its_card(two_gpus, monkeypatch, tmp_path):
    "Rank 1 of a Kaggle 2×T4 run whose card has 6 GB free stops, though card 0 has room."
    from transformers import MistralConfig
    from llmclone_nb.train import train_preflight
    from llmclone_nb.presets import NotEnoughRoom
    cfg = MistralConfig(vocab_size=32768)
    monkeypatch.setenv('LOCAL_RANK', '0'); train_preflight(PRESETS['t4'], tmp_path, cfg)
    monkeypatch.setenv('LOCAL_RANK', '1')
    with pytest.raises(NotEnoughRoom, match='GPU memory'): train_preflight(PRESETS['t4'], tmp_path, cfg)


# --- 4. no silent fallback on the bundled sample ---------------------------------------------------------------------

@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    "Colab with nothing: no Drive mounted, nothing uploaded; the search places point into an empty folder."
    monkeypatch.setenv('COLAB_RELEASE_TAG', 'faked'); monkeypatch.delenv('KAGGLE_KERNEL_RUN_TYPE', raising=False)
    for k in ('LLMCLONE_EXPORT', 'LLMCLONE_OUT'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(pr, 'COLAB_DRIVE', tmp_path/'drive')
    pats = [f'{tmp_path}/content/result.json', f'{tmp_path}/content/*/result.json', f'{tmp_path}/drive/MyDrive/*Export*.zip']
    monkeypatch.setattr(pr, '_SEARCH', pats)
    return pats


def test_gpu_preset_without_export_stops_and_says_where_it_looked(fake_colab, monkeypatch):
    "Planted defect caught: the old `find_export` that takes the bundled sample when it finds nothing."
    monkeypatch.setenv('LLMCLONE_PRESET', 't4')
    with pytest.raises(NoExportFound) as e: find_export()
    msg = str(e.value)
    assert all(p in msg for p in fake_colab) and 'Google Drive not mounted' in msg and 'Files pane' in msg
    assert "find_export('sample')" in msg and 'LLMCLONE_EXPORT=sample' in msg
    with pytest.raises(NoExportFound): find_export(fallback=None)


def test_sample_only_when_asked_or_on_the_cpu_preset(fake_colab, monkeypatch):
    monkeypatch.setenv('LLMCLONE_PRESET', 't4')
    assert find_export('sample') == find_export(fallback='sample') == sample_export_path()
    monkeypatch.setenv('LLMCLONE_EXPORT', 'sample'); assert find_export() == sample_export_path()
    monkeypatch.delenv('LLMCLONE_EXPORT'); monkeypatch.setenv('LLMCLONE_PRESET', 'cpu')
    assert find_export() == sample_export_path()                        # the cpu preset's teaching cells
    monkeypatch.setenv('LLMCLONE_PRESET', 't4')
    setup = pr.before_you_start(mount=False, verbose=False)             # the checklist says so, and does not stop
    assert setup['export'] is None and any('No export of yours found' in n and 'not mounted' in n for n in setup['notes'])


def test_chapter4_without_data_says_run_chapter_1(fake_colab, monkeypatch, tmp_path):
    "Chapter 4 on a new machine: no data/ and no export. Planted defect caught: preparing the sample in its place."
    from llmclone_nb.train import find_data
    with pytest.raises(FileNotFoundError, match=r'(?s)Run chapter 1.*Google Drive not mounted.*Looked at'):
        find_data(tmp_path/'out'/'data', PRESETS['t4'], verbose=False)
    assert not (tmp_path/'out'/'data').exists()
    (tmp_path/'content').mkdir(); (tmp_path/'content'/'result.json').write_text('{}')
    with pytest.raises(Exception) as e: find_data(tmp_path/'out'/'data', PRESETS['t4'], verbose=False)
    assert 'Run chapter 1' not in str(e.value)      # an export found is prepared (this one is empty: chapter 1's own error)


# --- 5. a bounded evaluation and a readable log ---------------------------------------------------------------------

def test_eval_subset_is_fixed_and_capped():
    from llmclone_nb.train import eval_subset
    a = eval_subset(8000, 256, seed=42)
    assert len(a) == 256 == len(set(a)) and a == sorted(a) and a == eval_subset(8000, 256, seed=42) and max(a) < 8000
    assert eval_subset(100, 256) == list(range(100))


def test_evaluation_during_training_reads_at_most_the_cap(tiny_dir, tmp_path, monkeypatch):
    """Rows seen by the evaluator, counted at the collator: with 40 validation rows and `eval_rows=6`, two evaluations
    (start and end) read 12. Planted defect caught: evaluating the whole validation split."""
    from llmclone_nb import train as tr
    data = tmp_path/'data'; data.mkdir()
    row = lambda i: {'messages': [{'role': 'user', 'content': f'как дела {i}?'}, {'role': 'assistant', 'content': f'норм {i}'}]}
    (data/'train.jsonl').write_text(''.join(json.dumps(row(i), ensure_ascii=False)+'\n' for i in range(16)))
    (data/'validation.jsonl').write_text(''.join(json.dumps(row(i), ensure_ascii=False)+'\n' for i in range(40)))
    seen = {'train': 0, 'eval': 0}
    real = tr.PadCollator.__call__
    def counting(self, feats):
        seen['eval' if 'length' not in feats[0] else 'train'] += len(feats)   # the eval set has its length column removed
        return real(self, feats)
    monkeypatch.setattr(tr.PadCollator, '__call__', counting)
    res = tr.train(data, tmp_path/'run', preset='cpu', model_id=str(tiny_dir), max_steps=2, eval_rows=6, eval_steps=100,
                   micro_batch=2, load_in_4bit=False, max_seq_len=32, lora_r=2, args={'disable_tqdm': True})
    assert seen['eval'] == 2*6, seen
    assert res['data']['validation']['evaluated'] == 6 and res['plan']['eval_rows'] == 6 and res['plan']['steps'] == 2


def test_progress_bars_only_on_a_terminal(monkeypatch, tmp_path):
    "A log redirected to a file gets no tqdm bars (`disable_tqdm`); a terminal keeps them."
    from llmclone_nb.train import training_args
    class Tty(io.StringIO):
        def isatty(self): return True
    monkeypatch.delitem(sys.modules, 'ipykernel', raising=False)
    monkeypatch.setattr(sys, 'stderr', io.StringIO())
    assert training_args(PRESETS['cpu'], tmp_path).disable_tqdm is True
    monkeypatch.setattr(sys, 'stderr', Tty())
    assert training_args(PRESETS['cpu'], tmp_path).disable_tqdm is False


def test_weight_loading_bars_off_in_a_file(monkeypatch):
    "`llmclone run > log`: transformers' 'Loading weights' and the Hub's download bars are off too; on a terminal they stay."
    from transformers.utils import logging as hf_logging
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from llmclone_nb.train import _quiet_progress
    class Tty(io.StringIO):
        def isatty(self): return True
    monkeypatch.delitem(sys.modules, 'ipykernel', raising=False)
    hf_logging.enable_progress_bar(); enable_progress_bars()   # an earlier `train` in this process may have switched them off
    try:
        assert _quiet_progress(Tty()) is False and hf_logging.is_progress_bar_enabled()
        assert _quiet_progress(io.StringIO()) is True
        assert not hf_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
    finally: hf_logging.enable_progress_bar(); enable_progress_bars()
