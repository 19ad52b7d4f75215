"""Help requests in real PostgreSQL: raised, listed newest first, one open per agent,
audited, published on the ACD feed, closed; a spy that cannot start leaves a request
unanswered."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from ccpbx.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccpbx.queues.feed import EventFeed
from ccpbx.queues.help import HelpDesk, check_how, check_note
from ccpbx.store import audit

from .test_service_logic import Clock, service


class WallClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=10)
        return self.now


async def drain(feed: EventFeed) -> list[dict[str, Any]]:
    """Everything published to ``feed`` so far (the feed is closed)."""
    feed.close()
    return [item async for item in feed]


async def test_raise_list_close_with_events_and_audit(pool: asyncpg.Pool) -> None:
    """Two agents ask; the list is newest first; a second open request of one agent is a
    conflict; closing takes it off the list; each step is published and audited."""
    acd = service(Clock())
    feed = acd.subscribe()
    desk = HelpDesk(acd, lambda: pool, WallClock())
    first = await desk.raise_request("1001", "caller wants a refund", actor="agent:1001")
    second = await desk.raise_request("1002", "", actor="agent:1002")
    assert (first.queue, first.call_id) == (None, None)  # not on a call
    assert [r.id for r in await desk.open_requests()] == [second.id, first.id]
    with pytest.raises(Conflict):
        await desk.raise_request("1001", "again", actor="agent:1001")
    closed = await desk.close(first.id, by="supervisor:sam")
    assert closed.closed_by == "supervisor:sam"
    assert [r.id for r in await desk.open_requests()] == [second.id]
    with pytest.raises(NotFound):
        await desk.close(first.id, by="supervisor:sam")
    events = await drain(feed)
    assert [(e["type"], e["id"]) for e in events] == [
        ("help_requested", first.id),
        ("help_requested", second.id),
        ("help_closed", first.id),
    ]
    assert events[0]["note"] == "caller wants a refund"
    assert events[0]["at"] == first.at.timestamp()
    entries = await audit.entries(pool, "help_request", str(first.id))
    assert [(e.action, e.actor) for e in entries] == [
        ("help.closed", "supervisor:sam"),
        ("help.requested", "agent:1001"),
    ]
    again = await desk.raise_request("1001", "a new one", actor="agent:1001")
    assert again.id != first.id


async def test_open_requests_outlive_the_desk(pool: asyncpg.Pool) -> None:
    """A new desk (a restarted daemon) lists the requests still open."""
    raised = await HelpDesk(service(Clock()), lambda: pool).raise_request(
        "1003", "stuck", actor="agent:1003"
    )
    again = HelpDesk(service(Clock()), lambda: pool)
    assert [(r.id, r.agent, r.note) for r in await again.open_requests()] == [
        (raised.id, "1003", "stuck")
    ]


async def test_an_agent_closes_only_its_own_request(pool: asyncpg.Pool) -> None:
    """Agent 1002 may not close agent 1001's request; 1001 may."""
    desk = HelpDesk(service(Clock()), lambda: pool)
    raised = await desk.raise_request("1001", "", actor="agent:1001")
    with pytest.raises(Forbidden):
        await desk.close(raised.id, by="agent:1002", agent="1002")
    assert (await desk.close(raised.id, by="agent:1001", agent="1001")).closed_at is not None


async def test_answer_without_a_live_agent_channel_leaves_it_unanswered(
    pool: asyncpg.Pool,
) -> None:
    """Answering a request whose agent has no call is a conflict; the request stays
    open and unanswered (no answered event)."""
    acd = service(Clock())
    desk = HelpDesk(acd, lambda: pool)
    raised = await desk.raise_request("1001", "", actor="agent:1001")
    feed = acd.subscribe()
    with pytest.raises(Conflict):
        await desk.answer(raised.id, "whisper", "1006", by="supervisor:sam")
    (still,) = await desk.open_requests()
    assert (still.answered_by, still.answered_at) == (None, None)
    assert await drain(feed) == []


def test_note_and_how_are_checked() -> None:
    """A note is one line of at most 500 characters (none: empty); how is listen,
    whisper or barge; anything else is a 400 naming the field."""
    assert check_note(None) == ""
    assert check_note("  help  ") == "help"
    for bad in ("a\nb", "x" * 501, 5):
        with pytest.raises(InvalidInput) as caught:
            check_note(bad)
        assert caught.value.details["field"] == "note"
    assert check_how("barge") == "barge"
    with pytest.raises(InvalidInput) as caught:
        check_how("shout")
    assert caught.value.details["field"] == "how"
