"""Outbound campaigns on real Asterisk, a SIPp carrier playing the customers and SIPp
desk phones as the agents' persistent connections."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest

from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, TOKYO, seed_campaign

from .conftest import CHAOS, StartDaemon, eventually
from .dialer_support import CallLog, attempt_rows, log_in_agents
from .figures import Figures
from .test_acd_support import desk_phones

AGENTS = ("1001", "1002", "1003", "1004", "1005")
OUTCOME_OF = {
    "answer": {"answered", "abandoned"},
    "busy": {"busy"},
    "congestion": {"congestion", "failed"},
    "no_answer": {"no_answer"},
}


@pytest.mark.timeout(420)
@pytest.mark.parametrize(
    "new_york",
    [pytest.param(60, id="70-contacts"), pytest.param(290, id="300-contacts", marks=CHAOS)],
)
async def test_predictive_campaign_runs_to_the_end(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, figures: Figures, new_york: int
) -> None:
    """300 contacts (70 in make test), 5 persistent agents, predictive pacing: every
    callable contact gets exactly one attempt with the outcome the carrier played; the
    carrier never sees a do-not-call number, a number outside its calling window, or one
    number twice at once; every abandoned call heard the abandon message; answered calls
    reached agents."""
    n = int(os.environ.get("CCPBX_TEST_CONTACTS", new_york))  # smaller when debugging
    numbers = [(f"+1212555{i:04d}", NEW_YORK) for i in range(n)]
    numbers += [(f"+8131234{i:04d}", TOKYO) for i in range(10)]  # window closed there
    blocked = [numbers[i][0] for i in range(5, n, 29)]  # 10 on the do-not-call list
    calls = CallLog()
    daemon = await start_daemon(events={"Newexten": calls.newexten})
    campaign = await seed_campaign(daemon, "c300", numbers, do_not_call=blocked)
    callable_numbers = {n for n, z in numbers if z == NEW_YORK and n not in blocked}
    assert daemon.dialer is not None
    with (
        Carrier(asterisk, answer_pct=60, busy_pct=15, congestion_pct=10, talk_s=2.5) as carrier,
        desk_phones(asterisk, AGENTS),
    ):
        await log_in_agents(daemon, AGENTS, ["outbound"])
        started = time.monotonic()
        await daemon.dialer.start_campaign("c300")

        async def finished() -> bool:
            rows = await attempt_rows(daemon, campaign)
            done = [r for r in rows if r["outcome"] is not None]
            return len(done) == len(callable_numbers) and len(rows) == len(done)

        await eventually(finished, timeout=360, interval=1.0)
        elapsed = time.monotonic() - started
        view = daemon.dialer.campaign_view("c300")
        await daemon.dialer.pause_campaign("c300")
        await asyncio.sleep(1.0)
        log = carrier.log()
        overlaps = carrier.overlaps()

    rows = await attempt_rows(daemon, campaign)
    dialed = Counter(str(r["e164"]) for r in rows)
    assert set(dialed) == callable_numbers
    assert max(dialed.values()) == 1
    seen = carrier.numbers()
    assert set(seen) == callable_numbers
    assert max(seen.values()) == 1
    assert overlaps == []
    outcomes = {str(r["e164"]): str(r["outcome"]) for r in rows}
    for number, outcome in outcomes.items():
        assert outcome in OUTCOME_OF[carrier.behaviour_of(number)], (number, outcome)
    abandoned = {str(r["id"]) for r in rows if r["outcome"] == "abandoned"}
    answered = {str(r["id"]) for r in rows if r["outcome"] == "answered"}
    assert abandoned <= calls.abandon_message
    assert not (answered & calls.abandon_message)
    assert answered
    stats = daemon.dialer.runners["c300"].stats()
    assert stats.connected == len(answered)
    assert stats.abandoned == len(abandoned)
    assert len(log) == len(callable_numbers)
    figures.checks("each callable contact dialed once; no DNC, closed-window or overlap")
    figures["contacts"] = len(numbers)
    figures["s"] = round(elapsed)
    figures["connected"] = len(answered)
    figures["abandoned"] = len(abandoned)
    print(
        f"\n{len(numbers)}-contact campaign: {elapsed:.0f} s, {len(answered)} connected,"
        f" {len(abandoned)} abandoned, view={view}"
    )


@pytest.mark.timeout(120)
async def test_live_answers_no_agent_takes_hear_the_abandon_message(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Over-dialing on purpose (4 calls per agent, everyone answers): a live answer that
    no agent takes within the grace time is sent to the abandon message, counted as
    abandoned once, and the customer hears the message before Asterisk hangs up."""
    calls = CallLog()
    daemon = await start_daemon(events={"Newexten": calls.newexten})
    assert daemon.dialer is not None
    daemon.dialer.pacers["progressive"] = "ratio:4"
    numbers = [(f"+1212558{i:04d}", NEW_YORK) for i in range(8)]
    campaign = await seed_campaign(daemon, "over", numbers, mode="progressive")
    with (
        Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=6.0) as carrier,
        desk_phones(asterisk, ("1011",)),
    ):
        await log_in_agents(daemon, ("1011",), ["outbound"])
        await daemon.dialer.start_campaign("over")
        runner = daemon.dialer.runners["over"]

        async def settled() -> bool:
            rows = await attempt_rows(daemon, campaign)
            return len(rows) == 8 and all(r["outcome"] is not None for r in rows)

        await eventually(settled, timeout=90, interval=0.5)
        await eventually(lambda: not carrier.active(), 20)
        log = carrier.log()
    rows = await attempt_rows(daemon, campaign)
    abandoned = {str(r["id"]) for r in rows if r["outcome"] == "abandoned"}
    answered = {str(r["id"]) for r in rows if r["outcome"] == "answered"}
    assert len(abandoned) >= 3
    assert abandoned == calls.abandon_message
    assert len(answered) + len(abandoned) == 8
    assert runner.counts["abandoned"] == len(abandoned)
    # Asterisk hung up the abandoned customers (after the message), well before the
    # customer's own hang-up after 6 s of talk.
    assert sum(1 for c in log if c.end == "bye_received") >= len(abandoned)
    view = daemon.dialer.campaign_view("over")
    assert view["abandon_rate"]["today"] == pytest.approx(len(abandoned) / 8)


