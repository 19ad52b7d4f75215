"""Writing CSV that is safe to open in a spreadsheet and exact for other tools.

Phone numbers are written as plain text (``+12125550101``, or as written in
a rejected row, ``+1 (212) 555-0101``) and numbers as themselves (``-5``):
made only of digits and phone punctuation, a spreadsheet can at worst compute
with them, never call a function or fetch anything. Any other cell that a
spreadsheet would run as a formula (starting with ``= + - @`` TAB or CR) gets
a leading apostrophe; the importer removes it again.
"""

from __future__ import annotations

import csv
import re
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet reads these as a number at most, never as a formula.
_INERT = re.compile(r"[+-][0-9][0-9 ().\-/]*")


def neutralise(cell: str) -> str:
    """Make a cell inert in a spreadsheet: no formula, no injected field.

    Phone numbers and plain numbers (``+``/``-``, then digits and ``( ) . - /``
    and spaces only) stay as they are."""
    if cell.startswith(_FORMULA_START) and _INERT.fullmatch(cell) is None:
        return "'" + cell
    return cell


def safe_writer(out: IO[str]) -> Any:
    return csv.writer(out, lineterminator="\r\n")
