"""Bulk import of contact files.

One transaction per import: the list row is locked, rows stream through
``COPY`` into a temporary staging table, duplicates are found in SQL, then one
``INSERT ... SELECT`` writes contacts, numbers and campaign leads. A killed or
cancelled import rolls back and leaves nothing behind (the temporary table
goes with the session). Every refused row is written to a reject file with
its line and reason; the reject file appears only once the import committed.
How the file is decoded and split into records, and how its lines are
accounted for, is told in :mod:`ccpbx.store.csvfile` and :mod:`ccpbx.store.staging`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import asyncpg
import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store import audit, compliance
from ccpbx.store.contacts import ContactList, get_or_create_list
from ccpbx.store.csvfile import DEFAULT_MAX_FIELD, CsvReader
from ccpbx.store.db import translate_errors
from ccpbx.store.mapping import Plan
from ccpbx.store.mapping import plan as make_plan
from ccpbx.store.phones import check_region
from ccpbx.store.progress import Progress
from ccpbx.store.rows import STAGING_COLUMNS, RowError, StagingRow, convert
from ccpbx.store.staging import (
    ImportResult,
    RejectFile,
    Tally,
    check_reject_path,
    default_reject_path,
)

log = structlog.get_logger(__name__)


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
    -- One index probe per staged number (OFFSET 0 keeps it a nested loop): the
    -- list grows inside this transaction, and a plan scanning all its numbers
    -- for every chunk would make a large import quadratic.
    CROSS JOIN LATERAL (
        SELECT c.id, c.source_line FROM phone_numbers p JOIN contacts c ON c.id = p.contact_id
        WHERE p.list_id = {list_id} AND p.e164 = s.e164 OFFSET 0
    ) c
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
           EXISTS (SELECT 1 FROM dnc_entries d WHERE {dnc_listed})
    FROM ins JOIN import_staging s ON s.line = ins.source_line
    ORDER BY s.e164
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
_PROGRESS_EVERY = 1000


class _Chunks:
    """Parse the file into lists of staging rows, CHUNK_ROWS records at a time."""

    def __init__(
        self,
        reader: CsvReader,
        plan: Plan,
        region: str,
        rejects: RejectFile,
        progress: Progress,
        tally: Tally,
    ) -> None:
        self.reader = reader
        self.records = iter(reader)
        self.plan = plan
        self.region = region
        self.rejects = rejects
        self.progress = progress
        self.tally = tally
        self.zone_sets: set[tuple[str, ...]] = set()

    def next(self) -> list[StagingRow] | None:
        staged: list[StagingRow] = []
        taken = 0
        tally = self.tally
        for record in self.records:
            taken += 1
            tally.read(record)
            try:
                if record.error is not None:
                    raise RowError(record.error)
                rows = convert(
                    record.line,
                    record.cells,
                    self.plan,
                    self.region,
                    record.had_nul,
                    self.reader.max_field,
                )
            except RowError as exc:
                tally.reject(record.line)
                self.rejects.add(record.line, str(exc), record.cells)
            else:
                staged.extend(rows)
                for row in rows:
                    self.zone_sets.add(tuple(row[3]))
            if taken % _PROGRESS_EVERY == 0:
                self.progress.update(self.reader.position, tally.records)
            if taken >= CHUNK_ROWS:
                break
        self.progress.update(self.reader.position, tally.records)
        return staged if taken else None


def _refetch(
    path: Path, reader: CsvReader, reasons: Mapping[int, str]
) -> Iterator[tuple[int, str, list[str]]]:
    """Read the file again for the cells of the records rejected in SQL."""
    if not reasons:
        return
    with CsvReader(path, reader.format, max_field=reader.max_field) as again:
        for record in again:
            reason = reasons.get(record.line)
            if reason is not None:
                yield record.line, reason, record.cells


async def _load(conn: asyncpg.Connection, chunks: _Chunks, list_id: int, now: dt.datetime) -> None:
    """COPY each chunk, then let the server dedupe and insert it while the next is parsed."""
    baseline = await conn.fetchval("SELECT coalesce(max(id), 0) FROM contacts")
    stamp = now.isoformat()
    script = _CHUNK_SQL.format(
        list_id=int(list_id),
        baseline=int(baseline),
        now=stamp,
        dnc_listed=compliance.dnc_listed(e164="s.e164", now=f"'{stamp}'::timestamptz"),
    )
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
    encoding: str | None = None,
    max_field: int = DEFAULT_MAX_FIELD,
) -> ImportResult:
    """Import a CSV file of contacts into a list (created if missing).

    ``encoding`` None reads UTF-8 (BOM or not) and refuses anything else; a
    field longer than ``max_field`` characters refuses its record."""
    started = time.monotonic()
    if region is not None:
        region = check_region(region)
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware datetime")
    reject_path = check_reject_path(path, reject_path or default_reject_path(path))
    with CsvReader(path, encoding=encoding, max_field=max_field) as reader:
        plan = make_plan(reader.header, mapping)
        rejects = RejectFile(reject_path, reader.header)
        progress = progress or Progress(reader.size, f"import {path.name}")
        tally = Tally()
        try:
            async with conn.transaction():
                with translate_errors("import contacts", list=list_name):
                    clist, list_region = await _lock_list(conn, list_name, region)
                    await conn.execute(_TEMP_TABLES_SQL)
                    chunks = _Chunks(reader, plan, list_region, rejects, progress, tally)
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
                    for line in sql_rejects:
                        tally.reject(line)
                    lines = tally.lines(reader)
                    await audit.record(
                        conn,
                        actor=actor,
                        action="contacts.import",
                        object_type="contact_list",
                        object_id=str(clist.id),
                        at=now,
                        details={
                            "file": path.name,
                            "rows": tally.records,
                            "imported": int(counts["contacts"]),
                            "rejected": tally.rejected,
                            "dnc_flagged": int(counts["flagged"]),
                            "lines": lines.as_dict(),
                        },
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
        rows=tally.records,
        imported=int(counts["contacts"]),
        rejected=tally.rejected,
        dnc_flagged=int(counts["flagged"]),
        reject_path=published,
        seconds=time.monotonic() - started,
        lines=lines,
    )
    log.info(
        "contacts_imported",
        list=list_name,
        lines=result.lines.total,
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
