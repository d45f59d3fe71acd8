"""A glyphless TrueType font for invisible PDF text layers, built with fontTools.

A searchable PDF's text layer is never drawn (text render mode 3), so its font needs no letter
shapes, only a character map and metrics: every character maps to its own glyph, a plain box
filling its cell (`ADVANCE` font units wide on a `UNITS_PER_EM` em, from the descent `DESCENT` to
the ascent `ASCENT`, so exactly one em tall; a box rather than nothing, because pdfium's text
extraction skips a one-character word whose glyph has no extent, and so a viewer highlights the
word's box on selection). Tesseract and OCRmyPDF use the same idea (Tesseract's
"GlyphLessFont"); building the font for the characters a document uses keeps any script
searchable without shipping a font. Its own glyph per character keeps each character's Unicode
value in the PDF's ToUnicode map, which is what text extraction reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

UNITS_PER_EM = 1000
ADVANCE = 500  # each character is half an em wide before horizontal scaling
ASCENT = 800  # the baseline sits 0.8 em below the top of a character's box
DESCENT = -200
FAMILY = "OcrgateGlyphless"


def build_font(characters: Iterable[str], path: Path) -> Path:
    """Write a glyphless TrueType font mapping each of `characters` (and the space) to `path`.

    Characters are single code points; control characters are left out (they have no glyph).
    """
    chars = sorted({c for c in characters if c.isprintable()} | {" "})
    names = [".notdef", *(f"uni{ord(c):04X}" for c in chars)]
    empty = TTGlyphPen(None).glyph()
    cell = TTGlyphPen(None)  # the character's whole cell: pdfium skips text with an empty extent
    cell.moveTo((0, DESCENT))
    cell.lineTo((0, ASCENT))
    cell.lineTo((ADVANCE, ASCENT))
    cell.lineTo((ADVANCE, DESCENT))
    cell.closePath()
    box = cell.glyph()
    builder = FontBuilder(UNITS_PER_EM, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): name for c, name in zip(chars, names[1:], strict=True)})
    builder.setupGlyf({name: empty if name in (".notdef", "uni0020") else box for name in names})
    builder.setupHorizontalMetrics({name: (ADVANCE, 0) for name in names})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": FAMILY, "styleName": "Regular"})
    builder.setupOS2(
        sTypoAscender=ASCENT,
        sTypoDescender=DESCENT,
        sTypoLineGap=0,
        usWinAscent=ASCENT,
        usWinDescent=-DESCENT,
        sxHeight=ASCENT // 2,
        sCapHeight=ASCENT,
    )
    builder.setupPost()
    builder.save(str(path))
    return path
