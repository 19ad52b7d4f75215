"""What the contact and do-not-call imports share: the result and its line
accounting, the reject file, and the streaming of converted records into COPY.

Accounting: every physical line of the file is counted once, so
``lines.total == lines.header + lines.accepted + lines.rejected + lines.skipped``.
A record spanning several lines (a quoted field with line breaks) counts all
its lines where the record went; blank lines are skipped. Records are counted
apart: ``rows == imported records + rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ccpbx.errors import InvalidInput
from ccpbx.store.csvfile import CsvReader, Record
from ccpbx.store.csvwrite import neutralise, safe_writer
from ccpbx.store.progress import Progress
from ccpbx.store.rows import RowError

_YIELD_EVERY = 2000


@dataclass(frozen=True, slots=True)
class LineTally:
    """Where each physical line of the file went: they add up to ``total``."""

    total: int
    header: int
    accepted: int
    rejected: int
    skipped: int

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "header": self.header,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    """``rows`` records read, ``rejected`` of them refused; ``imported`` is what
    was written (contacts, or do-not-call entries added or widened)."""

    list_id: int | None
    rows: int
    imported: int
    rejected: int
    dnc_flagged: int
    reject_path: Path | None
    seconds: float
    lines: LineTally


class Tally:
    """Counts records and the lines they span as they are read and refused."""

    def __init__(self) -> None:
        self.records = 0
        self.record_lines = 0
        self.rejected = 0
        self.rejected_lines = 0
        self._spans: dict[int, int] = {}

    def read(self, record: Record) -> None:
        self.records += 1
        self.record_lines += record.span
        if record.span > 1:
            self._spans[record.line] = record.span

    def reject(self, line: int) -> None:
        self.rejected += 1
        self.rejected_lines += self._spans.get(line, 1)

    def lines(self, reader: CsvReader) -> LineTally:
        return LineTally(
            total=reader.lines,
            header=reader.header_lines,
            accepted=self.record_lines - self.rejected_lines,
            rejected=self.rejected_lines,
            skipped=reader.blank_lines,
        )


class RejectFile:
    """Rejected records, kept in line order in anonymous temporary files (a killed
    import leaves no file behind); the reject file appears after the commit."""

    def __init__(self, final: Path, header: list[str]) -> None:
        self.final = final
        self.header = header
        self.count = 0
        # Closed by publish or discard.
        # One JSON array a line: no field limit, whatever the cells hold.
        self._part: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self._ready: IO[str] | None = None

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.count += 1
        self._part.write(json.dumps([line, reason, cells], ensure_ascii=False) + "\n")

    def _read_part(self) -> Iterator[tuple[int, str, list[str]]]:
        self._part.seek(0)
        for text in self._part:
            line, reason, cells = json.loads(text)
            yield line, reason, cells

    def publish(self, more: Iterator[tuple[int, str, list[str]]]) -> None:
        """Merge in the rejects found in SQL: the finished, not yet visible, reject file."""
        merged = heapq.merge(self._read_part(), more, key=lambda r: r[0])
        ready: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        writer = safe_writer(ready)
        writer.writerow(["line", "reason", *(neutralise(h) for h in self.header)])
        total = 0
        for line, reason, cells in merged:
            total += 1
            writer.writerow([line, neutralise(reason), *(neutralise(c) for c in cells)])
        self._part.close()
        if total:
            self._ready = ready
        else:
            ready.close()

    def reveal(self) -> Path | None:
        """After the commit: put the reject file in place (None if nothing was rejected)."""
        if self._ready is None:
            # A reject file left by an earlier import of this file would mislead.
            self.final.unlink(missing_ok=True)
            return None
        fd, name = tempfile.mkstemp(prefix=".rejects-", suffix=".csv", dir=self.final.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            self._ready.seek(0)
            shutil.copyfileobj(self._ready, out)
        self._ready.close()
        os.replace(name, self.final)
        return self.final

    def discard(self) -> None:
        for f in (self._part, self._ready):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


def default_reject_path(path: Path) -> Path:
    """``FILE.rejects.csv`` beside ``FILE.csv`` (any extension is replaced)."""
    return path.with_name((path.stem if path.suffix else path.name) + ".rejects.csv")


def check_reject_path(source: Path, rejects: Path) -> Path:
    """Refuse a reject file that would overwrite the file being imported."""
    if rejects.exists() and rejects.resolve() == source.resolve():
        raise InvalidInput(f"the reject file {rejects} is the file being imported")
    if not rejects.parent.is_dir():
        raise InvalidInput(f"the reject file's directory {rejects.parent} does not exist")
    return rejects


async def records_to_stage(
    reader: CsvReader,
    convert_row: Callable[[Record], list[Any]],
    rejects: RejectFile,
    progress: Progress,
    tally: Tally,
) -> AsyncIterator[tuple[Any, ...]]:
    for record in reader:
        tally.read(record)
        try:
            if record.error is not None:
                raise RowError(record.error)
            staged = convert_row(record)
        except RowError as exc:
            tally.reject(record.line)
            rejects.add(record.line, str(exc), record.cells)
        else:
            for row in staged:
                yield row
        if tally.records % _YIELD_EVERY == 0:
            progress.update(reader.position, tally.records)
            # Let a cancellation in, even if the socket never makes COPY wait.
            await asyncio.sleep(0)
    progress.update(reader.size, tally.records)
