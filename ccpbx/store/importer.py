"""Bulk import of contact and do-not-call files.

One transaction per import: the list row is locked, rows stream through
``COPY`` into a temporary staging table, duplicates are found in SQL, then one
``INSERT ... SELECT`` writes contacts, numbers and campaign leads. A killed or
cancelled import rolls back and leaves nothing behind (the temporary table
goes with the session). Every refused row is written to a reject file with
its line and reason; the reject file appears only once the import committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import heapq
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store.contacts import ContactList, get_or_create_list
from ccpbx.store.csvfile import CsvReader, Progress, neutralise, safe_writer
from ccpbx.store.db import translate_errors
from ccpbx.store.mapping import Plan
from ccpbx.store.mapping import plan as make_plan
from ccpbx.store.phones import PhoneError, check_region, normalise
from ccpbx.store.rows import STAGING_COLUMNS, RowError, StagingRow, convert

log = structlog.get_logger(__name__)

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


class _Rejects:
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


async def _records_to_stage(
    reader: CsvReader,
    convert_row: Any,
    rejects: _Rejects,
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


async def _lock_list(
    conn: asyncpg.Connection, name: str, region: str | None
) -> tuple[ContactList, str]:
    clist = await get_or_create_list(conn, name, region or "US")
    # Imports into one list run one after the other.
    await conn.execute("SELECT 1 FROM contact_lists WHERE id = $1 FOR UPDATE", clist.id)
    return clist, region or clist.default_region


# Per chunk, sent as one script so PostgreSQL works on chunk k while Python
# parses chunk k+1. {list_id}, {baseline} and {now} are formatted in by us
# (integers and an ISO timestamp), never from the file.
_CHUNK_SQL = """
ANALYZE import_staging;
INSERT INTO import_rejects (line, reason)
SELECT DISTINCT ON (line) line, reason FROM (
    SELECT s.line, s.rank, 0 AS k,
           CASE WHEN c.id > {baseline} AND c.source_line IS NOT NULL
                THEN 'duplicate number ' || s.e164 || ' (first on line ' || c.source_line || ')'
                ELSE 'number ' || s.e164 || ' is already in the list' END AS reason
    FROM import_staging s
    JOIN phone_numbers p ON p.list_id = {list_id} AND p.e164 = s.e164
    JOIN contacts c ON c.id = p.contact_id
    UNION ALL
    SELECT s.line, s.rank, 1,
           'duplicate number ' || s.e164 || ' (first on line ' || f.first_line || ')'
    FROM import_staging s
    JOIN (SELECT e164, min(line) AS first_line FROM import_staging GROUP BY e164) f
      ON f.e164 = s.e164
    WHERE s.line > f.first_line
) found
ORDER BY line, k, rank;
WITH src AS (
    SELECT s.* FROM import_staging s
    WHERE s.rank = 0 AND NOT EXISTS (SELECT 1 FROM import_rejects r WHERE r.line = s.line)
),
ins AS (
    INSERT INTO contacts (list_id, name, time_zone, priority, consent, external_id, fields,
                          source_line, created_at)
    SELECT {list_id}, coalesce(name, ''), time_zone, coalesce(priority, 0), consent,
           external_id, coalesce(fields, '{{}}'), line, '{now}'::timestamptz
    FROM src ORDER BY line
    RETURNING id, source_line, priority
),
ph AS (
    INSERT INTO phone_numbers (contact_id, list_id, rank, e164, time_zones, dnc_flagged)
    SELECT ins.id, {list_id}, s.rank, s.e164, s.zones,
           EXISTS (SELECT 1 FROM dnc_entries d WHERE d.e164 = s.e164
                   AND (d.expires_at IS NULL OR d.expires_at > '{now}'::timestamptz))
    FROM ins JOIN import_staging s ON s.line = ins.source_line
    RETURNING dnc_flagged
),
leads AS (
    INSERT INTO campaign_leads (campaign_id, contact_id, priority, ready_at)
    SELECT cl.campaign_id, ins.id, ins.priority, '{now}'::timestamptz
    FROM ins JOIN campaign_lists cl ON cl.list_id = {list_id}
    RETURNING 1
)
INSERT INTO import_counts
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM ph WHERE dnc_flagged);
TRUNCATE import_staging;
"""

_TEMP_TABLES_SQL = """
SET LOCAL jit = off;
CREATE TEMP TABLE import_staging (
    line integer, rank smallint, e164 text, zones text[], name text, time_zone text,
    priority integer, consent boolean, external_id text, fields jsonb) ON COMMIT DROP;
