"""Bulk import of do-not-call files: numbers stream through COPY into a
temporary table, then one INSERT ... ON CONFLICT adds or widens the entries.
One transaction: a killed import adds nothing.

An import only widens: a number already on the list keeps its entry unless
the import protects it longer (permanent over dated, a later expiry over an
earlier one). With ``replace`` (and a reason) the file's source and expiry
are set as given, even where that shortens a protection; each shortened
entry is written to the audit log. An expiry already past is refused: it
would protect nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store import audit
from ccpbx.store.csvfile import DEFAULT_MAX_FIELD, CsvReader, Record
from ccpbx.store.db import translate_errors
from ccpbx.store.dnc import WIDENS_SQL, check_reason
from ccpbx.store.mapping import plan as make_plan
from ccpbx.store.phones import PhoneError, check_region, normalise
from ccpbx.store.progress import Progress
from ccpbx.store.rows import RowError
from ccpbx.store.staging import (
    ImportResult,
    RejectFile,
    Tally,
    check_reject_path,
    default_reject_path,
    records_to_stage,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DncImportResult(ImportResult):
    """``imported`` = ``added`` + ``widened`` (+ ``narrowed`` and ``relabelled``
    with replace); ``unchanged`` numbers already had at least that protection."""

    added: int
    widened: int
    narrowed: int
    relabelled: int
    unchanged: int


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


_CHANGES_SQL = """
CREATE TEMP TABLE dnc_changes (
    e164 text, added boolean, old_source text, old_expires timestamptz,
    new_source text, new_expires timestamptz) ON COMMIT DROP;
"""

# $1 campaign, $2 source, $3 expiry, $4 now. {condition} is one of two fixed
# strings of this module, never from the file.
_UPSERT_SQL = """
WITH src AS (SELECT DISTINCT e164 FROM dnc_staging),
old AS (
    SELECT d.e164, d.source, d.expires_at FROM dnc_entries d JOIN src USING (e164)
    WHERE d.campaign_id IS NOT DISTINCT FROM $1::bigint
),
up AS (
    INSERT INTO dnc_entries (e164, campaign_id, source, expires_at, created_at)
    SELECT e164, $1::bigint, $2::text, $3::timestamptz, $4::timestamptz FROM src
    ON CONFLICT (e164, campaign_id) DO UPDATE
      SET source = EXCLUDED.source, expires_at = EXCLUDED.expires_at
      WHERE {condition}
    RETURNING e164, source, expires_at
)
INSERT INTO dnc_changes
SELECT up.e164, old.e164 IS NULL, old.source, old.expires_at, up.source, up.expires_at
FROM up LEFT JOIN old USING (e164)
"""

_REPLACES_SQL = """(dnc_entries.source, dnc_entries.expires_at)
    IS DISTINCT FROM (EXCLUDED.source, EXCLUDED.expires_at)"""

_COUNTS_SQL = """
SELECT (SELECT count(DISTINCT e164) FROM dnc_staging) AS numbers,
       count(*) FILTER (WHERE added) AS added,
       count(*) FILTER (WHERE NOT added AND old_expires IS NOT NULL
                        AND (new_expires IS NULL OR new_expires > old_expires)) AS widened,
       count(*) FILTER (WHERE NOT added AND new_expires IS NOT NULL
                        AND (old_expires IS NULL OR new_expires < old_expires)) AS narrowed,
       count(*) AS changed
