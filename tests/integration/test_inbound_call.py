"""An inbound SIP call through the carrier trunk, the dialplan and FastAGI into ccpbx."""

from __future__ import annotations

import asyncio
from typing import Any

from ccpbx.agi import AgiSession
from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import caller_scenario, run_sipp

from .conftest import StartDaemon, eventually


async def place_call(
    asterisk: AsteriskInstance,
    did: str = "18005550100",
    caller: str = "15550123",
    wait_bye_ms: int = 10_000,
) -> Any:
    return await asyncio.to_thread(
        run_sipp,
        asterisk,
        caller_scenario(caller, "Test Caller", wait_bye_ms=wait_bye_ms),
        service=did,
        timeout_s=40,
    )


async def test_call_reaches_handler_and_events_arrive_in_order(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A SIPp call is answered by a FastAGI handler that plays a sound; the daemon sees
    the call's AMI events from Newchannel to Hangup, in order."""
    seen: dict[str, Any] = {}
    events: list[AmiMessage] = []

    async def inbound(session: AgiSession) -> None:
        seen["uniqueid"] = session.env.uniqueid
        seen["callerid"] = session.env.callerid
        seen["did"] = session.env.extension
        await session.answer()
        seen["stream"] = await session.stream_file("hello-world")
        await session.hangup()

    daemon = await start_daemon({"inbound": inbound}, events={"*": events.append})
    result = await place_call(asterisk)
    assert result.ok, result.errors
    assert seen["callerid"] == "15550123"
    assert seen["did"] == "18005550100"
    assert seen["stream"] is None  # played to the end, no key pressed
    uniqueid = seen["uniqueid"]

    def call_events() -> list[str]:
        return [e.name for e in events if e.get("Uniqueid") == uniqueid]

    names = await eventually(lambda: (n := call_events()) and n[-1] == "Hangup" and n)
    assert names[0] == "Newchannel"
    for expected in ("Newstate", "Newexten", "Hangup"):
        assert expected in names, names
    call = [e for e in events if e.get("Uniqueid") == uniqueid]
    apps = [e.get("Application") for e in call if e.name == "Newexten"]
    assert apps[:4] == ["NoOp", "Set", "Set", "AGI"], apps
    answered = next(
        i for i, e in enumerate(call) if e.name == "Newstate" and e.get("ChannelStateDesc") == "Up"
    )
    agi_step = next(i for i, e in enumerate(call) if e.get("Application") == "AGI")
    # The handler answered the call, so the channel went Up after the dialplan reached AGI().
    assert agi_step < answered < len(call) - 1
    # The stream positions (sequence numbers) only grow: nothing was reordered.
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    await eventually(lambda: uniqueid not in daemon.channels)


async def test_failing_handler_sends_call_to_fallback(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A handler that raises leaves the call to the dialplan's fallback, not to silence."""
    events: list[AmiMessage] = []

    async def inbound(session: AgiSession) -> None:
        raise RuntimeError("flow broken")

    await start_daemon({"inbound": inbound}, events={"Newexten": events.append})
    result = await place_call(asterisk)
    assert result.ok, result.errors
    contexts = [(e.get("Context"), e.get("Application")) for e in events]
    assert ("ccpbx-fallback", "Playback") in contexts, contexts


async def test_ccpbx_down_sends_call_to_fallback(asterisk: AsteriskInstance) -> None:
    """With no ccpbx listening, Asterisk still answers the caller with the fallback prompt."""
    result = await place_call(asterisk)
    assert result.ok, result.errors
    log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
    assert "ccpbx fallback for" in log
    assert "AGISTATUS=FAILURE" in log


async def test_caller_data_cannot_inject_agi_commands(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A value holding CR/LF is refused before it reaches Asterisk; the call falls back."""
    from ccpbx.agi import AgiInjectionError

    outcome: dict[str, object] = {}

    async def inbound(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.set_variable("CRM_NOTE", "hello\nHANGUP")
        except AgiInjectionError as exc:
            outcome["refused"] = str(exc)
        outcome["still_up"] = (await session.get_variable("CCPBX_DID")) == "18005550100"
        await session.hangup()

    await start_daemon({"inbound": inbound})
    result = await place_call(asterisk)
    assert result.ok, result.errors
    assert "refused" in outcome
    assert outcome["still_up"] is True


async def test_agi_round_trips_of_a_call_show_in_metrics(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A real call's FastAGI commands are counted in the round-trip histogram /metrics
    serves, per command."""

    async def inbound(session: AgiSession) -> None:
        await session.answer()
        await session.stream_file("beep")
        await session.hangup()

    daemon = await start_daemon({"inbound": inbound})
    result = await place_call(asterisk)
    assert result.ok, result.errors
    text = daemon.metrics.render()
    for command in ("ANSWER", "STREAM FILE"):
        assert f'ccpbx_agi_command_seconds_count{{command="{command}"}} 1.0' in text, text
    assert 'ccpbx_agi_command_seconds_bucket{command="ANSWER",le="+Inf"} 1.0' in text
