"""ACD service on real Asterisk: persistent agents on SIPp desk phones that register."""

from __future__ import annotations

from ccpbx.acd import AgentState, EventKind
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, waiting_caller


async def test_freed_persistent_agent_gets_next_caller_without_ringing(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """Three callers wait for one persistent agent; each is put through in arrival order as
    the agent is freed (after wrap-up), the phone rings only once (at login), abandons
    free their place, and every change lands in the agent state log."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "sales", wrapup_s=1.0)
    await add_agent(daemon, "1001", ["sales"])
    view = await acd.login("1001", "1001")
    assert view["state"] == "available"
    assert view["mode"] == "persistent"
    assert phone.invites() == 1

    first = await waiting_caller(daemon.ami, "sales")
    await eventually(lambda: acd.state.agents["1001"].call_id == first)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    leg = acd.persistent.leg("1001")
    assert leg is not None
    await eventually(lambda: first in leg.callers)

    queued = []
    for _ in range(3):  # one after the other: async originates may overtake each other
        queued.append(await waiting_caller(daemon.ami, "sales"))
        await eventually(lambda c=queued[-1]: c in acd.state.calls)
    second, gone, third = queued
    await eventually(lambda: acd.state.waiting_count("sales") == 3)
    assert [c.call_id for c in acd.state.waiting("sales")] == [second, gone, third]

    # A caller who hangs up while waiting leaves the queue (abandoned).
    await daemon.ami.action("Hangup", Channel=acd.legs[gone].channel, timeout=5)
    await eventually(lambda: acd.state.waiting_count("sales") == 2)

    served = [first]
    for _ in range(2):
        current = served[-1]
        await daemon.ami.action("Hangup", Channel=acd.legs[current].channel, timeout=5)
        await eventually(lambda c=current: acd.state.agents["1001"].call_id not in (None, c))
        agent = acd.state.agents["1001"]
        served.append(agent.call_id or "")
        await eventually(lambda s=served[-1]: s in leg.callers)
    assert served == [first, second, third]
    assert phone.invites() == 1  # one ring at login, none per call
    assert acd.persistent.connected("1001")

    await daemon.ami.action("Hangup", Channel=acd.legs[third].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.AVAILABLE, 10)
    counts = acd.stats.queue_counts("sales")
    assert (counts.offered, counts.answered, counts.handled) == (4, 3, 3)
    assert counts.abandoned + counts.short_abandoned == 1

    # Wrap-up was respected: each next call was offered at least wrapup_s after the end.
    pool = daemon.database.pool

    async def logged() -> list[tuple[str, str | None]]:
        rows = await pool.fetch(
            "SELECT kind, state FROM acd_agent_state_log WHERE agent = '1001' ORDER BY at"
        )
        return [(r["kind"], r["state"]) for r in rows]

    rows = await eventually(lambda: _has_three_wrapups(logged()))
    assert rows[0] == ("agent_logged_in", "available")
    ends = await pool.fetch(
        """SELECT kind, extract(epoch FROM at) AS t FROM acd_events
           WHERE agent = '1001' AND kind IN ('call_ended', 'call_offered') ORDER BY at"""
    )
    ended_at = None
    for row in ends:
        if row["kind"] == EventKind.CALL_ENDED.value:
            ended_at = float(row["t"])
        elif ended_at is not None:
            assert float(row["t"]) - ended_at >= 1.0
    await acd.logout("1001")
    assert not acd.persistent.connected("1001")


async def _has_three_wrapups(rows_coro: object) -> list[tuple[str, str | None]] | None:
    rows = await rows_coro  # type: ignore[misc]
    return rows if sum(1 for kind, _ in rows if kind == "wrapup_ended") >= 3 else None
