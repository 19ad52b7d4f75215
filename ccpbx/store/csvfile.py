"""Reading messy CSV files without losing or corrupting a line.

Encoding, one per file, never mixed: UTF-8 with or without a byte-order mark
unless another encoding is named. A file that does not decode is refused with
the line and column of its first bad byte. The BOM never reaches a header name.

Structure: any delimiter ``csv.Sniffer`` finds among ``, ; TAB |``. A
*physical line* ends at LF, CRLF or a lone CR. A record is one physical line,
or several when a quoted field holds line breaks. Every physical line of the
file is accounted for exactly once: it is part of the header, of a record
(good or refused), or blank (skipped). A field may hold at most ``max_field``
characters. A record whose quoting is broken is refused at its first line:
a quote left open to the end of the file or past ``max_field`` characters,
or closed where a field cannot end, is an ``unclosed quote``, and the lines
after that first line are read again as records. NUL bytes are removed and
the record that held them is flagged.
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ccpbx.errors import InvalidInput

DELIMITERS = ",;\t|"
DEFAULT_MAX_FIELD = 4096
_SAMPLE_CHARS = 64 * 1024
_CHUNK = 1 << 20
_UTF8_BOM = codecs.BOM_UTF8
_LENIENT_LIMIT = 1 << 30


@dataclass(frozen=True, slots=True)
class CsvFormat:
    encoding: str
    delimiter: str


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the line it starts on, how many physical lines it spans,
    its cells, and why it is refused (``error``) if its structure is broken."""

    line: int
    cells: list[str]
    had_nul: bool
    span: int = 1
    error: str | None = None


def check_encoding(name: str) -> str:
    """The codec name if Python knows it, else InvalidInput."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InvalidInput(
            f"unknown encoding {name!r}; use e.g. utf-8, latin-1, cp1252", encoding=name
        ) from None


def _where(path: Path, offset: int) -> tuple[int, int]:
    """Line and column (1-based, in bytes) of a byte offset of the file; lines
    end at LF, CRLF or a lone CR."""
    line, start, done, carry_cr = 1, 0, 0, False
    with path.open("rb") as raw:
        while done < offset:
            chunk = raw.read(min(_CHUNK, offset - done))
            if not chunk:
                break
            # A CR ending the previous chunk was counted; its LF is not a new line.
            crlf = chunk.count(b"\r\n") + (1 if carry_cr and chunk.startswith(b"\n") else 0)
            line += chunk.count(b"\n") + chunk.count(b"\r") - crlf
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            if end >= 0:
                start = done + end + 1
            carry_cr = chunk.endswith(b"\r")
            done += len(chunk)
    return line, offset - start + 1


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The codec to read the file with: ``utf-8-sig`` by default, else ``encoding``.

    The whole file is decoded once; InvalidInput names the first byte that does
    not decode. A file starting with a UTF-8 BOM is UTF-8 whatever is asked.
    """
    codec = "utf-8-sig" if encoding is None else check_encoding(encoding)
    if codec in ("utf-8", "utf_8"):
        codec = "utf-8-sig"
    with path.open("rb") as raw:
        head = raw.read(len(_UTF8_BOM))
    if encoding is None and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput(
            f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark);"
            " import it with --encoding utf-16",
            encoding="utf-16",
        )
    if head == _UTF8_BOM and codec != "utf-8-sig":
        raise InvalidInput(
            f"{path}: the file starts with a UTF-8 byte-order mark, so it is not {encoding};"
            " read it as UTF-8 (no --encoding) and fix the bytes that are not UTF-8",
            encoding=encoding,
        )
    decoder = codecs.getincrementaldecoder(codec)()
    fed = 0
    with path.open("rb") as raw:
        try:
            while chunk := raw.read(_CHUNK):
                fed += len(chunk)
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            offset = fed - len(exc.object) + exc.start
            line, column = _where(path, offset)
            bad = bytes(exc.object[exc.start : exc.end]).hex(" ")
            name = "UTF-8" if encoding is None else encoding
            hint = (
                "; if the file is in another encoding, name it with --encoding"
                " (e.g. --encoding latin-1 or cp1252)"
                if encoding is None
                else ""
            )
            raise InvalidInput(
                f"{path}: not valid {name}: line {line}, column {column}: byte {bad}{hint}",
                line=line,
                column=column,
                encoding=name,
            ) from None
    return codec


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


