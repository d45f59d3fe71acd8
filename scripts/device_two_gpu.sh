#!/usr/bin/env bash
# GPU run 2 (two H200s): deploy/two-gpu.toml as shipped (paths of that machine aside), through
# `ocrgate serve`: DeepSeek-OCR 2 (full-size architecture, random weights, static decoding) on GPU 0,
# MinerU (its own virtualenv, mineru-api at tier flash) on GPU 1; each alone, both at once, a
# `deepseek-ocr,mineru` compare request, then DeepSeek-OCR on both GPUs (bench/two_gpu.py).
# First, `ocrgate backends` on the shipped config shows what this machine lacks of it.
# Records land in $OUT (the device tool) or bench/records. Carried as for device_deepseek_static.sh.
source "$(dirname "$0")/device_env.sh"
OUT="${OUT:-bench/records}"
python3 -m ocrgate backends --config deploy/two-gpu.toml > "$OUT/two_gpu_backends_check.txt" 2>&1 || true
cat "$OUT/two_gpu_backends_check.txt"
status=0
python3 bench/two_gpu.py --out "$OUT" --mineru-python "$MINERU_PYTHON" --pages-dir pages \
  --pdf pdf/multi_page.pdf "$@" 2>&1 | tee "$OUT/two_gpu.log" || status=$?
for log in /tmp/ocrgate-two-gpu/serve.log /tmp/ocrgate-two-gpu/scaling.log; do
  [ -f "$log" ] && { echo "== $log"; grep -v ' 200 OK$' "$log" | tail -40; } >> "$OUT/serve_tail.log"
done
exit $status
