"""Accuracy and speed evaluation of OCR backends: datasets, metrics, runner, report, diff."""
