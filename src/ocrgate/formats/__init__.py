"""Archive output formats of the unified response: ALTO XML, hOCR and searchable PDF.

Each writer takes an `OCRResponse` and returns the file's bytes; all work from each block's text
lines and words (`ocrgate.formats.lines`), estimated from the block's box where the engine gave
none.
"""

from ocrgate.formats.alto import to_alto
from ocrgate.formats.hocr import to_hocr
from ocrgate.formats.lines import block_lines, page_lines
from ocrgate.formats.pdf import to_pdf

__all__ = ["block_lines", "page_lines", "to_alto", "to_hocr", "to_pdf"]
