#!/usr/bin/env bash
# On a GPU machine's CPUs, without network: the gateway-overhead benchmarks (issue 18) where the client,
# the minimal proxy, the gateway and the workers do not share two cores. Installs the wheels carried in
# .whl (the list in scripts/device_gpu_pinning.sh's header), then runs bench.overhead and the no-op part
# of bench.throughput; their reports land in $OUT (the device tool) or bench/results. The pages come from
# OCRGATE_EVAL_DIR (default ../shared/eval): carry tesseract_test/images/phototest.png and
# docling_pdf/images/2305.03393v1-pg9_p1.png under some folder and point it there. With OTHER_BUILD set
# to another checkout carried along (its src/ and bench/), bench.side_by_side first measures this
# build's gateway against that one's, both running at once.
# With PROFILE_SECONDS set (py-spy among the wheels), bench.profile_gateway first samples the gateway
# and its worker for that long. The header of the output says which Python runs and whether the
# machine's own packages had uvloop before the wheels came (uvicorn runs on it where it is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import sys; print("python", sys.version.split()[0])'
python3 -c 'import uvloop' 2>/dev/null && echo "uvloop: on the machine" || echo "uvloop: not on the machine"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PWD/src:$PWD:/tmp/site"
fi
out="${OUT:-bench/results}"
nproc
if [ -n "${PROFILE_SECONDS:-}" ]; then
  PATH="/tmp/site/bin:$PATH" python3 -m bench.profile_gateway --seconds "$PROFILE_SECONDS" --out "$out" --keep-raw
fi
if [ -n "${OTHER_BUILD:-}" ]; then
  python3 -m bench.side_by_side --other "$OTHER_BUILD" --out "$out"
fi
python3 -m bench.overhead --out "$out" "$@"
python3 -m bench.throughput --noop-only --out "$out"
