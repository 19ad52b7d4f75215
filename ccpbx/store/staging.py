"""What the contact and do-not-call imports share: the result, the reject file,
and the streaming of converted records into COPY."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import heapq
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ccpbx.store.csvfile import CsvReader, Progress, Record, neutralise, safe_writer
from ccpbx.store.rows import RowError

_YIELD_EVERY = 2000


@dataclass(frozen=True, slots=True)
class ImportResult:
    list_id: int | None
    rows: int
    imported: int
    rejected: int
    dnc_flagged: int
    reject_path: Path | None
    seconds: float


class RejectFile:
    """Rejected records, kept in line order in anonymous temporary files (a killed
    import leaves no file behind); the reject file appears after the commit."""

    def __init__(self, final: Path, header: list[str]) -> None:
        self.final = final
        self.header = header
        self.count = 0
        # Closed by publish or discard.
        self._part: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._part)
        self._ready: IO[str] | None = None

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.count += 1
        self._writer.writerow([line, reason, *cells])

    def _read_part(self) -> Iterator[tuple[int, str, list[str]]]:
        self._part.seek(0)
        for row in csv.reader(self._part):
            yield int(row[0]), row[1], row[2:]

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
    return path.with_name(path.name + ".rejects.csv")


async def records_to_stage(
    reader: CsvReader,
    convert_row: Callable[[Record], list[Any]],
    rejects: RejectFile,
    progress: Progress,
    stats: dict[str, int],
) -> AsyncIterator[tuple[Any, ...]]:
    rows = 0
    for record in reader:
        rows += 1
        try:
            staged = convert_row(record)
        except RowError as exc:
            rejects.add(record.line, str(exc), record.cells)
        else:
            for row in staged:
                yield row
        if rows % _YIELD_EVERY == 0:
            stats["rows"] = rows
            progress.update(reader.position, rows)
            # Let a cancellation in, even if the socket never makes COPY wait.
            await asyncio.sleep(0)
    stats["rows"] = rows
    progress.update(reader.size, rows)
