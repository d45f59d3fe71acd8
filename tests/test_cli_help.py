"""`--help` reads as prose at any terminal width: a docstring's paragraphs reflow, so no line of a
paragraph ends before it is full (the docstring's own line breaks made `ocrgate ocr --help` at 80
columns read "keeps every file finished) and / started again")."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from typer.testing import CliRunner

from ocrgate.cli import app

COMMANDS = ("", "ocr", "backends", "worker", "gateway", "web", "serve", "eval", "eval diff")


def _fits(line: str, following: str, room: int) -> bool:
    """Whether the first word of `following` would have fitted at the end of `line` (`room` columns)."""
    return bool(line and following) and len(line) + 1 + len(following.split()[0]) <= room


def short_lines(text: str, width: int) -> list[str]:
    """Lines of a help paragraph, or of the Commands panel's descriptions, broken before they were
    full: the next line of the same paragraph (or the same command) would have fitted its first word."""
    found: list[str] = []
    lines = text.splitlines()
    column = 0  # where the Commands panel's descriptions start
    for line, following in pairwise(lines):
        if line.startswith("╭─ Commands"):
            column = -1
        elif line.startswith("╰"):
            column = 0
        elif not line.startswith("│") and not following.startswith(("│", "╭", "╰")):
            if _fits(line.strip(), following.strip(), width - 2):  # rich pads each side by one
                found.append(line)
        elif column and following.startswith("│"):
            inner, after = line[1:-1], following[1:-1]
            if column == -1:
                column = re.match(r" \S+\s+", inner).end()  # type: ignore[union-attr]
            room = len(inner) - column - 1
            if not after[:column].strip() and _fits(inner[column:].rstrip(), after[column:].strip(), room):
                found.append(line)
    return found


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "ocrgate")
def test_help_paragraphs_reflow_to_the_terminal(command: str, width: int) -> None:
    shown = CliRunner().invoke(
        app, [*command.split(), "--help"], env={"COLUMNS": str(width), "TERMINAL_WIDTH": None}
    )
    assert shown.exit_code == 0, shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= width
    assert short_lines(shown.output, width) == []


def test_the_check_finds_a_paragraph_broken_early() -> None:
    text = " With --out a run can be stopped (summary.csv keeps every file finished) and\n started again.\n"
    assert short_lines(text, 120) == [text.splitlines()[0]]
    assert short_lines(text, 80) == []
