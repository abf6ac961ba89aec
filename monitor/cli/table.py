"""The tables of ``monitor alerts`` and ``monitor feeds``: a header, then one row per record,
each column starting at the same place on every row as a terminal shows it.

A column is as wide as its widest cell in terminal columns, not in characters: an East Asian
wide character takes two, a combining accent or an invisible format character none. Text with
right-to-left letters (an Arabic or Hebrew title) sits between Unicode isolates (FSI … PDI):
without them the terminal's bidi algorithm would carry the cells around it into its run and
reorder the columns. Colour is added on a terminal only (``monitor.console.colour_wanted``),
after the padding is measured on the plain text, so it takes no room.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import click

from monitor.console import colour_wanted
from monitor.rules.templates import isolate

# Room for a title worth reading beside the other columns, and still one line on a laptop's
# terminal at a readable size.
TABLE_WIDTH = 120
MIN_FITTED_WIDTH = 20  # the fitted last column is never cut shorter than this
GAP = "  "
NOTE_INDENT = "    "
ELLIPSIS = "…"

# One colour per state, whichever command shows it: done, waiting, given up.
STATUS_COLOURS = {
    "sent": "green",
    "ok": "green",
    "not modified": "green",
    "digested": "cyan",
    "pending": "yellow",
    "held": "yellow",
    "failed": "red",
    "error": "red",
}

# Explicit embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI). Text from
# outside (a feed's title, a server's error) may carry them; a stray PDI would close the
# isolate a cell is put in, and let the cell reorder its neighbours.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_RIGHT_TO_LEFT = frozenset({"R", "AL", "AN"})
_ZERO_WIDTH_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


@dataclass(frozen=True)
class Cell:
    """A cell's text and, on a terminal, its colour (a ``click.style`` colour name)."""

    text: str
    colour: str | None = None


@dataclass(frozen=True)
class Row:
    """The cells of one record, and lines shown under it, indented (a last error)."""

    cells: Sequence[Cell | str]
    notes: Sequence[str] = ()


def display_width(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.category(char) in _ZERO_WIDTH_CATEGORIES:
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def truncated(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, an ellipsis saying it was cut. A character
    is kept with the accents that follow it, never cut from them."""
    if display_width(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        used += _char_width(char)
        if used > width - display_width(ELLIPSIS):
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def status_cell(status: str) -> Cell:
    return Cell(status, STATUS_COLOURS.get(status))


def last_error_notes(error: str | None) -> tuple[str, ...]:
    """The line under a record that failed, saying why."""
    return (f"last error: {error}",) if error else ()


def _printable(text: str) -> str:
    """Text from outside on one line: control characters (a newline, an escape sequence that
    would restyle or clear the terminal) as spaces, and no bidi controls of its own."""
    flat = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(flat.translate(_BIDI_CONTROLS).split())


def _isolated(text: str) -> str:
    """Text in an isolate when it holds right-to-left letters; left-to-right text as it is,
    so what a person copies from the table is what was stored."""
    needs = any(unicodedata.bidirectional(char) in _RIGHT_TO_LEFT for char in text)
    return isolate(text) if needs else text


def counted(number: int, one: str, many: str) -> str:
    """``1 feed``, ``2 feeds``."""
    return f"{number} {one if number == 1 else many}"


def readable(text: str) -> str:
    """Text from outside as a line of output shows it: printable, on one line, and isolated
    when it holds right-to-left letters."""
    return _isolated(_printable(text))


def table_lines(
    header: Sequence[str], rows: Sequence[Row], colour: bool, fit_last: bool = False
) -> list[str]:
    """The header and rows, columns padded to their widest cell; the notes of a row under it.
    With ``fit_last`` the last column is cut so a row fits ``TABLE_WIDTH`` (a title), never to
    fewer than ``MIN_FITTED_WIDTH`` columns."""
    cells = [[_as_cell(cell) for cell in row.cells] for row in rows]
    widths = [
        max(display_width(text) for text in column)
        for column in zip(header, *([c.text for c in row] for row in cells), strict=True)
    ]
    if fit_last:
        room = TABLE_WIDTH - sum(widths[:-1]) - len(GAP) * (len(widths) - 1)
        last = max(MIN_FITTED_WIDTH, room)
        cells = [[*row[:-1], Cell(truncated(row[-1].text, last), row[-1].colour)] for row in cells]
    heading = _line([Cell(title) for title in header], widths, colour=False)
    lines = [click.style(heading, bold=True) if colour else heading]
    for row, row_cells in zip(rows, cells, strict=True):
        lines.append(_line(row_cells, widths, colour))
        lines += [NOTE_INDENT + readable(note) for note in row.notes]
    return lines


def _as_cell(cell: Cell | str) -> Cell:
    """A cell whose text is safe to print; a string is a cell without colour."""
    if isinstance(cell, str):
        cell = Cell(cell)
    return Cell(_printable(cell.text), cell.colour)


def _line(cells: Sequence[Cell], widths: Sequence[int], colour: bool) -> str:
    """One row: each cell but the last padded to its column, measured on its plain text."""
    padded = [
        _shown(cell, colour) + " " * (width - display_width(cell.text))
        for cell, width in zip(cells[:-1], widths[:-1], strict=True)
    ]
    return GAP.join([*padded, _shown(cells[-1], colour)]).rstrip()  # an empty last cell


def _shown(cell: Cell, colour: bool) -> str:
    text = _isolated(cell.text)
    return click.style(text, fg=cell.colour) if colour and cell.colour else text


def echo_table(header: Sequence[str], rows: Sequence[Row], fit_last: bool = False) -> None:
    """Print the table on standard output, in colour on a terminal only. ``color`` is passed
    to click so that its own stripping of colour codes cannot decide otherwise."""
    colour = colour_wanted(sys.stdout)
    for line in table_lines(header, rows, colour, fit_last):
        click.echo(line, color=colour)
