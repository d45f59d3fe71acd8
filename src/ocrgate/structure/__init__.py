"""Document structure from models that ship inside PyPI wheels (CPU, offline, no download at run time).

- `regions`: layout regions (text, title, figure, caption, table, header, footer, equation) of a page.
- `tables`: a table region's HTML (row and column spans) and markdown, cells filled from text lines.
- `orientation`: whether a page is turned by 90, 180 or 270 degrees, and turning it upright.
- `models`: which wheel carries which model file, and loading each once.

Each module loads its model on first use; importing this package loads nothing.
"""
