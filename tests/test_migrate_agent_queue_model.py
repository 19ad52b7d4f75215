"""sql/0013 on a database that holds rows in both old agent/queue models (sql/0003 and
sql/0008): every campaign, callback and call record ends up pointing at the right ACD
queue and agent by name, and nothing is lost."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from ccpbx.sandbox import postgres
from ccpbx.store import campaigns
from ccpbx.store.migrate import default_migrations_dir, migrate

T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)
BEFORE = 12  # the last migration before the merge


@pytest.fixture
async def old_conn(pg_server_url: str, tmp_path: Path) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database migrated up to sql/0012 only."""
    for path in default_migrations_dir().glob("*.sql"):
        if int(path.name[:4]) <= BEFORE:
            shutil.copy(path, tmp_path / path.name)
    url = await postgres.create_database(pg_server_url, prefix="ccpbx_m13")
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, tmp_path)
        yield conn
    finally:
        await conn.close()
        await postgres.drop_database(pg_server_url, url)


async def _old_rows(conn: asyncpg.Connection) -> None:
    """Rows in both models: queues and agents in one, the other or both."""
    await conn.execute(
        """
        INSERT INTO skills (name) VALUES ('french'), ('sales');
        INSERT INTO queues (name, strategy, max_wait_s, wrapup_s) VALUES
            ('sales', 'round_robin', 300, 10),   -- also an ACD queue
            ('support', 'skill_level', 120, 30), -- 0003 only, with required skills
            ('billing', 'round_robin', 60, 5),   -- 0003 only
            ('x', 'longest_idle', 300, 10);      -- a name no ACD queue can have
        INSERT INTO queue_skills (queue_id, skill_id, min_level)
            SELECT q.id, s.id, v.lvl FROM (VALUES ('support', 'french', 5),
                ('support', 'sales', 3), ('sales', 'french', 9)) v(q, s, lvl)
            JOIN queues q ON q.name = v.q JOIN skills s ON s.name = v.s;
        INSERT INTO agents (username, display_name, endpoint) VALUES
            ('1001', 'Ann', 'PJSIP/1001'),   -- also an ACD agent
            ('1002', 'Bob', 'PJSIP/1002'),   -- 0003 only, a valid agent number
            ('ann', 'Ann Old', NULL);        -- 0003 only, no agent number
        INSERT INTO agent_skills (agent_id, skill_id, level)
            SELECT a.id, s.id, v.lvl FROM (VALUES ('1002', 'french', 6), ('1002', 'sales', 2),
                ('1001', 'french', 1)) v(a, s, lvl)
            JOIN agents a ON a.username = v.a JOIN skills s ON s.name = v.s;
        INSERT INTO acd_queues (name, strategy, wrapup_s, required) VALUES
            ('sales', 'fewest_calls', 4, '{"sales": 2}'),
            ('inbound', 'ring_all', 10, '{}');
        INSERT INTO acd_agents (agent, name, skills, queues, mode) VALUES
            ('1001', 'Ann (ACD)', '{"sales": 7}', '{"sales": {"penalty": 0, "position": 0}}',
             'persistent'),
            ('1003', 'Cy', '{}', '{}', 'ring');
        """
    )
    await conn.execute(
        """
        INSERT INTO campaigns (name, mode, trunk, caller_id, queue_id)
        SELECT v.name, 'progressive', 'carrier', '+12125550000', q.id
        FROM (VALUES ('c-sales', 'sales'), ('c-support', 'support'), ('c-billing', 'billing'),
                     ('c-x', 'x'), ('c-none', NULL)) v(name, queue)
        LEFT JOIN queues q ON q.name = v.queue;
        INSERT INTO contact_lists (name) VALUES ('l');
        INSERT INTO contacts (list_id, name)
            SELECT id, 'Contact ' || g FROM contact_lists, generate_series(1, 4) g;
        """
    )
    sales = await conn.fetchval("SELECT id FROM campaigns WHERE name = 'c-sales'")
    contacts = [r["id"] for r in await conn.fetch("SELECT id FROM contacts ORDER BY id")]
    for contact, owner in zip(contacts, ("1001", "1002", "ann", None), strict=True):
        await conn.execute(
            """INSERT INTO callbacks (campaign_id, contact_id, agent_id, due_at, note)
               VALUES ($1, $2, (SELECT id FROM agents WHERE username = $3), $4, $5)""",
            sales,
            contact,
            owner,
            T0,
            f"for {owner}",
        )
    for i, (queue, agent) in enumerate(
        (("sales", "1001"), ("support", "1002"), ("x", "ann"), (None, None))
    ):
        await conn.execute(
            """INSERT INTO call_records (direction, started_at, uniqueid, campaign_id,
                   queue_id, agent_id, details)
               VALUES ('outbound', $1, $2, $3, (SELECT id FROM queues WHERE name = $4),
                   (SELECT id FROM agents WHERE username = $5), $6::jsonb)""",
            T0,
            f"170.{i}",
            sales,
            queue,
            agent,
            json.dumps({"k": i}),
        )


