"""The audit log of admin changes (table ``audit_log`` of the foundation schema)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ccpbx.store.db import Executor


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]


async def record(
    db: Executor,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry; call it in the same transaction as the change it describes."""
    await db.execute(
        """INSERT INTO audit_log (at, actor, action, object_type, object_id, details)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
        at,
        actor,
        action,
        object_type,
        object_id,
        json.dumps(details or {}),
    )


async def record_many(
    db: Executor,
    *,
    actor: str,
    action: str,
    object_type: str,
    at: dt.datetime,
    items: Iterable[tuple[str | None, dict[str, Any]]],
) -> int:
    """Append one entry per ``(object_id, details)``, in the caller's transaction."""
    rows = [(at, actor, action, object_type, oid, json.dumps(d)) for oid, d in items]
    if rows:
        await db.executemany(
            """INSERT INTO audit_log (at, actor, action, object_type, object_id, details)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
            rows,
        )
    return len(rows)


async def entries(
    db: Executor, object_type: str, object_id: str | None = None, *, limit: int = 100
) -> list[AuditEntry]:
    """The latest entries about one object (or one type of object), newest first."""
    rows = await db.fetch(
        """SELECT * FROM audit_log
           WHERE object_type = $1 AND ($2::text IS NULL OR object_id = $2)
           ORDER BY at DESC, id DESC LIMIT $3""",
        object_type,
        object_id,
        limit,
    )
    return [
        AuditEntry(
            r["id"],
            r["at"],
            r["actor"],
            r["action"],
            r["object_type"],
            r["object_id"],
            json.loads(r["details"]),
        )
        for r in rows
    ]
