"""Flow versions in PostgreSQL: activate, roll back, DID mapping, call paths, callbacks."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.ivr import contacts as ivr_contacts
from ccpbx.ivr import store
from ccpbx.ivr.engine import FlowRun
from ccpbx.ivr.model import Flow
from ccpbx.ivr.validate import check_text
from ccpbx.store.contacts import add_contact, create_list
from ccpbx.store.phones import Phone

from .flows import base, text

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to this test's own database."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


def version_text(
    greeting: str, name: str = "unit", dids: tuple[str, ...] = ("8001",)
) -> tuple[Flow, str]:
    data = base()
    data["flow"] = name
    data["dids"] = list(dids)
    data["prompts"]["closed"]["text"]["en"] = greeting
    source = text(data)
    result = check_text(source)
    assert result.flow is not None
    return result.flow, source


async def test_activate_then_rollback_returns_to_the_previous_version(
    conn: asyncpg.Connection,
) -> None:
    """v1, v2, v3 activated; rollback gives v2, then v1; nothing before v1."""
    for greeting in ("one", "two", "three"):
        await store.activate(conn, *version_text(greeting), by="ops")
    active = await store.active_for_did(conn, "8001")
    assert active is not None
    assert active.version == 3
    assert (await store.rollback(conn, "unit", by="ops")).version == 2
    assert (await store.rollback(conn, "unit")).version == 1
    active = await store.active_for_did(conn, "8001")
    assert active is not None
    assert "one" in active.source
    with pytest.raises(Conflict, match="no earlier version"):
        await store.rollback(conn, "unit")
    history = await store.history(conn, "unit")
    assert [(a.action, a.version) for a in history] == [
        ("activate", 1),
        ("activate", 2),
        ("activate", 3),
        ("rollback", 2),
        ("rollback", 1),
    ]
    assert [a.active for a in history] == [False, False, False, False, True]


async def test_same_text_is_the_same_version(conn: asyncpg.Connection) -> None:
    """Activating an unchanged file records no new version and no new activation."""
    flow, source = version_text("one")
    first = await store.activate(conn, flow, source)
    again = await store.activate(conn, flow, source)
    assert first.id == again.id
    assert len(await store.history(conn, "unit")) == 1


async def test_reactivating_an_old_text_reuses_its_version(conn: asyncpg.Connection) -> None:
    """Going back to an earlier file by activating it reuses that version number."""
    await store.activate(conn, *version_text("one"))
    await store.activate(conn, *version_text("two"))
    back = await store.activate(conn, *version_text("one"))
    assert back.version == 1
    assert [v.version for v in await store.versions(conn, "unit")] == [1, 2]


async def test_did_served_by_another_flow_is_refused(conn: asyncpg.Connection) -> None:
    """Two active flows cannot answer the same DID; the first keeps it."""
    await store.activate(conn, *version_text("one", "sales", ("8001", "8002")))
    with pytest.raises(Conflict, match="8002"):
        await store.activate(conn, *version_text("one", "support", ("8002",)))
    active = await store.active_for_did(conn, "8002")
    assert active is not None
    assert active.flow == "sales"
    assert await store.active_for_did(conn, "8003") is None


async def test_rollback_of_unknown_flow(conn: asyncpg.Connection) -> None:
    """Rolling back a flow that was never activated says so."""
    with pytest.raises(NotFound):
        await store.rollback(conn, "nothing")


async def test_call_path_and_callback_are_recorded(database_url: str) -> None:
    """A finished run writes its steps and outcome; a callback request for a known
    contact in a campaign-less flow is kept for the dialer."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        flow, source = version_text("one")
        async with pool.acquire() as c:
            await store.activate(c, flow, source)
            lst = await create_list(c, "ivr")
            contact = await add_contact(
                c, lst.id, [Phone("+31201234567", ("Europe/Amsterdam",))], name="Ada", now=NOW
            )
        active = await store.active_for_did(pool, "8001")
        assert active is not None
        call_id = await store.start_call(
            pool, uniqueid="1.1", did="8001", caller="31201234567", active=active, now=NOW
        )
        run = FlowRun(
            flow, caller="31201234567", did="8001", clock=lambda: NOW, channel_language="en"
        )
        gen = run.steps()
        next(gen)  # hours -> main: the menu asks
        run.abandon()
        await store.finish_call(pool, call_id, run, NOW)
        path = await store.call_path(pool, call_id)
        assert [(s["node"], s["result"]) for s in path] == [
            ("hours", "rule 2"),
            ("main", "abandoned"),
        ]
        row = await pool.fetchrow("SELECT * FROM ivr_calls WHERE id = $1", call_id)
        assert (row["outcome"], row["end_node"], row["version_id"]) == (
            "abandoned",
            "main",
            active.version_id,
        )
        ident = await ivr_contacts.record_callback(
            pool, call_id=call_id, number="31201234567", due_at=NOW, campaign=None, note="x"
        )
        req = await pool.fetchrow("SELECT * FROM ivr_callback_requests WHERE id = $1", ident)
        assert (req["e164"], req["contact_id"], req["callback_id"]) == (
            "+31201234567",
            contact.id,
            None,
        )
        found = await ivr_contacts.find_contact(pool, "caller", "0031201234567")
        assert found is not None
        assert found["name"] == "Ada"
    finally:
        await pool.close()


async def test_activation_refuses_a_text_that_fails_the_checks(conn: asyncpg.Connection) -> None:
    """Whoever calls it, activation re-checks the text: a broken flow is never stored."""
    flow, source = version_text("one")
    broken = source.replace("next: bye", "next: nowhere", 1)
    with pytest.raises(InvalidInput, match="unknown node 'nowhere'"):
        await store.activate(conn, flow, broken)
    assert await store.versions(conn, "unit") == []


async def test_calls_left_open_by_a_dead_process_are_ended_as_failed(database_url: str) -> None:
    """Open IVR calls started before this process whose channel is gone end 'failed';
    a call whose channel still lives, one started since, and a finished one stay as they
    are."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        flow, source = version_text("one")
        async with pool.acquire() as c:
            await store.activate(c, flow, source)
        active = await store.active_for_did(pool, "8001")
        assert active is not None
        earlier = NOW - dt.timedelta(minutes=1)
        ids = {}
        for uniqueid, at in (
            ("gone", earlier),
            ("alive", earlier),
            ("new", NOW),
            ("done", earlier),
        ):
            ids[uniqueid] = await store.start_call(
                pool, uniqueid=uniqueid, did="8001", caller="1", active=active, now=at
            )
        run = FlowRun(flow, caller="1", did="8001", clock=lambda: NOW, channel_language="en")
        run.abandon()
        await store.finish_call(pool, ids["done"], run, earlier)
        later = NOW + dt.timedelta(seconds=5)
        ended = await store.settle_interrupted(pool, before=NOW, live={"alive"}, now=later)
        assert ended == 1
        rows = await pool.fetch("SELECT uniqueid, outcome, ended_at FROM ivr_calls")
        found = {r["uniqueid"]: (r["outcome"], r["ended_at"]) for r in rows}
        assert found == {
            "gone": ("failed", later),
            "alive": (None, None),
            "new": (None, None),
            "done": ("abandoned", earlier),
        }
        assert await store.settle_interrupted(pool, before=NOW, live=set(), now=later) == 1
    finally:
        await pool.close()
