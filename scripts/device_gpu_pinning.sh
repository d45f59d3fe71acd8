#!/usr/bin/env bash
# On a GPU machine without network: install the wheels carried in .whl (see README, "GPU checks"),
# then run bench/gpu_pinning.py. Its records land in $OUT (the device tool) or bench/records.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi -L
python3 bench/gpu_pinning.py --out "${OUT:-bench/records}"