CREATE TEMP TABLE import_rejects (line integer PRIMARY KEY, reason text) ON COMMIT DROP;
CREATE TEMP TABLE import_counts (contacts bigint, flagged bigint) ON COMMIT DROP;
"""

CHUNK_ROWS = 20_000


class _Chunks:
    """Parse the file into lists of staging rows, CHUNK_ROWS records at a time."""

    def __init__(
        self, reader: CsvReader, plan: Plan, region: str, rejects: _Rejects, progress: Progress
    ) -> None:
        self.reader = reader
        self.records = iter(reader)
        self.plan = plan
        self.region = region
        self.rejects = rejects
        self.progress = progress
        self.rows = 0
        self.zone_sets: set[tuple[str, ...]] = set()

    def next(self) -> list[StagingRow] | None:
        staged: list[StagingRow] = []
        taken = 0
        for record in self.records:
            taken += 1
            try:
                rows = convert(record.line, record.cells, self.plan, self.region, record.had_nul)
            except RowError as exc:
                self.rejects.add(record.line, str(exc), record.cells)
            else:
                staged.extend(rows)
                for row in rows:
                    self.zone_sets.add(tuple(row[3]))
            if taken >= CHUNK_ROWS:
                break
        self.rows += taken
        self.progress.update(self.reader.position, self.rows)
        return staged if taken else None


def _refetch(
    path: Path, reader: CsvReader, reasons: Mapping[int, str]
) -> Iterator[tuple[int, str, list[str]]]:
    """Read the file again for the cells of the records rejected in SQL."""
    if not reasons:
        return
    with CsvReader(path, reader.format) as again:
        for record in again:
            reason = reasons.get(record.line)
            if reason is not None:
                yield record.line, reason, record.cells


async def _load(conn: asyncpg.Connection, chunks: _Chunks, list_id: int, now: dt.datetime) -> None:
    """COPY each chunk, then let the server dedupe and insert it while the next is parsed."""
    baseline = await conn.fetchval("SELECT coalesce(max(id), 0) FROM contacts")
    script = _CHUNK_SQL.format(list_id=int(list_id), baseline=int(baseline), now=now.isoformat())
    chunk = chunks.next()
    while chunk is not None:
        if chunk:
            await conn.copy_records_to_table(
                "import_staging", records=chunk, columns=list(STAGING_COLUMNS)
            )
            work = asyncio.ensure_future(conn.execute(script))
            await asyncio.sleep(0)  # the script is on its way: parse meanwhile
            try:
                chunk = chunks.next()
            finally:
                await work
        else:
            chunk = chunks.next()


async def import_contacts(
    conn: asyncpg.Connection,
    path: Path,
    *,
    list_name: str,
    now: dt.datetime,
    region: str | None = None,
    mapping: Mapping[str, str] | None = None,
    reject_path: Path | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a CSV file of contacts into a list (created if missing)."""
    started = time.monotonic()
    if region is not None:
        region = check_region(region)
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware datetime")
    reject_path = reject_path or default_reject_path(path)
    with CsvReader(path) as reader:
        plan = make_plan(reader.header, mapping)
        rejects = _Rejects(reject_path, reader.header)
        progress = progress or Progress(reader.size, f"import {path.name}")
        try:
            async with conn.transaction():
                with translate_errors("import contacts", list=list_name):
                    clist, list_region = await _lock_list(conn, list_name, region)
                    await conn.execute(_TEMP_TABLES_SQL)
                    chunks = _Chunks(reader, plan, list_region, rejects, progress)
                    await _load(conn, chunks, clist.id, now)
                    await _check_zones(conn, chunks.zone_sets)
                    counts = await conn.fetchrow(
                        """SELECT coalesce(sum(contacts), 0) AS contacts,
                                  coalesce(sum(flagged), 0) AS flagged FROM import_counts"""
                    )
                    assert counts is not None
                    sql_rejects = {
                        r["line"]: r["reason"]
                        for r in await conn.fetch(
                            "SELECT line, reason FROM import_rejects ORDER BY line"
                        )
                    }
                    rejected = rejects.count + len(sql_rejects)
                    await conn.execute(
                        """INSERT INTO audit_log (at, actor, action, object_type, object_id,
                                                  details)
                           VALUES ($1, $2, 'contacts.import', 'contact_list', $3, $4::jsonb)""",
                        now,
                        actor,
                        str(clist.id),
                        json.dumps(
                            {
                                "file": path.name,
                                "rows": chunks.rows,
                                "imported": int(counts["contacts"]),
                                "rejected": rejected,
                                "dnc_flagged": int(counts["flagged"]),
                            }
                        ),
                    )
                    rejects.publish(_refetch(path, reader, sql_rejects))
            published = rejects.reveal()
        except BaseException:
            rejects.discard()
            raise
        finally:
            progress.finish()
    result = ImportResult(
        list_id=clist.id,
        rows=chunks.rows,
        imported=int(counts["contacts"]),
        rejected=rejected,
        dnc_flagged=int(counts["flagged"]),
        reject_path=published,
        seconds=time.monotonic() - started,
    )
    log.info(
        "contacts_imported",
        list=list_name,
        rows=result.rows,
        imported=result.imported,
        rejected=result.rejected,
        dnc_flagged=result.dnc_flagged,
        seconds=round(result.seconds, 2),
    )
    return result


