"""Export a contact list to CSV that is safe to open in a spreadsheet.

Columns: external_id, name, phone, phone2..., time_zone, priority, consent,
dnc_flagged, then one column per free-form field. The file imports back into
the same contacts. Phone numbers are plain E.164 text; other cells a
spreadsheet would evaluate as a formula are neutralised with a leading
apostrophe (the importer removes it again), see :mod:`ccpbx.store.csvwrite`.
Rows stream from a server-side cursor: memory stays flat for any list size.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from ccpbx.store.contacts import get_list
from ccpbx.store.csvwrite import neutralise, safe_writer
from ccpbx.store.mapping import FIELDS_PREFIX, is_known_header

log = structlog.get_logger(__name__)

_ROWS_SQL = """
SELECT c.external_id, c.name, c.time_zone, c.priority, c.consent, c.fields::text AS fields,
       array_agg(p.e164 ORDER BY p.rank) AS phones, bool_or(p.dnc_flagged) AS dnc
FROM contacts c JOIN phone_numbers p ON p.contact_id = c.id
WHERE c.list_id = $1
GROUP BY c.id
ORDER BY c.id
"""


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: int
    path: Path


def _consent(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


async def export_contacts(conn: asyncpg.Connection, list_name: str, path: Path) -> ExportResult:
    """Write a list's contacts to ``path`` (replaced atomically)."""
    clist = await get_list(conn, list_name)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        max_phones = await conn.fetchval(
            """SELECT coalesce(max(rank) + 1, 1) FROM phone_numbers WHERE list_id = $1""",
            clist.id,
        )
        keys = [
            r["k"]
            for r in await conn.fetch(
                """SELECT DISTINCT jsonb_object_keys(fields) AS k FROM contacts
                   WHERE list_id = $1 ORDER BY 1""",
                clist.id,
            )
        ]
        phone_cols = ["phone"] + [f"phone{i}" for i in range(2, max_phones + 1)]
        key_cols = [
            FIELDS_PREFIX + k if is_known_header(k) or k.startswith(FIELDS_PREFIX) else k
            for k in keys
        ]
        header = [
            "external_id",
            "name",
            *phone_cols,
            "time_zone",
            "priority",
            "consent",
            "dnc_flagged",
            *key_cols,
        ]
        fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".csv", dir=path.parent)
        rows = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                writer = safe_writer(out)
                writer.writerow([neutralise(h) for h in header])
                async for r in conn.cursor(_ROWS_SQL, clist.id, prefetch=2000):
                    fields = json.loads(r["fields"])
                    phones = list(r["phones"]) + [""] * (max_phones - len(r["phones"]))
                    cells = [
                        r["external_id"] or "",
                        r["name"],
                        *phones,
                        r["time_zone"] or "",
                        str(r["priority"]),
                        _consent(r["consent"]),
                        "yes" if r["dnc"] else "no",
                        *(_text(fields.get(k)) for k in keys),
                    ]
                    writer.writerow([neutralise(c) for c in cells])
                    rows += 1
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    log.info("contacts_exported", list=list_name, rows=rows)
    return ExportResult(rows, path)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
