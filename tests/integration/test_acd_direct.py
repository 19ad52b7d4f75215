"""Numbers that ring one agent, on real Asterisk: the caller waits in that agent's direct
line (the sandbox renders +18005559912 -> agent:1002 and +18005559913 -> agent:1003,
whose mailbox exists) and is offered to nobody else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentMode, AgentState, CallStatus
from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.pbx import numbers
from ccpbx.queues.model import DirectLines
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones, waiting_caller

FOR_1002 = "18005559912"
FOR_1003 = "18005559913"


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Desk phones 1001 and 1002, registered, answering."""
    with desk_phones(asterisk, ("1001", "1002")) as started:
        yield started


def _waiting_in(daemon: Daemon, call: str, line: str) -> bool:
    found = daemon.acd.state.calls.get(call)
    return found is not None and found.queue == line and found.status is CallStatus.WAITING


def _bridged(daemon: Daemon, call: str, agent: str) -> bool:
    """Asterisk's channels: the caller shares one bridge with the agent's phone channel."""
    snap = daemon.channels.snapshot()
    caller = next((c for c in snap if c["uniqueid"] == call), None)
    if caller is None or not caller["bridge_id"]:
        return False
    return any(
        str(c["channel"]).startswith(f"PJSIP/{agent}-") and c["bridge_id"] == caller["bridge_id"]
        for c in snap
    )


async def test_caller_waits_for_its_paused_agent_while_another_agent_is_free(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: list[SippPhone]
) -> None:
    """A number routed agent:1002 while 1002 is paused and 1001 free: the caller waits on
    music in 1002's direct line, 1001's phone never rings for it (1001 takes a support
    caller meanwhile), and once 1002 unpauses 1002's phone rings and is bridged with it."""
    phone_1001, phone_1002 = phones
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", wrapup_s=0.5)
    for agent in ("1001", "1002"):
        await add_agent(daemon, agent, ["support"], mode=AgentMode.RING)
    stored = await numbers.add(daemon.database.pool, "+18005559912", "agent:1002")
    assert stored.route == "agent:1002"
    await acd.login("1002", "1002", paused="meeting")
    await acd.login("1001", "1001")

    direct = await waiting_caller(daemon.ami, FOR_1002, context="ccpbx-inbound")
    await eventually(lambda: _waiting_in(daemon, direct, "agent-1002"))
    target = await daemon.ami.action(
        "Getvar", Channel=acd.legs[direct].channel, Variable="CCPBX_AGENT_TARGET", timeout=5
    )
    assert target.response.get("Value") == "1002"
    snap = {c["uniqueid"]: c for c in daemon.channels.snapshot()}
    assert (snap[direct]["context"], snap[direct]["exten"]) == ("ccpbx-queue-wait", "agent-1002")
    assert acd.state.agents["1001"].state is AgentState.AVAILABLE

    # Routing goes on for everyone else: free 1001 takes a support caller who came later.
    other = await waiting_caller(daemon.ami, "support")
    await eventually(lambda: acd.state.agents["1001"].call_id == other)
    await eventually(lambda: _bridged(daemon, other, "1001"))
    await daemon.ami.action("Hangup", Channel=acd.legs[other].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.AVAILABLE, 10)
    assert _waiting_in(daemon, direct, "agent-1002")
    assert (phone_1001.invites(), phone_1002.invites()) == (1, 0)

    await acd.unpause("1002")
    await eventually(lambda: acd.state.agents["1002"].state is AgentState.ON_CALL, 10)
    assert acd.state.agents["1002"].call_id == direct
    await eventually(lambda: _bridged(daemon, direct, "1002"))
    assert (phone_1001.invites(), phone_1002.invites()) == (1, 1)
    assert acd.state.calls[direct].offered_to == ["1002"]
    counts = acd.stats.queue_counts("agent-1002")
    assert (counts.offered, counts.answered) == (1, 1)
    assert "agent-1002" in acd.agent_view("1002")["queues"]


