#!/usr/bin/env bash
# The GPU check in one command: set up the GPU environment, then run
# `python -m benchmarks.inference.gpu`.
#
#   benchmarks/inference/gpu.sh                       # defaults: S, batch 256, 20 timed steps
#   benchmarks/inference/gpu.sh --steps 50 --output gpu.json
#
# With an NVIDIA GPU (nvidia-smi answers) it builds .venv-gpu once through `make gpu` (CUDA JAX
# and onnxruntime-gpu instead of onnxruntime), adds TensorRT's wheels for the TensorRT execution
# provider and puts their libraries on the loader path. Without one it runs in the CPU .venv and
# the script reports the GPU parts as skipped. REINSTALL=1 rebuilds .venv-gpu.
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    VENV=.venv-gpu
    if [ "${REINSTALL:-0}" = 1 ]; then rm -rf "$VENV"; fi
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import tensorrt_libs' 2>/dev/null; then
        make gpu
        # onnxruntime-gpu 1.31 is built against TensorRT 10.
        "$VENV/bin/python" -m pip install --quiet 'tensorrt-cu12>=10,<11'
    fi
    TRT_LIBS=$("$VENV/bin/python" -c 'import os, tensorrt_libs; print(os.path.dirname(tensorrt_libs.__file__))')
    export LD_LIBRARY_PATH="$TRT_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia-smi -L
else
    VENV=.venv
    echo "gpu.sh: no NVIDIA GPU here; the CPU runs what it can and the GPU parts are skipped" >&2
    test -x "$VENV/bin/python" || make venv
    export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
fi
exec "$VENV/bin/python" -m benchmarks.inference.gpu "$@"
