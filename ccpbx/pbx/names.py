"""The one name space phones and trunks share: each is a PJSIP endpoint of that name."""

from __future__ import annotations

import asyncpg

from ccpbx.errors import Conflict

_LOCK_KEY = "ccpbx.pbx.endpoint_names"


async def claim(conn: asyncpg.Connection, name: str, kind: str) -> None:
    """Refuse ``name`` for a new ``kind`` ("phone" or "trunk") if the other kind holds it.
    Call inside the transaction that inserts it: a transaction-scoped lock keeps two
    concurrent adds from both passing."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _LOCK_KEY)
    other, table = ("trunk", "pbx_trunks") if kind == "phone" else ("phone", "pbx_phones")
    if await conn.fetchval(f"SELECT 1 FROM {table} WHERE name = $1", name):
        raise Conflict(f"{name!r} is already a {other}: phones and trunks need distinct names")
