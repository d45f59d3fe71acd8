#!/usr/bin/env bash
# GPU run 1 (one H200): DeepSeek-OCR 2 static decoding (bench/deepseek_static.py) on GPU 0, the
# full-size architecture with random weights: pages/s at 1,000 tokens a page for several row counts,
# decode step against its floor, VRAM; beside it, MinerU's own virtualenv and `mineru-api` at tier
# flash answering a PDF through `ocrgate serve` (bench/two_gpu.py --parts mineru-smoke).
# Records land in $OUT (the device tool) or bench/records. Carried: .whl, .whl-mineru (see
# scripts/device_env.sh), pages/ (page images) and pdf/ (a born-digital PDF).
source "$(dirname "$0")/device_env.sh"
OUT="${OUT:-bench/records}"
python3 bench/two_gpu.py --parts mineru-smoke --out "$OUT" --mineru-python "$MINERU_PYTHON" \
  --pages-dir pages --pdf pdf/multi_page.pdf --work /tmp/mineru-smoke > "$OUT/mineru_smoke.log" 2>&1 &
smoke=$!
python3 -m bench.deepseek_static --out "$OUT" --pages-dir pages "$@" 2>&1 | tee "$OUT/deepseek_static.log"
wait $smoke || echo "mineru smoke exited with $?"
tail -25 "$OUT/mineru_smoke.log"