FROM dnc_changes
"""


def _stamp(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


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
    encoding: str | None = None,
    max_field: int = DEFAULT_MAX_FIELD,
    replace: bool = False,
    reason: str | None = None,
) -> DncImportResult:
    """Add every number of a file to the global (or one campaign's) do-not-call list."""
    started = time.monotonic()
    region = check_region(region)
    source = source.strip()
    if not source:
        raise InvalidInput("the source of a do-not-call list must not be blank")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(
            f"the expiry {expires_at.isoformat()} is already past: the entries would protect"
            " nothing (to take numbers off the list, use ccpbx dnc remove)",
            expires_at=expires_at.isoformat(),
        )
    why = check_reason(reason) if replace else None
    reject_path = check_reject_path(path, reject_path or default_reject_path(path))
    with CsvReader(path, encoding=encoding, max_field=max_field) as reader:
        header = reader.header
        overrides = dict(mapping or {})
        if len(header) == 1 and not overrides:
            overrides[header[0]] = "phone"
        plan = make_plan(header, overrides)
        rejects = RejectFile(reject_path, header)
        progress = progress or Progress(reader.size, f"import {path.name}")
        tally = Tally()

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
                        records=records_to_stage(reader, convert_row, rejects, progress, tally),
                        columns=["line", "e164"],
                    )
                    await conn.execute(_CHANGES_SQL)
                    condition = _REPLACES_SQL if replace else WIDENS_SQL
                    await conn.execute(
                        _UPSERT_SQL.format(condition=condition),
                        campaign_id,
                        source,
                        expires_at,
                        now,
                    )
                    counts = await conn.fetchrow(_COUNTS_SQL)
                    assert counts is not None
                    lines = tally.lines(reader)
                    list_id = "global" if campaign_id is None else str(campaign_id)
                    narrowed = await _audit_narrowed(conn, actor, now, campaign_id, why, path)
                    details: dict[str, Any] = {
                        "file": path.name,
                        "rows": tally.records,
                        "rejected": tally.rejected,
                        "source": source,
                        "expires_at": _stamp(expires_at),
                        "added": int(counts["added"]),
                        "widened": int(counts["widened"]),
                        "narrowed": narrowed,
                        "lines": lines.as_dict(),
                    }
                    if replace:
                        details["replace"] = True
                        details["reason"] = why
                    await audit.record(
                        conn,
                        actor=actor,
                        action="dnc.import",
                        object_type="dnc_list",
                        object_id=list_id,
                        at=now,
                        details=details,
                    )
                    rejects.publish(iter(()))
            published = rejects.reveal()
        except BaseException:
            rejects.discard()
            raise
        finally:
            progress.finish()
    changed = int(counts["changed"])
    added, widened = int(counts["added"]), int(counts["widened"])
    result = DncImportResult(
        list_id=None,
        rows=tally.records,
        imported=changed,
        rejected=tally.rejected,
        dnc_flagged=0,
        reject_path=published,
        seconds=time.monotonic() - started,
        lines=lines,
        added=added,
        widened=widened,
        narrowed=int(counts["narrowed"]),
        relabelled=changed - added - widened - int(counts["narrowed"]),
        unchanged=int(counts["numbers"]) - changed,
    )
    log.info(
        "dnc_imported",
        lines=result.lines.total,
        rows=result.rows,
        added=result.added,
        widened=result.widened,
        narrowed=result.narrowed,
        unchanged=result.unchanged,
        rejected=result.rejected,
        campaign_id=campaign_id,
        replace=replace,
    )
    return result


async def _audit_narrowed(
    conn: asyncpg.Connection,
    actor: str,
    now: dt.datetime,
    campaign_id: int | None,
    reason: str | None,
    path: Path,
) -> int:
    """One audit entry per entry whose protection the import shortened."""
    rows = await conn.fetch(
        """SELECT * FROM dnc_changes WHERE NOT added AND new_expires IS NOT NULL
             AND (old_expires IS NULL OR new_expires < old_expires) ORDER BY e164"""
    )
    return await audit.record_many(
        conn,
        actor=actor,
        action="dnc.narrow",
        object_type="dnc_entry",
        at=now,
        items=(
            (
                r["e164"],
                {
                    "campaign_id": campaign_id,
                    "reason": reason,
                    "file": path.name,
                    "old": {"source": r["old_source"], "expires_at": _stamp(r["old_expires"])},
                    "new": {"source": r["new_source"], "expires_at": _stamp(r["new_expires"])},
                },
            )
            for r in rows
        ),
    )