async def test_merge_carries_every_row_to_the_acd_model(old_conn: asyncpg.Connection) -> None:
    """After sql/0013 campaigns, callbacks and call records name their ACD queue and agent;
    0003-only queues and agent numbers became ACD rows with their settings and skills;
    what has no ACD form is said (no queue, a callback for anyone, the name kept in the
    call record's details); the old tables and columns are gone."""
    conn = old_conn
    await _old_rows(conn)
    before = {
        t: await conn.fetchval(f"SELECT count(*) FROM {t}")
        for t in ("campaigns", "callbacks", "call_records")
    }
    applied = await migrate(conn)
    assert applied[0].version == BEFORE + 1

    for table, count in before.items():
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == count, table
    rows = await conn.fetch("SELECT name, queue FROM campaigns ORDER BY name")
    assert {r["name"]: r["queue"] for r in rows} == {
        "c-billing": "billing",
        "c-none": None,
        "c-sales": "sales",
        "c-support": "support",
        "c-x": None,  # a one-character queue name can be no ACD queue
    }
    assert (await campaigns.get_campaign(conn, "c-support")).settings.queue == "support"

    queues = {
        r["name"]: (r["strategy"], r["wrapup_s"], r["max_wait_s"], json.loads(r["required"]))
        for r in await conn.fetch("SELECT * FROM acd_queues")
    }
    assert queues == {
        "sales": ("fewest_calls", 4, None, {"sales": 2}),  # the ACD's settings stay
        "inbound": ("ring_all", 10, None, {}),
        "support": ("longest_idle", 30, 120, {"french": 5, "sales": 3}),
        "billing": ("round_robin", 5, 60, {}),
    }
    agents = {
        r["agent"]: (r["name"], json.loads(r["skills"]), r["mode"], r["pin_hash"])
        for r in await conn.fetch("SELECT * FROM acd_agents")
    }
    assert agents == {
        "1001": ("Ann (ACD)", {"sales": 7}, "persistent", None),  # the ACD's profile stays
        "1002": ("Bob", {"french": 6, "sales": 2}, "ring", None),
        "1003": ("Cy", {}, "ring", None),
    }

    callbacks = await conn.fetch("SELECT note, agent, due_at, status FROM callbacks")
    assert {r["note"]: r["agent"] for r in callbacks} == {
        "for 1001": "1001",
        "for 1002": "1002",
        "for ann": None,  # no agent number: the callback is for anyone
        "for None": None,
    }
    assert {(r["due_at"], r["status"]) for r in callbacks} == {(T0, "pending")}

    records = await conn.fetch("SELECT uniqueid, queue, agent, details FROM call_records")
    assert {r["uniqueid"]: (r["queue"], r["agent"], json.loads(r["details"])) for r in records} == {
        "170.0": ("sales", "1001", {"k": 0}),
        "170.1": ("support", "1002", {"k": 1}),
        "170.2": (None, None, {"k": 2, "unmatched_queue": "x", "unmatched_agent": "ann"}),
        "170.3": (None, None, {"k": 3}),
    }

    for table in ("agents", "skills", "agent_skills", "queues", "queue_skills"):
        assert await conn.fetchval("SELECT to_regclass($1)", table) is None, table
    old_columns = await conn.fetch(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_name IN ('campaigns', 'callbacks', 'call_records')
             AND column_name IN ('queue_id', 'agent_id')"""
    )
    assert old_columns == []


async def test_merged_references_follow_the_acd_rows(database_url: str) -> None:
    """A campaign or callback can only name an existing ACD queue or agent; deleting the
    agent makes its callbacks for anyone, as a deleted 0003 agent did."""
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                """INSERT INTO campaigns (name, mode, trunk, caller_id, queue)
                   VALUES ('c', 'progressive', 'carrier', '+12125550000', 'ghost')"""
            )
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('outbound')")
        await conn.execute("INSERT INTO acd_agents (agent) VALUES ('1001')")
        campaign = await conn.fetchval(
            """INSERT INTO campaigns (name, mode, trunk, caller_id, queue)
               VALUES ('c', 'progressive', 'carrier', '+12125550000', 'outbound')
               RETURNING id"""
        )
        await conn.execute("INSERT INTO contact_lists (name) VALUES ('l')")
        contact = await conn.fetchval(
            "INSERT INTO contacts (list_id, name) SELECT id, 'x' FROM contact_lists RETURNING id"
        )
        await conn.execute(
            """INSERT INTO callbacks (campaign_id, contact_id, agent, due_at)
               VALUES ($1, $2, '1001', $3)""",
            campaign,
            contact,
            T0,
        )
        await conn.execute("DELETE FROM acd_agents WHERE agent = '1001'")
        assert await conn.fetchval("SELECT agent FROM callbacks") is None
    finally:
        await conn.close()
