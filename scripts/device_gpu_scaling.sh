#!/usr/bin/env bash
# On a GPU machine (two GPUs for the 1-vs-2 figure; one GPU gives the one-GPU figure only), without
# network: install the wheels carried in .whl, then run bench/gpu_scaling.py. Its records land in
# $OUT (the device tool) or bench/records.
#
# The machine needs python3 with torch (CUDA); the gateway's own pure-Python needs travel as wheels,
# fetched beforehand where pip works, exactly as for scripts/device_gpu_pinning.sh (see its header).
# Extra arguments go to the script, e.g. `--pages 800 --iters 40`, or another engine:
#   scripts/device_gpu_scaling.sh --backend deepseek-ocr --class-path "" \
#     --options '{"engine": "transformers"}' --python .venvs/deepseek-ocr/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi -L
python3 bench/gpu_scaling.py --out "${OUT:-bench/records}" "$@"
