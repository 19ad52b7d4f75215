"""Position and estimated-wait announcements to waiting callers, on real Asterisk."""

from __future__ import annotations

from ccpbx.acd import AcdEvent, AgentState, EventKind
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, waiting_caller


async def test_waiting_callers_hear_position_and_wait_and_are_put_through_mid_announcement(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """A queue announcing every 5 s: the caller behind another hears "there are 2 calls
    waiting" and the estimated wait, the caller in front "you are next"; when the agent
    frees while the caller is hearing its announcement (the script is running), the
    caller is still put through to the agent."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "sales", wrapup_s=0.0, announce_every_s=5)
    await add_agent(daemon, "1001", ["sales"])
    await acd.login("1001", "1001")
    in_app_when_offered: dict[str, str] = {}

    def on_acd(event: AcdEvent) -> None:
        # Runs on the service's worker as the offer is made: where is the caller now?
        if event.kind is EventKind.CALL_OFFERED and event.call_id:
            chan = daemon.channels.get(event.call_id)
            in_app_when_offered[event.call_id] = chan.application if chan else ""

    acd.add_listener(on_acd)
    channels: dict[str, str] = {}

    def heard(call: str, text: str) -> bool:
        """Asterisk's log shows the caller's channel playing ``text`` (a prompt file, or
        ``digits/N`` for a number said)."""
        name = channels[call]
        log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
        return any(f"<{name}>" in line and f"Playing '{text}" in line for line in log.splitlines())

    # A first call ends, so the queue has an average handle time to estimate from.
    done = await waiting_caller(daemon.ami, "sales", context="ccpbx-queue-enter")
    await eventually(lambda: acd.state.agents["1001"].call_id == done)
    leg = acd.persistent.leg("1001")
    assert leg is not None
    await eventually(lambda: done in leg.callers)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    await daemon.ami.action("Hangup", Channel=acd.legs[done].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.AVAILABLE)
    assert acd.stats.queue_counts("sales").aht_s is not None

    talking = await waiting_caller(daemon.ami, "sales", context="ccpbx-queue-enter")
    await eventually(lambda: acd.state.agents["1001"].call_id == talking)
    await eventually(lambda: talking in leg.callers)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    front = await waiting_caller(daemon.ami, "sales", context="ccpbx-queue-enter")
    await eventually(lambda: front in acd.state.calls)
    behind = await waiting_caller(daemon.ami, "sales", context="ccpbx-queue-enter")
    await eventually(lambda: acd.state.waiting_count("sales") == 2)
    assert [c.call_id for c in acd.state.waiting("sales")] == [front, behind]
    channels.update({c: acd.legs[c].channel for c in (front, behind)})

    # "There are 2 calls waiting. The estimated hold time is less than 1 minute."
    await eventually(lambda: heard(behind, "queue-thankyou"), 20)
    for prompt in ("queue-thereare", "digits/2", "queue-callswaiting", "queue-holdtime"):
        assert heard(behind, prompt), prompt
    assert heard(behind, "queue-less-than")
    await eventually(lambda: heard(front, "queue-thankyou"), 20)
    assert heard(front, "queue-youarenext")
    assert not heard(front, "queue-thereare")

    # The agent takes the caller in front; the one behind is next, and is put through
    # while it hears "you are next".
    await daemon.ami.action("Hangup", Channel=acd.legs[talking].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1001"].call_id == front, 10)
    await eventually(lambda: front in leg.callers)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    await eventually(lambda: heard(behind, "queue-youarenext"), 20)
    await daemon.ami.action("Hangup", Channel=acd.legs[front].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1001"].call_id == behind, 10)
    await eventually(lambda: behind in leg.callers, 10)
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    # The offer came while the caller was in the announcement script.
    assert in_app_when_offered[behind] == "AGI"
    assert phone.invites() == 1


async def test_ring_mode_agent_takes_a_caller_mid_announcement(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A ring-mode agent logs in while the only waiting caller hears "you are next": the
    agent's phone rings, answers, and its leg bridges the caller out of the announcement
    script; caller and agent share one bridge until the caller hangs up."""
    from ccpbx.acd import AgentMode

    phone = SippPhone(asterisk, Phone("1004", "pw-1004-secret", rewrite_contact=False))
    phone.start()
    try:
        daemon = await start_daemon()
        acd = daemon.acd
        await add_queue(daemon, "support", wrapup_s=0.0, announce_every_s=5)
        await add_agent(daemon, "1004", ["support"], mode=AgentMode.RING)
        in_app_when_offered: dict[str, str] = {}

        def on_acd(event: AcdEvent) -> None:
            if event.kind is EventKind.CALL_OFFERED and event.call_id:
                chan = daemon.channels.get(event.call_id)
                in_app_when_offered[event.call_id] = chan.application if chan else ""

        acd.add_listener(on_acd)
        call = await waiting_caller(daemon.ami, "support", context="ccpbx-queue-enter")
        await eventually(lambda: call in acd.state.calls)
        channel = acd.legs[call].channel

        def announcing() -> bool:
            log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
            return f"<{channel}> Playing 'queue-youarenext" in log

        await eventually(announcing, 20)
        await acd.login("1004", "1004")
        await eventually(lambda: acd.state.agents["1004"].state is AgentState.ON_CALL, 10)
        assert in_app_when_offered[call] == "AGI"
        assert phone.invites() == 1
        agent_channel = acd.legs[call].agent_channel

        def bridged() -> bool:
            snap = {c["channel"]: c for c in daemon.channels.snapshot()}
            caller, agent = snap.get(channel), snap.get(agent_channel)
            return bool(
                caller
                and agent
                and caller["bridge_id"]
                and caller["bridge_id"] == agent["bridge_id"]
            )

        await eventually(bridged)
        await daemon.ami.action("Hangup", Channel=channel, timeout=5)
        await eventually(lambda: acd.state.agents["1004"].state is AgentState.AVAILABLE, 10)
        assert acd.stats.queue_counts("support").handled == 1
    finally:
        phone.stop()


async def test_announcements_go_on_across_a_restart(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A caller hearing announcements while ccpbx restarts is found again (waiting, not
    a new offer), keeps its announcement interval, and hears its position again from
    the new process."""
    first = await start_daemon()
    await add_queue(first, "sales", wrapup_s=0.0, announce_every_s=5)
    call = await waiting_caller(first.ami, "sales", context="ccpbx-queue-enter")
    await eventually(lambda: call in first.acd.state.calls)
    channel = first.acd.legs[call].channel

    def announced() -> int:
        log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
        return log.count(f"<{channel}> Playing 'queue-youarenext")

    await eventually(announced, 20)
    await first.stop()

    second = await start_daemon()
    await second.acd.wait_ready(20)
    assert second.acd.recovered["waiting"] == [call]
    assert second.acd.queue_view("sales")["total"]["offered"] == 1
    heard = announced()
    await eventually(lambda: announced() > heard, 20)
    result = await second.ami.action(
        "Getvar", Channel=channel, Variable="CCPBX_ANNOUNCE_EVERY", timeout=5
    )
    assert result.response.get("Value") == "5"
    assert second.acd.state.calls[call].queue == "sales"
