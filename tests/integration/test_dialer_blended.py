"""Blended agents on real Asterisk: one pool serves an inbound queue and a campaign."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccpbx.acd import AgentState
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign

from .conftest import StartDaemon, eventually
from .dialer_support import log_in_agents
from .test_acd_support import add_queue, desk_phones, waiting_caller

AGENTS = ("1009", "1010")


@pytest.mark.timeout(180)
async def test_inbound_callers_are_served_first_and_pacing_waits(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Two agents serve queue 'support' and a campaign. While inbound callers wait, the
    campaign places no call and a freed agent takes the next inbound caller; once
    nobody waits inbound, the campaign dials and its answers reach the same agents."""
    daemon = await start_daemon()
    assert daemon.dialer is not None
    numbers = [(f"+1212557{i:04d}", NEW_YORK) for i in range(20)]
    await seed_campaign(daemon, "blend", numbers)
    await add_queue(daemon, "support", wrapup_s=0.3)
    acd = daemon.acd
    with (
        Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=2.0) as carrier,
        desk_phones(asterisk, AGENTS),
    ):
        await log_in_agents(daemon, AGENTS, ["support", "outbound"])
        inbound = []
        for _ in range(3):
            inbound.append(await waiting_caller(daemon.ami, "support"))
            await eventually(lambda c=inbound[-1]: c in acd.state.calls)
        await eventually(
            lambda: all(acd.state.agents[a].state is AgentState.ON_CALL for a in AGENTS)
        )
        first = {acd.state.agents[a].call_id for a in AGENTS}
        assert first == set(inbound[:2])
        await daemon.dialer.start_campaign("blend")
        runner = daemon.dialer.runners["blend"]
        await asyncio.sleep(3.0)
        assert runner.counts["placed"] == 0
        assert carrier.log() == []

        # One inbound call ends: that agent takes the waiting inbound caller, not a
        # campaign call.
        agent = next(a for a in AGENTS if acd.state.agents[a].call_id == inbound[0])
        await daemon.ami.action("Hangup", Channel=acd.legs[inbound[0]].channel, timeout=5)
        await eventually(lambda: acd.state.agents[agent].call_id == inbound[2], 10)
        await asyncio.sleep(1.0)
        assert runner.counts["placed"] == 0

        # Inbound is done: the campaign dials for the freed agents.
        for call in inbound[1:]:
            await daemon.ami.action("Hangup", Channel=acd.legs[call].channel, timeout=5)
        await eventually(lambda: runner.counts["connected"] >= 4, 60)
        assert set(runner.agent_calls) == set(AGENTS)
        await daemon.dialer.pause_campaign("blend")
        await eventually(lambda: not runner.book.calls(), 30)
    assert runner.counts["abandoned"] == 0
    # /metrics: every answered inbound caller's wait, every campaign answer -> agent time.
    counts = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(daemon.metrics.render())
        for s in family.samples
        if s.name.endswith("_count")
    }
    assert counts[("ccpbx_acd_wait_seconds_count", (("queue", "support"),))] == 3
    connected = counts[("ccpbx_dialer_answer_to_agent_seconds_count", (("campaign", "blend"),))]
    assert connected == len(runner.answer_to_agent_s) >= 4
