# Sourced by the scripts/device_*.sh that run on a GPU machine without network (the device tool):
# installs the carried wheels, makes MinerU's own virtualenv, and exports what the runs need.
#
# Wheels for that machine's python (3.12), fetched where pip works, into .whl (the gateway's pure
# Python needs; the image already has torch, transformers, numpy, pillow, httpx, typer, rich, click,
# h11, uvloop, tqdm, lxml, pyyaml) and .whl-mineru (MinerU 4.0.12 at tier flash and what it adds):
#   P="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform any \
#      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64"
#   pip download $P -d .whl annotated-doc annotated-types anyio attrs fastapi httptools httpx-sse \
#     importlib_metadata jsonschema jsonschema-specifications nh3 opentelemetry-api prometheus_client \
#     pydantic pydantic-settings pydantic_core pypdfium2 pytesseract python-dotenv python-multipart \
#     RapidFuzz referencing rpds-py sse-starlette starlette typing-inspection typing_extensions uvicorn zipp \
#     jiwer sniffio aiohttp aiohappyeyeballs aiosignal frozenlist multidict propcache yarl idna pybase64
#   (the last re-run also carried apted defusedxml fonttools fpdf2 markdown-it-py mdurl pyspellchecker
#   swagger-ui-bundle-v2 tifffile, the project's newer pure dependencies: 29 MB of .whl in all)
#   pip download $P -d .whl-mineru mineru==4.0.12 docvortex fastapi_offline loguru json_repair openai \
#     jiter distro pypdf beautifulsoup4 soupsieve
# (the versions used are those of tests/backends/mineru/requirements-mineru-test.txt and of the
# project's own virtualenv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH="$PWD/src:$PWD:/tmp/site"
# MinerU's own virtualenv: its packages in its own site-packages; the image's (and the gateway
# wheels) visible after them through a .pth, as `make setup-mineru` would have them installed
MINERU_VENV=/tmp/venvs/mineru
if [ -d .whl-mineru ] && [ ! -x "$MINERU_VENV/bin/python" ]; then
  python3 -m venv --without-pip "$MINERU_VENV"
  site="$MINERU_VENV/lib/python3.12/site-packages"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl-mineru/*.whl
  image=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf 'import site; site.addsitedir(%s); site.addsitedir(%s)\n' "'/tmp/site'" "'$image'" > "$site/image.pth"
fi
export MINERU_PYTHON="$MINERU_VENV/bin/python"
nvidia-smi -L
python3 -c 'import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.device_count(), "GPUs")'
