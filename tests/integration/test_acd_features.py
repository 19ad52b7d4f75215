"""Agent feature codes dialed from a SIPp desk phone that authenticates (digest) and
presses RFC 2833 keys: login (*45 agent, PIN), pause (*47 + reason), unpause (*48),
logout (*46)."""

from __future__ import annotations

import asyncio
import hashlib

from ccpbx.acd import AgentMode, AgentState
from ccpbx.daemon import Daemon
from ccpbx.queues.pins import verify_pin
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step, run_sipp

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, phone_dial_scenario
from .test_ivr_calls import Keypad

USER, PASSWORD = "1005", "pw-1005-secret"


async def dial(asterisk: AsteriskInstance, code: str, steps: list[Step] | None = None) -> None:
    xml = phone_dial_scenario(USER, PASSWORD, steps or [Step.pause(500)])
    result = await asyncio.to_thread(run_sipp, asterisk, xml, service=code, timeout_s=40)
    assert result.ok, result.stdout[-1500:] + result.errors[-1500:]


async def log_rows(daemon: Daemon) -> list[tuple[str, str | None, str | None]]:
    rows = await daemon.database.pool.fetch(
        "SELECT kind, state, reason FROM acd_agent_state_log WHERE agent = '55' ORDER BY at"
    )
    return [(r["kind"], r["state"], r["reason"]) for r in rows]


async def test_login_pause_unpause_logout_by_feature_codes(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A wrong PIN is refused; the right one logs agent 55 in at phone 1005; *472 pauses
    for the second configured reason (lunch), *48 unpauses, *46 logs out; each change is
    in the agent state log."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "billing")
    await add_agent(daemon, "55", ["billing"], mode=AgentMode.RING, pin="2468")

    keypad = Keypad(asterisk)
    steps = [
        Step.pause(1500),
        *keypad.press("55#"),
        Step.pause(500),
        *keypad.press("1111#"),
        Step.pause(1500),  # "agent-incorrect" plays: the next key cuts it short
        *keypad.press("55#"),
        Step.pause(500),
        *keypad.press("2468#", last=True),
    ]
    await dial(asterisk, "*45", steps)
    await eventually(lambda: "55" in acd.state.agents)
    agent = acd.state.agents["55"]
    assert agent.state is AgentState.AVAILABLE
    assert acd.sessions["55"].endpoint == USER
    assert acd.agent_at(USER) == "55"

    await dial(asterisk, "*472")
    await eventually(lambda: acd.state.agents["55"].state is AgentState.PAUSED)
    assert acd.state.agents["55"].pause_reason == "lunch"

    await dial(asterisk, "*48")
    await eventually(lambda: acd.state.agents["55"].state is AgentState.AVAILABLE)

    await dial(asterisk, "*46")
    await eventually(lambda: acd.state.agents["55"].state is AgentState.LOGGED_OUT)
    assert acd.agent_at(USER) is None

    rows = await eventually(lambda: _complete(log_rows(daemon)))
    assert rows == [
        ("agent_logged_in", "available", None),
        ("agent_paused", "paused", "lunch"),
        ("agent_unpaused", "available", None),
        ("agent_logged_out", "logged_out", None),
    ]
    sessions = await daemon.database.pool.fetchval("SELECT count(*) FROM acd_agent_sessions")
    assert sessions == 0


async def _complete(rows_coro: object) -> list[tuple[str, str | None, str | None]] | None:
    rows = await rows_coro  # type: ignore[misc]
    return rows if len(rows) >= 4 else None


async def test_persistent_agent_logs_in_by_feature_code_and_is_called_back(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A persistent agent dialing *45 with the right PIN hears the confirmation, the call
    ends, and ccpbx calls the phone back into the agent's conference: the agent is
    available in persistent mode and the next caller is put through without ringing."""
    from ccpbx.sandbox.asterisk import Phone
    from ccpbx.sandbox.phones import SippPhone

    from .test_acd_support import waiting_caller

    phone = SippPhone(asterisk, Phone(USER, PASSWORD, rewrite_contact=False))
    phone.start()
    try:
        daemon = await start_daemon()
        acd = daemon.acd
        await add_queue(daemon, "billing")
        await add_agent(daemon, "56", ["billing"], mode=AgentMode.PERSISTENT, pin="1357")
        keypad = Keypad(asterisk)
        steps = [
            Step.pause(1500),
            *keypad.press("56#"),
            Step.pause(500),
            *keypad.press("1357#", last=True),
        ]
        await dial(asterisk, "*45", steps)
        await eventually(lambda: acd.persistent.connected("56"), 20)
        await eventually(lambda: "56" in acd.state.agents)
        view = acd.agent_view("56")
        assert (view["state"], view["mode"], view["endpoint"]) == ("available", "persistent", USER)
        assert phone.invites() == 1  # the call back into the conference

        call = await waiting_caller(daemon.ami, "billing")
        await eventually(lambda: acd.state.agents["56"].state is AgentState.ON_CALL)
        assert acd.state.agents["56"].call_id == call
        assert phone.invites() == 1
    finally:
        phone.stop()


async def test_a_pin_stored_before_argon2_logs_in_and_is_rehashed(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """An agent whose PIN row is an old salted SHA-256 logs in at the phone with that
    PIN; the row then holds an Argon2id hash of the same PIN and no separate salt."""
    daemon = await start_daemon()
    await add_queue(daemon, "billing")
    await add_agent(daemon, "55", ["billing"], mode=AgentMode.RING, pin=None)
    salt = "0123456789abcdef"
    legacy = hashlib.sha256(f"{salt}:2468".encode()).hexdigest()
    pool = daemon.database.pool
    await pool.execute(
        "UPDATE acd_agents SET pin_salt = $2, pin_hash = $3 WHERE agent = $1", "55", salt, legacy
    )
    keypad = Keypad(asterisk)
    steps = [
        Step.pause(1500),
        *keypad.press("55#"),
        Step.pause(500),
        *keypad.press("2468#", last=True),
    ]
    await dial(asterisk, "*45", steps)
    await eventually(lambda: "55" in daemon.acd.state.agents)
    row = await eventually(
        lambda: pool.fetchrow(
            "SELECT pin_salt, pin_hash FROM acd_agents WHERE agent = '55'"
            " AND pin_hash LIKE '$argon2id$%'"
        )
    )
    assert row["pin_salt"] is None
    assert verify_pin(None, row["pin_hash"], "2468").ok
    await dial(asterisk, "*46")
    await eventually(lambda: daemon.acd.state.agents["55"].state is AgentState.LOGGED_OUT)
