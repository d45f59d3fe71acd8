"""ocrgate: one gateway in front of several OCR engines."""

__version__ = "0.1.0"
