"""Outbound call records on real Asterisk: a SIPp carrier plays the customers, SIPp
desk phones are the agents' persistent connections, and each call the dialer placed
must leave one record in ``call_records``."""

from __future__ import annotations

import pytest

from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign

from .conftest import StartDaemon, eventually
from .dialer_support import log_in_agents
from .test_acd_support import desk_phones

AGENTS = ("1009", "1010")
PREVIEWER = "1011"
CALLER = "+12125550000"  # seed_campaign's caller ID


@pytest.mark.timeout(180)
async def test_every_placed_call_has_one_record_and_a_skipped_preview_none(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A progressive campaign over 8 contacts (the carrier answers, is busy or
    congested), 2 agents: every attempt dialed has exactly one outbound record with its
    attempt, campaign, contact, numbers, queue and channel (the attempt id on the
    Asterisk instance dialed), start <= answer <= end and a hang-up cause; a call put
    through names its agent, and gets the agent's disposition; an unanswered one has
    no answer time. A preview that the agent skips (not dialed) has no record."""
    daemon = await start_daemon()
    assert daemon.dialer is not None
    pool = daemon.database.pool
    # The carrier's rule: last two digits < 50 answer, < 75 busy, else congestion.
    numbers = [(f"+1212564{nn:04d}", NEW_YORK) for nn in (10, 20, 30, 40, 55, 65, 80, 90)]
    campaign = await seed_campaign(daemon, "rec", numbers, mode="progressive")
    await seed_campaign(daemon, "peek", [("+12125649999", NEW_YORK)], queue="peek", mode="preview")
    with (
        Carrier(asterisk, answer_pct=50, busy_pct=25, congestion_pct=25, talk_s=2.0) as carrier,
        desk_phones(asterisk, (*AGENTS, PREVIEWER)),
    ):
        await log_in_agents(daemon, AGENTS, ["outbound"])
        await log_in_agents(daemon, (PREVIEWER,), ["peek"])
        await daemon.dialer.start_campaign("peek")
        dialer = daemon.dialer
        preview = await eventually(lambda: dialer.preview(PREVIEWER), 20)
        await daemon.dialer.pause_campaign("peek")
        await daemon.dialer.preview_action(PREVIEWER, "skip")
        await daemon.dialer.start_campaign("rec")

        async def settled() -> bool:
            done = await pool.fetchval(
                """SELECT count(*) FROM call_attempts
                   WHERE campaign_id = $1 AND outcome IS NOT NULL""",
                campaign.id,
            )
            return bool(done == len(numbers))

        await eventually(settled, timeout=120, interval=0.5)
        await daemon.dialer.pause_campaign("rec")
        await eventually(lambda: not carrier.active(), 20)
        runner = daemon.dialer.runners["rec"]
        agent, attempt_id = next(iter(runner.agent_calls.items()))
        await daemon.dialer.dispose(agent, "sale")

        async def all_ended() -> bool:
            open_records = "SELECT count(*) FROM call_records WHERE ended_at IS NULL"
            return not await pool.fetchval(open_records)

        await eventually(all_ended, timeout=20, interval=0.5)
    attempts = {
        r["id"]: r
        for r in await pool.fetch("SELECT * FROM call_attempts WHERE campaign_id = $1", campaign.id)
    }
    records = [dict(r) for r in await pool.fetch("SELECT * FROM call_records")]
    skipped = await pool.fetchrow(
        "SELECT id, outcome FROM call_attempts WHERE id = $1::uuid", preview["attempt_id"]
    )
    assert skipped is not None
    assert skipped["outcome"] == "not_dialed"
    assert {r["attempt_id"] for r in records} == set(attempts)  # none for the skipped one
    assert len(records) == len(attempts) == len(numbers)
    node = str(daemon.ami.instance)
    outcomes = set()
    for record in records:
        attempt = attempts[record["attempt_id"]]
        key = str(attempt["id"])
        outcomes.add(attempt["outcome"])
        assert record["direction"] == "outbound"
        assert (record["campaign_id"], record["contact_id"]) == (
            campaign.id,
            attempt["contact_id"],
        )
        assert (record["caller"], record["callee"], record["queue"]) == (
            CALLER,
            attempt["e164"],
            "outbound",
        )
        assert (record["asterisk_node"], record["uniqueid"], record["linkedid"]) == (
            node,
            key,
            key,
        )
        assert record["hangup_cause"], record
        assert record["started_at"] <= record["ended_at"]
        if attempt["outcome"] in ("answered", "abandoned"):
            assert record["started_at"] <= record["answered_at"] <= record["ended_at"]
        else:
            assert record["answered_at"] is None, record
            assert record["agent"] is None
        if attempt["outcome"] == "answered":
            assert record["agent"] in AGENTS
        elif attempt["outcome"] == "abandoned":
            assert record["agent"] is None
        expected = "sale" if key == attempt_id else None
        assert record["disposition"] == expected, record
        if carrier.behaviour_of(attempt["e164"]) == "busy":
            assert (attempt["outcome"], record["hangup_cause"]) == ("busy", "17")
    assert "answered" in outcomes
    assert {"busy", "congestion"} <= outcomes