async def test_persistent_agent_logging_in_gets_the_waiting_caller(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: list[SippPhone]
) -> None:
    """Nobody is logged in when the number for 1002 is called; the caller waits; 1002
    logs in (persistent) and the caller is put into 1002's own conference."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", wrapup_s=0.5)
    await add_agent(daemon, "1002", ["support"], mode=AgentMode.PERSISTENT)
    direct = await waiting_caller(daemon.ami, FOR_1002, context="ccpbx-inbound")
    await eventually(lambda: _waiting_in(daemon, direct, "agent-1002"))

    await acd.login("1002", "1002")
    await eventually(lambda: acd.state.agents["1002"].call_id == direct, 10)
    await eventually(lambda: acd.state.calls[direct].status is CallStatus.CONNECTED, 10)
    caller_channel = acd.legs[direct].channel

    def in_conference() -> bool:
        listed = asterisk.cli("confbridge list ccpbx-agent-1002")
        return caller_channel in listed and "PJSIP/1002-" in listed

    await eventually(in_conference, 10)


async def test_max_wait_goes_to_the_agents_mailbox_or_else_the_fallback(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """With neither agent logged in, after the direct line's max wait the caller for 1003
    reaches VoiceMail (1003 has a box) and the caller for 1002 the fallback (no box)."""
    apps: list[tuple[str, str, str]] = []

    def seen(event: AmiMessage) -> None:
        apps.append(
            (
                event.get("Uniqueid") or "",
                event.get("Context") or "",
                event.get("Application") or "",
            )
        )

    daemon = await start_daemon(events={"Newexten": seen})
    acd = daemon.acd
    await acd.wait_ready(20)
    acd.floor.direct = DirectLines(max_wait_s=2.0)
    await add_agent(daemon, "1002", [], mode=AgentMode.RING)
    await add_agent(daemon, "1003", [], mode=AgentMode.RING)
    to_fallback = await waiting_caller(daemon.ami, FOR_1002, context="ccpbx-inbound")
    to_mailbox = await waiting_caller(daemon.ami, FOR_1003, context="ccpbx-inbound")
    await eventually(lambda: _waiting_in(daemon, to_fallback, "agent-1002"))
    await eventually(lambda: _waiting_in(daemon, to_mailbox, "agent-1003"))

    await eventually(lambda: (to_mailbox, "ccpbx-queue-wait", "VoiceMail") in apps, 15)
    await eventually(lambda: (to_fallback, "ccpbx-fallback", "Playback") in apps, 15)
    assert not any(u == to_fallback and app == "VoiceMail" for u, _, app in apps)
    for line in ("agent-1002", "agent-1003"):
        counts = acd.stats.queue_counts(line)
        assert (counts.offered, counts.overflowed, counts.answered) == (1, 1, 0)


async def test_restarted_ccpbx_finds_the_waiting_caller_for_its_agent(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: list[SippPhone]
) -> None:
    """ccpbx stops while a caller waits for 1002; the next process finds it in 1002's
    direct line (the line's counters go on): free agent 1001 is not offered it, and
    1002 logging in is."""
    phone_1001, phone_1002 = phones
    first = await start_daemon()
    await add_queue(first, "support", wrapup_s=0.5)
    for agent in ("1001", "1002"):
        await add_agent(first, agent, ["support"], mode=AgentMode.RING)
    direct = await waiting_caller(first.ami, FOR_1002, context="ccpbx-inbound")
    await eventually(lambda: _waiting_in(first, direct, "agent-1002"))
    await first.stop()

    second = await start_daemon()
    acd = second.acd
    await acd.wait_ready(20)
    assert acd.recovered["waiting"] == [direct]
    assert _waiting_in(second, direct, "agent-1002")
    assert acd.stats.queue_counts("agent-1002").offered == 1  # counted before the restart
    await acd.login("1001", "1001")
    other = await waiting_caller(second.ami, "support")
    await eventually(lambda: acd.state.agents["1001"].call_id == other)
    assert _waiting_in(second, direct, "agent-1002")

    await acd.login("1002", "1002")
    await eventually(lambda: acd.state.agents["1002"].call_id == direct, 10)
    await eventually(lambda: _bridged(second, direct, "1002"))
    assert (phone_1001.invites(), phone_1002.invites()) == (1, 1)
    counts = acd.stats.queue_counts("agent-1002")
    assert (counts.offered, counts.answered) == (1, 1)
