"""Repository of configuration versions (table ``conf_versions``, sql/0015): every
``conf apply``/``rollback`` attempt, audited in the same transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ccpbx.asterisk.expect import Expectations
from ccpbx.errors import Conflict, NotFound
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, translate_errors

RESULTS = ("applied", "check_failed", "rolled_back", "failed")
_LOCK = "ccpbx_conf_apply"


class ApplyRunning(Conflict):
    """Another ``conf apply`` or ``rollback`` (CLI or API) holds the lock."""

    error_id = "conf_apply_running"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as it ended, to be stored."""

    files: Mapping[str, str]
    expect: Expectations
    result: str
    by: str
    message: str = ""
    changed: Sequence[str] = ()
    previous: Mapping[str, str | None] = field(default_factory=dict)
    diff: str = ""
    detail: str = ""
    rollback_of: int | None = None
    check_s: float | None = None
    apply_s: float | None = None


@dataclass(frozen=True, slots=True)
class ConfVersion:
    version: int
    created_at: dt.datetime
    created_by: str
    message: str
    result: str
    changed: tuple[str, ...]
    detail: str
    rollback_of: int | None
    check_s: float | None
    apply_s: float | None
    diff: str = ""
    files: dict[str, str] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, str | None] = field(default_factory=dict)


def _version(row: asyncpg.Record, full: bool) -> ConfVersion:
    return ConfVersion(
        row["version"],
        row["created_at"],
        row["created_by"],
        row["message"],
        row["result"],
        tuple(row["changed"]),
        row["detail"],
        row["rollback_of"],
        row["check_s"],
        row["apply_s"],
        diff=row["diff"] if full else "",
        files=json.loads(row["files"]) if full else {},
        expect=json.loads(row["expect"]) if full else {},
        previous=json.loads(row["previous"]) if full else {},
    )


async def record(db: Executor, attempt: Attempt) -> int:
    """Store ``attempt`` as the next version; return its number."""
    if attempt.result not in RESULTS:
        raise ValueError(f"unknown result {attempt.result!r}")
    async with connection(db) as conn, conn.transaction():
        with translate_errors("record configuration version"):
            row = await conn.fetchrow(
                """INSERT INTO conf_versions (created_by, message, files, expect, changed, diff,
                                              result, detail, rollback_of, check_s, apply_s,
                                              previous)
                   VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $9, $10, $11,
                           $12::jsonb)
                   RETURNING version, created_at""",
                attempt.by,
                attempt.message,
                json.dumps(dict(attempt.files)),
                json.dumps(attempt.expect.as_dict()),
                list(attempt.changed),
                attempt.diff,
                attempt.result,
                attempt.detail,
                attempt.rollback_of,
                attempt.check_s,
                attempt.apply_s,
                json.dumps(dict(attempt.previous)),
            )
            assert row is not None
            await audit.record(
                conn,
                actor=attempt.by,
                action="rollback" if attempt.rollback_of else "apply",
                object_type="asterisk_conf",
                object_id=str(row["version"]),
                at=row["created_at"],
                details={
                    "result": attempt.result,
                    "changed": list(attempt.changed),
                    "message": attempt.message,
                    "rollback_of": attempt.rollback_of,
                    "detail": attempt.detail,
                },
            )
    return int(row["version"])


@contextlib.asynccontextmanager
async def exclusive(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """One ``conf apply``/``rollback`` at a time (a session advisory lock held on ``conn``):
    Conflict at once if another one runs."""
    with translate_errors("lock configuration versions"):
        got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _LOCK)
    if not got:
        raise ApplyRunning(
            "another `ccpbx conf apply` or `rollback` (command line or API) is running;"
            " try again later"
        )
    try:
        yield
    finally:
        with translate_errors("unlock configuration versions"):
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _LOCK)


async def history(db: Executor, limit: int = 50) -> list[ConfVersion]:
    """The latest versions, newest first (without their files)."""
    async with connection(db) as conn:
        rows = await conn.fetch("SELECT * FROM conf_versions ORDER BY version DESC LIMIT $1", limit)
    return [_version(r, full=False) for r in rows]


async def get(db: Executor, version: int) -> ConfVersion:
    async with connection(db) as conn:
        row = await conn.fetchrow("SELECT * FROM conf_versions WHERE version = $1", version)
    if row is None:
        raise NotFound(f"no configuration version {version}", version=version)
    return _version(row, full=True)


async def last_applied(db: Executor) -> dict[str, str] | None:
    """The files of the last successful version (name -> text as written), or None."""
    async with connection(db) as conn:
        text = await conn.fetchval(
            "SELECT files FROM conf_versions WHERE result = 'applied' ORDER BY version DESC LIMIT 1"
        )
    return None if text is None else dict(json.loads(text))