def detect_format(path: Path, encoding: str | None = None) -> CsvFormat:
    codec = detect_encoding(path, encoding)
    with path.open(encoding=codec, newline="") as text:
        sample = text.read(_SAMPLE_CHARS).replace("\0", "")
    return CsvFormat(codec, sniff_delimiter(sample))


class _Lines:
    """Feeds physical lines to csv.reader: removes NUL bytes (noting it), numbers
    the lines, keeps those of the record being read, and can read lines again."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.again: deque[str] = deque()
        self.taken: list[str] = []
        self.number = 0
        self.nul = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.again.popleft() if self.again else next(self._text)
        self.number += 1
        self.taken.append(line)
        if "\0" in line:
            self.nul = True
            line = line.replace("\0", "")
        return line


def _lenient_cells(lines: list[str], delimiter: str) -> list[str]:
    """The cells of refused lines as well as they can be read, for the reject file."""
    text = [line.replace("\0", "") for line in lines]
    if text:
        text[-1] = text[-1].rstrip("\r\n")
    previous = csv.field_size_limit(_LENIENT_LIMIT)
    try:
        return [c for row in csv.reader(text, delimiter=delimiter) for c in row]
    except csv.Error:
        return ["".join(text)]
    finally:
        csv.field_size_limit(previous)


class CsvReader:
    """Iterate the records of a file after its header; ``position`` is the byte offset read.

    After the iteration: ``lines`` physical lines in all, ``header_lines`` of
    them the header, ``blank_lines`` skipped, the rest in records (their spans).
    """

    def __init__(
        self,
        path: Path,
        fmt: CsvFormat | None = None,
        *,
        encoding: str | None = None,
        max_field: int = DEFAULT_MAX_FIELD,
    ) -> None:
        if max_field < 1:
            raise InvalidInput("the field limit must be at least 1 character")
        self.path = path
        self.format = fmt or detect_format(path, encoding)
        self.max_field = max_field
        self.size = path.stat().st_size
        self.blank_lines = 0
        self._text = path.open(encoding=self.format.encoding, newline="")
        self._lines = _Lines(self._text)
        self._reader = csv.reader(self._lines, delimiter=self.format.delimiter, strict=True)
        self.header: list[str] = []
        try:
            csv.field_size_limit(max_field)
            first = next(self._reader, None)
        except csv.Error as exc:
            self.close()
            raise InvalidInput(f"{path}: line 1: unreadable header: {exc}", line=1) from exc
        if not first or not any(cell.strip() for cell in first):
            self.close()
            raise InvalidInput(f"{path}: the file is empty or its first line is not a header")
        self.header = [cell.strip() for cell in first]
        self.header_lines = self._lines.number
        self._lines.nul = False

    @property
    def lines(self) -> int:
        return self._lines.number

    @property
    def position(self) -> int:
        return int(self._text.buffer.tell())  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Record]:
        reader = self._reader
        lines = self._lines
        taken = lines.taken
        limit = self.max_field
        set_limit = csv.field_size_limit
        while True:
            taken.clear()
            start = lines.number + 1
            set_limit(limit)  # process-wide: set again in case another reader ran
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield self._broken(start, exc)
                continue
            span = len(taken)
            nul = lines.nul
            if nul:
                lines.nul = False
            if not cells or not any(c.strip() for c in cells):
                self.blank_lines += span
                continue
            yield Record(start, cells, nul, span)

    def _broken(self, start: int, exc: csv.Error) -> Record:
        lines = self._lines
        lines.nul = False
        taken = list(lines.taken)
        delimiter = self.format.delimiter
        too_long = "field limit" in str(exc)
        if len(taken) <= 1:
            reason = (
                f"a field is longer than {self.max_field} characters"
                if too_long
                else f"misplaced quote ({exc})"
            )
            return Record(start, _lenient_cells(taken, delimiter), False, len(taken), reason)
        # A quote opened on the first line never closed where it should: only
        # that line is refused; the others are read again as records.
        if too_long:
            how = f"runs past {self.max_field} characters"
        elif "unexpected end" in str(exc):
            how = "runs to the end of the file"
        else:
            how = f"closes where a field cannot end, on line {start + len(taken) - 1}"
        lines.again.extendleft(reversed(taken[1:]))
        lines.number = start
        reason = (
            f"unclosed quote: the quoted field opened on this line {how};"
            " the lines after it are read again as records"
        )
        return Record(start, _lenient_cells(taken[:1], delimiter), False, 1, reason)

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
