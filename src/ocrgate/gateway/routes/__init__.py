"""The gateway's HTTP surface, one router per resource: ocr, jobs, backends (with health and metrics), web."""