@pytest.mark.timeout(120)
async def test_answering_machines_are_told_apart_from_people(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """With AMD on, answering machines (long greeting) end as 'machine', hear the
    campaign's machine message (its setting) and never reach an agent; people (short
    hello) are put through; nothing counts as abandoned."""
    played: set[str] = set()

    def user_event(event: AmiMessage) -> None:
        if event.get("UserEvent") == "CcpbxMachinePlayed":
            played.add(event.get("Attempt") or "")

    daemon = await start_daemon(events={"UserEvent": user_event})
    assert daemon.dialer is not None
    numbers = [(f"+1212563{i:04d}", NEW_YORK) for i in (10, 20, 30, 70, 80, 90)]
    campaign = await seed_campaign(
        daemon, "amd", numbers, mode="progressive", amd=True, machine_action="message"
    )
    with (
        Carrier(
            asterisk, answer_pct=50, busy_pct=0, congestion_pct=0, machine_pct=50, talk_s=9.0
        ) as carrier,
        desk_phones(asterisk, ("1011", "1012")),
    ):
        await log_in_agents(daemon, ("1011", "1012"), ["outbound"])
        await daemon.dialer.start_campaign("amd")
        runner = daemon.dialer.runners["amd"]

        async def settled() -> bool:
            rows = await attempt_rows(daemon, campaign)
            return len(rows) == 6 and all(r["outcome"] is not None for r in rows)

        await eventually(settled, timeout=90, interval=0.5)
        await eventually(lambda: not carrier.active(), 20)
    rows = await attempt_rows(daemon, campaign)
    outcomes = {str(r["e164"]): r["outcome"] for r in rows}
    for number, outcome in outcomes.items():
        expected = "machine" if carrier.behaviour_of(number) == "machine" else "answered"
        assert outcome == expected, (number, outcome)
    assert played == {str(r["id"]) for r in rows if r["outcome"] == "machine"}
    assert runner.counts["connected"] == 3
    assert runner.counts["abandoned"] == 0
