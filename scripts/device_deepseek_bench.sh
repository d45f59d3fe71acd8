#!/usr/bin/env bash
# On a GPU machine without network: install the wheels carried in .whl (see
# scripts/device_gpu_pinning.sh for how they were fetched), then run bench/deepseek_gpu.py: the
# full-size DeepSeek-OCR 2 architecture, random bfloat16 weights, through the transformers engine on
# one GPU. Its records land in $OUT (the device tool) or bench/records.
#
# The machine's python3 must already have torch and transformers>=5.17 (with tokenizers and
# safetensors); they are never installed here. Extra arguments go to the bench, e.g.
#   bash scripts/device_deepseek_bench.sh --batch-sizes 1,8 --tokens 200
#   bash scripts/device_deepseek_bench.sh --profile      # where a decode step's time goes
#   bash scripts/device_deepseek_bench.sh --engine-option cudnn_attention=true
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi -L
python3 -c 'import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)'
python3 -m bench.deepseek_gpu --out "${OUT:-bench/records}" "$@"
