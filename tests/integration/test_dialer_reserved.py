"""Campaign calls with an agent reserved before dialing: previews and callbacks."""

from __future__ import annotations

import datetime as dt

import pytest

from ccpbx.acd import AgentState
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store import attempts

from .conftest import StartDaemon, eventually
from .dialer_support import attempt_rows, log_in_agents
from .test_acd_support import add_agent, desk_phones


@pytest.mark.timeout(120)
async def test_preview_agent_sees_the_contact_then_dials_or_skips(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """In a preview campaign the agent is reserved and shown a contact before anything
    is dialed; a skipped contact is never dialed, a dialed one reaches that agent."""
    daemon = await start_daemon()
    assert daemon.dialer is not None
    numbers = [(f"+1212561{i:04d}", NEW_YORK) for i in range(3)]
    campaign = await seed_campaign(daemon, "look", numbers, mode="preview")
    acd = daemon.acd
    with (
        Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=2.0) as carrier,
        desk_phones(asterisk, ("1012",)),
    ):
        await log_in_agents(daemon, ("1012",), ["outbound"])
        await daemon.dialer.start_campaign("look")
        first = await eventually(lambda: daemon.dialer.preview("1012"))  # type: ignore[union-attr]
        assert first["number"] == numbers[0][0]
        assert acd.state.agents["1012"].state is AgentState.RESERVED
        assert carrier.log() == []
        skipped = await daemon.dialer.preview_action("1012", "skip")
        assert skipped["skipped"]
        second = await eventually(lambda: daemon.dialer.preview("1012"))  # type: ignore[union-attr]
        assert second["number"] == numbers[1][0]
        await daemon.dialer.preview_action("1012", "dial")
        await eventually(lambda: acd.state.agents["1012"].state is AgentState.ON_CALL, 15)
        assert acd.state.agents["1012"].call_id == second["attempt_id"]
        await daemon.dialer.pause_campaign("look")
        await eventually(lambda: not carrier.active(), 20)
    rows = {str(r["e164"]): r["outcome"] for r in await attempt_rows(daemon, campaign)}
    assert rows[numbers[0][0]] == "not_dialed"
    assert rows[numbers[1][0]] == "answered"
    assert set(carrier.numbers()) == {numbers[1][0]}


@pytest.mark.timeout(120)
async def test_due_callback_reserves_its_agent_before_dialing(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A callback promised to agent 1012 is dialed with 1012 reserved, and reaches 1012
    although 1011 has been idle longer; other leads are paced as usual."""
    daemon = await start_daemon()
    assert daemon.dialer is not None
    numbers = [(f"+1212562{i:04d}", NEW_YORK) for i in range(3)]
    campaign = await seed_campaign(daemon, "back", numbers, mode="progressive")
    pool = daemon.database.pool
    contact = await pool.fetchval(
        "SELECT contact_id FROM phone_numbers WHERE e164 = $1", numbers[2][0]
    )
    await add_agent(daemon, "1012", ["outbound"])
    await attempts.schedule_callback(
        pool, campaign.id, contact, dt.datetime.now(dt.UTC), agent="1012"
    )
    acd = daemon.acd
    with (
        Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=3.0) as carrier,
        desk_phones(asterisk, ("1011", "1012")),
    ):
        await log_in_agents(daemon, ("1011",), ["outbound"])
        await log_in_agents(daemon, ("1012",), ["outbound"])
        await daemon.dialer.start_campaign("back")
        runner = daemon.dialer.runners["back"]
        await eventually(lambda: runner.counts["connected"] >= 1, 20)
        callback = await pool.fetchval(
            "SELECT id::text FROM call_attempts WHERE contact_id = $1", contact
        )
        await eventually(lambda: runner.agent_calls.get("1012") == callback, 10)
        await eventually(lambda: runner.counts["connected"] == 3, 30)
        await daemon.dialer.pause_campaign("back")
        await eventually(lambda: not carrier.active(), 20)
    assert carrier.log()[0].number == numbers[2][0]
    assert runner.counts["abandoned"] == 0
    assert acd.state.agents["1011"].calls_taken >= 1
