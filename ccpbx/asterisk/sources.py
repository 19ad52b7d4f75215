"""Read what the templates need from the database (see :class:`production.Records`)."""

from __future__ import annotations

from ccpbx.asterisk.production import Records
from ccpbx.pbx import numbers, phones, trunks
from ccpbx.pbx.softphones import SoftphoneAgent
from ccpbx.store.db import Executor, connection


async def load_records(db: Executor) -> Records:
    async with connection(db) as conn:
        queues = [r["name"] for r in await conn.fetch("SELECT name FROM acd_queues ORDER BY name")]
        dids = [r["did"] for r in await conn.fetch("SELECT did FROM ivr_dids ORDER BY did")]
        # Every enabled agent user gets a browser phone (rendered when configured).
        agents = await conn.fetch(
            """SELECT agent, display_name FROM users
                WHERE role = 'agent' AND agent IS NOT NULL AND NOT disabled ORDER BY agent"""
        )
        return Records(
            phones=await phones.list_all(conn),
            trunks=await trunks.list_all(conn),
            numbers=await numbers.list_all(conn),
            queues=queues,
            ivr_dids=dids,
            softphones=[SoftphoneAgent(r["agent"], r["display_name"]) for r in agents],
        )
