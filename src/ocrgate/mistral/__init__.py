"""Mistral's OCR API convention (`POST /v1/ocr` with JSON), as ocrgate speaks it.

`models` holds the request and response shapes (field names and types as in Mistral's public API
and its `mistralai` SDK); `translate` turns ocrgate's unified response into that shape; `inputs`
reads what a request names (data: URLs, page selections). None of them does any I/O.
"""
