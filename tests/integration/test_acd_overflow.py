"""Overflow and skill relaxation on real Asterisk: a caller who waited too long goes to
another queue or to voicemail; one needing a skill nobody has is served once relaxed."""

from __future__ import annotations

import asyncpg

from ccpbx.acd import (
    AcdEvent,
    AgentState,
    EventKind,
    OverflowKind,
    OverflowTarget,
    RelaxationStep,
)
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import Step

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, waiting_caller
from .test_ivr_calls import activate, call, start_ivr


async def test_caller_overflows_to_a_second_queue_and_its_agent_takes_the_call(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """Nobody serves "sales"; after its 2 s maximum wait the caller moves to "support",
    where that queue's agent takes it; each queue counts its side (overflowed, offered,
    answered) and the wait in "support" counts from the move."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", wrapup_s=0.0)
    overflow = OverflowTarget(OverflowKind.QUEUE, "support")
    await add_queue(daemon, "sales", max_wait_s=2.0, overflow=overflow)
    await add_agent(daemon, "1001", ["support"])
    await acd.login("1001", "1001")
    seen: list[AcdEvent] = []
    acd.add_listener(seen.append)

    call = await waiting_caller(daemon.ami, "sales")
    await eventually(lambda: call in acd.state.calls)
    assert acd.state.calls[call].queue == "sales"
    assert acd.state.agents["1001"].state is AgentState.AVAILABLE  # not for this queue
    await eventually(lambda: acd.state.agents["1001"].call_id == call, 10)
    leg = acd.persistent.leg("1001")
    assert leg is not None
    await eventually(lambda: call in leg.callers)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    [moved] = [e for e in seen if e.kind is EventKind.CALL_OVERFLOWED]
    assert (moved.call_id, moved.queue, moved.target) == (call, "sales", "support")
    assert moved.wait_s is not None
    assert moved.wait_s >= 2.0
    sales, support = acd.stats.queue_counts("sales"), acd.stats.queue_counts("support")
    assert (sales.offered, sales.overflowed, sales.answered) == (1, 1, 0)
    assert (support.offered, support.answered) == (1, 1)
    assert support.wait_answered_s < moved.wait_s


async def test_skill_nobody_has_is_relaxed_after_its_wait(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """A caller needing French at level 3 waits while the only agent (French 1) stays
    available; once the queue's relaxation time (2 s) has passed, level 1 is enough
    and that agent takes the call."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(
        daemon,
        "care",
        required={"french": 3},
        relaxation=[RelaxationStep(2.0, "french", min_level=1)],
    )
    await add_agent(daemon, "1001", ["care"], skills={"french": 1})
    await acd.login("1001", "1001")
    seen: list[AcdEvent] = []
    acd.add_listener(seen.append)

    call = await waiting_caller(daemon.ami, "care")
    await eventually(lambda: call in acd.state.calls)
    assert acd.state.calls[call].required == {"french": 3}
    assert acd.state.agents["1001"].state is AgentState.AVAILABLE
    await eventually(lambda: acd.state.agents["1001"].call_id == call, 10)
    leg = acd.persistent.leg("1001")
    assert leg is not None
    await eventually(lambda: call in leg.callers)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    [answered] = [e for e in seen if e.kind is EventKind.CALL_ANSWERED]
    assert answered.wait_s is not None
    assert answered.wait_s >= 2.0
    offers = [e for e in seen if e.kind is EventKind.CALL_OFFERED]
    assert [e.agent_id for e in offers] == ["1001"]  # not offered before the relaxation


VOICEMAIL_FLOW = """
flow: queue_then_voicemail
dids: ["18005550188"]
languages: [en]
default_language: en
sound_languages: [en]
start: wait
nodes:
  wait:
    kind: queue
    queue: sales
    target: "ccpbx-queue-enter,s,1"
"""


async def test_caller_overflows_to_voicemail_and_leaves_a_message(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """A SIPp caller sent by the IVR into "sales", which nobody serves: after the queue's
    2 s maximum wait the caller is left in VoiceMail for the queue's mailbox
    (support@default), hears its greeting, speaks, hangs up, and the message lands in
    that mailbox."""
    await activate(database_url, VOICEMAIL_FLOW)
    daemon, _ = await start_ivr(start_daemon)
    acd = daemon.acd
    mailbox = OverflowTarget(OverflowKind.VOICEMAIL, "support@default")
    await add_queue(daemon, "sales", max_wait_s=2.0, overflow=mailbox)
    inbox = asterisk.run_dir / "spool" / "voicemail" / "default" / "support" / "INBOX"
    before = len(list(inbox.glob("*.txt"))) if inbox.exists() else 0
    seen: list[AcdEvent] = []
    acd.add_listener(seen.append)

    # Queue wait (2 s) and the mailbox greeting (about 9.5 s), then 5 s of speech.
    steps = [Step.pause(12_000), Step.talk(5000)]
    result = await call(asterisk, "18005550188", steps, wait_bye_ms=1)
    assert result.ok, result.errors
    await eventually(lambda: inbox.exists() and len(list(inbox.glob("*.txt"))) == before + 1)
    message = sorted(inbox.glob("*.txt"))[-1].read_text()
    assert "15550123" in message
    [moved] = [e for e in seen if e.kind is EventKind.CALL_OVERFLOWED]
    assert (moved.queue, moved.reason, moved.target) == ("sales", "voicemail", "support@default")
    assert acd.stats.queue_counts("sales").overflowed == 1
    assert not acd.state.calls


CALLBACK_FLOW = """
flow: queue_then_callback
dids: ["18005550189"]
languages: [en]
default_language: en
sound_languages: [en]
start: wait
nodes:
  wait:
    kind: queue
    queue: care
    target: "ccpbx-queue-enter,s,1"
"""


async def test_caller_overflows_to_a_callback_request(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """A SIPp caller sent by the IVR into "care", which nobody serves: after the queue's
    2 s maximum wait a callback request is recorded for the caller's number (as the
    IVR's callback node records it, tied to the IVR call), the caller hears thanks and
    goodbye, and ccpbx hangs up."""
    await activate(database_url, CALLBACK_FLOW)
    daemon, _ = await start_ivr(start_daemon)
    acd = daemon.acd
    await add_queue(daemon, "care", max_wait_s=2.0, overflow=OverflowTarget(OverflowKind.CALLBACK))
    seen: list[AcdEvent] = []
    acd.add_listener(seen.append)

    result = await call(asterisk, "18005550189", [], wait_bye_ms=20_000)
    assert result.ok, result.errors
    [moved] = [e for e in seen if e.kind is EventKind.CALL_OVERFLOWED]
    assert (moved.queue, moved.reason) == ("care", "callback")
    conn = await asyncpg.connect(database_url)
    try:
        request = await eventually(lambda: conn.fetchrow("SELECT * FROM ivr_callback_requests"))
        ivr_call = await conn.fetchval("SELECT id FROM ivr_calls")
    finally:
        await conn.close()
    assert request["e164"] == "+15550123"
    assert request["note"] == "queue care: waited too long"
    assert request["status"] == "pending"
    assert request["call_id"] == ivr_call
    log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
    assert "Playing 'auth-thankyou" in log
    assert not acd.callback_offers
