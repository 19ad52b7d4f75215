"""Reading messy CSV files and writing safe ones.

Input: UTF-8 with or without a byte-order mark, else Latin-1; any delimiter
``csv.Sniffer`` finds among ``, ; TAB |``; NUL bytes are removed and the
record that held them is flagged. Output: cells that a spreadsheet would run
as a formula (starting with ``= + - @`` TAB or CR) are prefixed with an
apostrophe.
"""

from __future__ import annotations

import codecs
import csv
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ccpbx.errors import InvalidInput

DELIMITERS = ",;\t|"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAMPLE_CHARS = 64 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CsvFormat:
    encoding: str
    delimiter: str


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the file line it starts on and its cells."""

    line: int
    cells: list[str]
    had_nul: bool


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` if the whole file decodes as UTF-8 (BOM or not), else ``latin-1``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as raw:
        try:
            while chunk := raw.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8-sig"


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample; a comma if the file has a single column."""
    # Only whole lines: a cut-off last line would skew the counts.
    cut = sample.rfind("\n")
    if cut > 0:
        sample = sample[:cut]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    header = sample.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def detect_format(path: Path) -> CsvFormat:
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, newline="") as text:
        sample = text.read(_SAMPLE_CHARS).replace("\0", "")
    return CsvFormat(encoding, sniff_delimiter(sample))


class _Lines:
    """Feeds physical lines to csv.reader, removing NUL bytes and noting where."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.nul = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        if "\0" in line:
            self.nul = True
            line = line.replace("\0", "")
        return line


class CsvReader:
    """Iterate the records of a file after its header; ``position`` is the byte offset read."""

    def __init__(self, path: Path, fmt: CsvFormat | None = None) -> None:
        self.path = path
        self.format = fmt or detect_format(path)
        self.size = path.stat().st_size
        self._text = path.open(encoding=self.format.encoding, newline="")
        self._lines = _Lines(self._text)
        csv.field_size_limit(1 << 24)
        self._reader = csv.reader(self._lines, delimiter=self.format.delimiter)
        self.header: list[str] = []
        try:
            first = next(self._reader, None)
        except csv.Error as exc:
            self.close()
            raise InvalidInput(f"{path}: unreadable header: {exc}") from exc
        if not first or not any(cell.strip() for cell in first):
            self.close()
            raise InvalidInput(f"{path}: the file is empty or its first line is not a header")
        self.header = [cell.strip() for cell in first]
        self._lines.nul = False

    @property
    def position(self) -> int:
        return int(self._text.buffer.tell())  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Record]:
        reader = self._reader
        lines = self._lines
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidInput(f"{self.path}: line {start}: {exc}", line=start) from exc
            nul = lines.nul
            if nul:
                lines.nul = False
            if cells:
                yield Record(start, cells, nul)
            start = reader.line_num + 1

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def neutralise(cell: str) -> str:
    """Make a cell inert in a spreadsheet: no formula, no injected field."""
    if cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def safe_writer(out: IO[str]) -> Any:
    return csv.writer(out, lineterminator="\r\n")


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = max(total, 1)
        self.label = label
        self._last = -1

    def update(self, done: int, rows: int) -> None:
        if not self.enabled:
            return
        percent = min(100, done * 100 // self.total)
        if percent == self._last:
            return
        self._last = percent
        bar = "#" * (percent // 4)
        self.stream.write(f"\r{self.label} [{bar:<25}] {percent:3d}% {rows} rows")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write(os.linesep)
            self.stream.flush()