async def _check_zones(conn: asyncpg.Connection, zone_sets: set[tuple[str, ...]]) -> None:
    names = sorted({name for zones in zone_sets for name in zones})
    unknown = await conn.fetch(
        """SELECT z FROM unnest($1::text[]) AS z
           WHERE NOT EXISTS (SELECT 1 FROM pg_timezone_names t WHERE t.name = z)""",
        names,
    )
    if unknown:
        raise InvalidInput(
            "PostgreSQL does not know these time zones; update its tzdata",
            zones=[r["z"] for r in unknown],
        )


def parse_expiry(text: str) -> dt.datetime:
    """A DNC expiry: a date holds through that whole day (UTC); a datetime is exact."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"expiry {text!r} is not a date (YYYY-MM-DD) or ISO datetime") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


async def import_dnc(
    conn: asyncpg.Connection,
    path: Path,
    *,
    now: dt.datetime,
    campaign_id: int | None = None,
    source: str = "import",
    expires_at: dt.datetime | None = None,
    region: str = "US",
    mapping: Mapping[str, str] | None = None,
    reject_path: Path | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportResult:
    """Add every number of a file to the global (or one campaign's) do-not-call list."""
    started = time.monotonic()
    region = check_region(region)
    reject_path = reject_path or default_reject_path(path)
    with CsvReader(path) as reader:
        header = reader.header
        overrides = dict(mapping or {})
        if len(header) == 1 and not overrides:
            overrides[header[0]] = "phone"
        plan = make_plan(header, overrides)
        rejects = _Rejects(reject_path, header)
        progress = progress or Progress(reader.size, f"import {path.name}")
        stats = {"rows": 0}

        def convert_row(record: Any) -> list[tuple[int, str]]:
            if record.had_nul:
                raise RowError("contains a NUL byte (binary or corrupt data)")
            found = []
            for index in plan.phones:
                raw = record.cells[index] if index < len(record.cells) else ""
                if raw.strip():
                    try:
                        found.append((record.line, normalise(raw, region).e164))
                    except PhoneError as exc:
                        raise RowError(f"column {header[index]!r}: {exc}") from None
            if not found:
                raise RowError("missing phone number")
            return found

        try:
            async with conn.transaction():
                with translate_errors("import do-not-call list"):
                    await conn.execute(
                        """CREATE TEMP TABLE dnc_staging (line integer, e164 text)
                           ON COMMIT DROP"""
                    )
                    await conn.copy_records_to_table(
                        "dnc_staging",
                        records=_records_to_stage(reader, convert_row, rejects, progress, stats),
                        columns=["line", "e164"],
                    )
                    status = await conn.execute(
                        """INSERT INTO dnc_entries (e164, campaign_id, source, expires_at,
                                                    created_at)
                           SELECT DISTINCT e164, $1::bigint, $2::text, $3::timestamptz,
                                  $4::timestamptz
                           FROM dnc_staging
                           ON CONFLICT (e164, campaign_id) DO UPDATE
                             SET source = EXCLUDED.source, expires_at = EXCLUDED.expires_at""",
                        campaign_id,
                        source,
                        expires_at,
                        now,
                    )
                    added = int(status.split()[-1])
                    await conn.execute(
                        """INSERT INTO audit_log (at, actor, action, object_type, object_id,
                                                  details)
                           VALUES ($1, $2, 'dnc.import', 'dnc_list', $3, $4::jsonb)""",
                        now,
                        actor,
                        "global" if campaign_id is None else str(campaign_id),
                        json.dumps(
                            {
                                "file": path.name,
                                "rows": stats["rows"],
                                "added": added,
                                "rejected": rejects.count,
                                "source": source,
                            }
                        ),
                    )
                    rejects.publish(iter(()))
            published = rejects.reveal()
        except BaseException:
            rejects.discard()
            raise
        finally:
            progress.finish()
    result = ImportResult(
        None, stats["rows"], added, rejects.count, 0, published, time.monotonic() - started
    )
    log.info(
        "dnc_imported",
        rows=result.rows,
        added=added,
        rejected=result.rejected,
        campaign_id=campaign_id,
    )
    return result
