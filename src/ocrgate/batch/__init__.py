"""`ocrgate ocr` on many files: find them (`inputs`), read each (`readers`, `work`), write its files
atomically so that a run can resume (`outputs`), several at once, with progress and a summary (`run`)."""
