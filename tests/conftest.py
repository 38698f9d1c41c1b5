"Fixtures shared by the chapter 6 and 6a tests (imports inside, so test files that need neither import nothing heavy)."
import pytest

@pytest.fixture(scope='module')
def tiny():
    "A tiny random Llama (eval mode) and its tokenizer with a pad token."
    from llmclone_nb.models import tiny_llama
    from llmclone_nb.train import fix_pad_token
    m, tok = tiny_llama(); fix_pad_token(tok)
    return m.eval(), tok

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "Chapter 1's dataset of the bundled sample export, prepared once per test module."
    from llmclone_nb.export import prepare
    from llmclone_nb.presets import sample_export_path
    d = tmp_path_factory.mktemp('sample')/'data'
    prepare(sample_export_path(), d)
    return d
