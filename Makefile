# Two commands on a fresh machine:  make demo  (install + train the embedded demo)  and  make test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# CPU torch is pinned and installed first, so nothing later can pull a multi-GB CUDA build on a
# machine without NVIDIA GPUs. On a GPU machine, set TORCH_SPEC (e.g. TORCH_SPEC="torch==2.13.0"
# from an index with CUDA wheels via PIP_INDEX_URL) to choose the build you want.
TORCH_SPEC ?= torch==2.13.0
export TORCH_EXTENSIONS_DIR ?= $(CURDIR)/.torch_extensions
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test clean-runs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	DS_BUILD_OPS=0 $(BIN)/pip install -q --no-build-isolation deepspeed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

demo: setup
	$(BIN)/asr-dist launch --output-dir outputs/demo --resume auto

test: setup
	$(BIN)/python -m pytest -q tests

clean-runs:
	rm -rf outputs/demo demo_data
