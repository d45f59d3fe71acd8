#!/usr/bin/env bash
# On a GPU machine without network: install the wheels carried in .whl, then run
# bench/gpu_pinning.py. Its records land in $OUT (the device tool) or bench/records.
#
# The machine needs python3 with torch; the gateway's own pure-Python needs travel as wheels for that
# python (here 3.12), fetched beforehand where pip works:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl \
#     fastapi starlette uvicorn pydantic pydantic-core pydantic-settings python-dotenv typing-inspection \
#     annotated-types annotated-doc opentelemetry-api importlib-metadata zipp python-multipart pypdfium2 \
#     rapidfuzz sse-starlette httpx-sse nh3 pytesseract httptools aiohttp aiohappyeyeballs aiosignal attrs \
#     frozenlist multidict propcache yarl idna pybase64 jiwer apted jsonschema jsonschema-specifications \
#     referencing rpds-py fpdf2 defusedxml pyspellchecker swagger-ui-bundle-v2 [py-spy]
# (httpx, rich, typer, pillow, numpy, anyio, click, h11, uvloop were already on the GPU image; py-spy
# only for scripts/device_overhead.sh's PROFILE_SECONDS.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi -L
python3 bench/gpu_pinning.py --out "${OUT:-bench/records}"
