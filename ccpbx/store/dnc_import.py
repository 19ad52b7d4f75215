"""Bulk import of do-not-call files: numbers stream through COPY into a
temporary table, then one INSERT ... ON CONFLICT adds or refreshes the entries.
One transaction: a killed import adds nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store.csvfile import CsvReader, Progress, Record
from ccpbx.store.db import translate_errors
from ccpbx.store.mapping import plan as make_plan
from ccpbx.store.phones import PhoneError, check_region, normalise
from ccpbx.store.rows import RowError
from ccpbx.store.staging import ImportResult, RejectFile, default_reject_path, records_to_stage

log = structlog.get_logger(__name__)


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
        rejects = RejectFile(reject_path, header)
        progress = progress or Progress(reader.size, f"import {path.name}")
        stats = {"rows": 0}

        def convert_row(record: Record) -> list[tuple[int, str]]:
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
                        records=records_to_stage(reader, convert_row, rejects, progress, stats),
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
