"""The sandbox carrier and the outbound dialplan, driven by plain AMI Originate.

Calls are placed exactly as the dialer places them (PJSIP/<number>@carrier into
ccpbx-outbound, ChannelId = attempt id, the CCPBX_* variables); the carrier (SIPp)
plays the customers, deciding each call from the number's last two digits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from ccpbx.ami import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.ami.settings import AmiSettings
from ccpbx.asterisk.names import check_sound_name
from ccpbx.dialer.outcomes import (
    AttemptReport,
    amd_outcome,
    dial_status_outcome,
    originate_outcome,
)
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier, CarrierCall, parse_log

from .conftest import eventually

QUEUE = "sales"
# 30 answer (00-29), 20 busy (30-49), 15 congestion (50-64), 10 machine (65-74),
# 25 no answer (75-99).
SPLIT = {"answer_pct": 30, "busy_pct": 20, "congestion_pct": 15, "machine_pct": 10}


def number(nn: int, prefix: str = "+1555010") -> str:
    return f"{prefix}{nn:04d}"


class Events:
    """Every AMI event, in arrival order, with lookups by header."""

    def __init__(self) -> None:
        self.all: list[AmiMessage] = []

    def __call__(self, msg: AmiMessage) -> None:
        self.all.append(msg)

    def of(self, name: str, **headers: str) -> list[AmiMessage]:
        return [
            m for m in self.all if m.name == name and all(m.get(k) == v for k, v in headers.items())
        ]

    def one(self, name: str, **headers: str) -> AmiMessage | None:
        found = self.of(name, **headers)
        return found[0] if found else None


@pytest.fixture
async def ami(asterisk: AsteriskInstance) -> AsyncIterator[tuple[AmiClient, Events]]:
    """An AMI client on the sandbox, recording every event."""
    s = asterisk.settings
    client = AmiClient(
        AmiSettings(host="127.0.0.1", port=s.ami_port, username=s.ami_username, secret=s.ami_secret)
    )
    events = Events()
    client.on_event("*", events)
    async with client:
        await client.wait_ready(15)
        yield client, events


@pytest.fixture
def carrier_factory(asterisk: AsteriskInstance) -> Iterator[Callable[..., Carrier]]:
    """Start a carrier with the given settings; stopped after the test."""
    started: list[Carrier] = []

    def start(**settings: float) -> Carrier:
        carrier = Carrier(asterisk, **settings)  # type: ignore[arg-type]
        carrier.start()
        started.append(carrier)
        return carrier

    yield start
    for carrier in started:
        carrier.stop()


async def originate(
    ami: AmiClient,
    to: str,
    *,
    ring_ms: int = 3000,
    amd: bool = False,
    machine: str = "hangup",
    abandon_prompt: str = "beep",
    machine_prompt: str = "beep",
) -> str:
    """Place one campaign call as the dialer does; return its attempt id."""
    attempt = str(uuid.uuid4())
    variables = {
        "CCPBX_ATTEMPT": attempt,
        "CCPBX_CAMPAIGN": "7",
        "CCPBX_AMD": "1" if amd else "0",
        "CCPBX_MACHINE": machine,
        "CCPBX_ABANDON_PROMPT": check_sound_name(abandon_prompt) if abandon_prompt else "",
        "CCPBX_MACHINE_PROMPT": check_sound_name(machine_prompt),
    }
    await ami.action(
        "Originate",
        Channel=f"PJSIP/{to}@carrier",
        ChannelId=attempt,
        Context="ccpbx-outbound",
        Exten=QUEUE,
        Priority="1",
        Timeout=str(ring_ms),
        CallerID='"ccpbx campaign" <+15550009999>',
        Variable=[f"{k}={v}" for k, v in variables.items()],
        Async="true",
        timeout=10,
    )
    return attempt


def on_hold(events: Events, attempt: str) -> AmiMessage | None:
    """The attempt's channel reached music on hold in ccpbx-queue-wait (the ACD's cue)."""
    return events.one(
        "Newexten",
        Uniqueid=attempt,
        Context="ccpbx-queue-wait",
        Exten=QUEUE,
        Application="MusicOnHold",
    )


def carrier_call(carrier: Carrier, to: str) -> CarrierCall | None:
    calls = [c for c in carrier.log() if c.number == to]
    return calls[0] if len(calls) == 1 else None


async def test_each_carrier_behaviour_gives_its_outcome(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """Answer, busy, congestion and ring-out map to answered, busy, congestion and
    no_answer through originate_outcome, with the Reason codes, hangup causes and
    DialEnd statuses Asterisk 22 really sends; the answered call waits on music on
    hold in ccpbx-queue-wait on the channel whose Uniqueid is the attempt id."""
    client, events = ami
    carrier = carrier_factory(**SPLIT, answer_delay_s=0.3, talk_s=30)
    cases = {
        number(0): ("answer", "answered", "Success", "4", None, "ANSWER"),
        number(35): ("busy", "busy", "Failure", "0", "17", "BUSY"),
        number(55): ("congestion", "congestion", "Failure", "0", "34", "CONGESTION"),
        # Asterisk gives up ringing without a DialEnd.
        number(90): ("no_answer", "no_answer", "Failure", "3", "19", None),
    }
    attempts = {await originate(client, to): to for to in cases}

    def complete(attempt: str) -> bool:
        """Every event about the attempt has come (the answered one is still up)."""
        names = ["OriginateResponse"]
        if cases[attempts[attempt]][5] is not None:
            names.append("DialEnd")
        if cases[attempts[attempt]][4] is not None:
            names += ["Hangup", "UserEvent"]
        return all(
            events.one(n, Uniqueid=attempt)
            or events.one(n, DestUniqueid=attempt)
            or events.one(n, Attempt=attempt)
            for n in names
        )

    await eventually(lambda: all(complete(a) for a in attempts))

    for attempt, to in attempts.items():
        behaviour, outcome, response, reason, cause, dial_status = cases[to]
        assert carrier.behaviour_of(to) == behaviour
        reply = events.one("OriginateResponse", Uniqueid=attempt)
        dial_end = events.one("DialEnd", DestUniqueid=attempt)
        hangup = events.one("Hangup", Uniqueid=attempt)
        assert reply is not None
        assert (reply.get("Response"), reply.get("Reason")) == (response, reason), to
        assert (dial_end.get("DialStatus") if dial_end else None) == dial_status, to
        assert (hangup.get("Cause") if hangup else None) == cause, to
        if dial_status is not None:
            assert dial_status_outcome(dial_status) == outcome
        # The outcome does not depend on the order the three events came in.
        report = AttemptReport()
        for event in sorted(filter(None, (reply, dial_end, hangup)), key=lambda m: m.seq):
            if event is reply:
                report.originate_response(response, reason)
            elif event is dial_end:
                report.dial_end(dial_status or "")
            else:
                report.hangup(cause or "")
        assert report.outcome() == outcome, to
        if cause is None:
            assert originate_outcome(response, reason) == outcome
            continue
        assert originate_outcome(response, reason, cause) == outcome
        # A failed originate runs "failed" on a stand-in channel: it reports, never queues.
        failed = events.one("UserEvent", UserEvent="CcpbxOriginateFailed", Attempt=attempt)
        assert failed is not None
        assert failed.get("Reason") == reason

    answered = next(a for a, to in attempts.items() if cases[to][0] == "answer")
    await eventually(lambda: on_hold(events, answered))
    assert not events.of("Newexten", Context="ccpbx-queue-wait", Exten="failed")

    await eventually(
        lambda: (
            len(carrier.log()) == 4
            and all(c.ended_at for c in carrier.log() if c.behaviour != "answer")
        )
    )
    log = {c.number: c for c in carrier.log()}
    assert {to: c.behaviour for to, c in log.items()} == {to: v[0] for to, v in cases.items()}
    assert log[number(0)].answered_at is not None
    assert log[number(90)].end == "cancelled"
    assert log[number(35)].end == log[number(55)].end == "rejected"
    assert [c.number for c in carrier.active()] == [number(0)]

    # The campaign's side hangs up the live call: the carrier sees Asterisk's BYE.
    channel = on_hold(events, answered)
    assert channel is not None
    await client.action("Hangup", Channel=channel.get("Channel") or "", timeout=5)
    ended = await eventually(lambda: (c := carrier_call(carrier, number(0))) and c.ended_at and c)
    assert ended.call_id == log[number(0)].call_id
    assert ended.end == "bye_received"
    assert carrier.active() == []
    assert carrier.problems() == []


@pytest.mark.parametrize(("prompt", "played"), [("beep", "beep"), ("", "please-try-call-later")])
async def test_abandoned_call_hears_the_prompt_then_is_hung_up(
    ami: tuple[AmiClient, Events],
    carrier_factory: Callable[..., Carrier],
    prompt: str,
    played: str,
) -> None:
    """A live call redirected to ccpbx-outbound-abandon,<queue>,1 hears the campaign's
    abandon prompt (a default one when none is set), raises CcpbxAbandonPlayed with
    its attempt id, and is hung up: the carrier sees the call end."""
    client, events = ami
    carrier = carrier_factory(**SPLIT, answer_delay_s=0.2, talk_s=30)
    to = number(7)
    attempt = await originate(client, to, abandon_prompt=prompt)
    hold = await eventually(lambda: on_hold(events, attempt))
    await client.action(
        "Redirect",
        Channel=hold.get("Channel"),
        Context="ccpbx-outbound-abandon",
        Exten=QUEUE,
        Priority="1",
        timeout=5,
    )
    played_event = await eventually(
        lambda: events.one("UserEvent", UserEvent="CcpbxAbandonPlayed", Attempt=attempt)
    )
    playback = events.one(
        "Newexten", Uniqueid=attempt, Context="ccpbx-outbound-abandon", Application="Playback"
    )
    assert playback is not None
    assert playback.get("AppData") == played
    assert playback.seq < played_event.seq
    hangup = await eventually(lambda: events.one("Hangup", Uniqueid=attempt))
    assert hangup.get("Context") == "ccpbx-outbound-abandon"
    call = await eventually(lambda: (c := carrier_call(carrier, to)) and c.ended_at and c)
    assert call.end == "bye_received"
    assert call.behaviour == "answer"


async def test_answering_machine_detection(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """With CCPBX_AMD=1 a person (short hello) is reported HUMAN and goes on to wait for
    an agent; a machine (long greeting) is reported MACHINE, then hears the machine
    prompt after its greeting (CCPBX_MACHINE=message) or is hung up on (hangup)."""
    client, events = ami
    carrier_factory(**SPLIT, answer_delay_s=0.2, talk_s=30)
    person = await originate(client, number(12), amd=True, machine="message")
    message = await originate(
        client, number(66), amd=True, machine="message", machine_prompt="beep"
    )
    hangup = await originate(client, number(70), amd=True, machine="hangup")

    def amd(attempt: str) -> AmiMessage | None:
        return events.one("UserEvent", UserEvent="CcpbxAmd", Attempt=attempt)

    await eventually(lambda: all(amd(a) for a in (person, message, hangup)))
    assert [amd_outcome(amd(a).get("Status") or "") for a in (person, message, hangup)] == [  # type: ignore[union-attr]
        None,
        "machine",
        "machine",
    ]
    assert amd(person).get("Status") == "HUMAN"  # type: ignore[union-attr]
    await eventually(lambda: on_hold(events, person))

    await eventually(
        lambda: events.one("UserEvent", UserEvent="CcpbxMachinePlayed", Attempt=message)
    )
    waited = events.one("Newexten", Uniqueid=message, Application="WaitForSilence")
    played = events.one("Newexten", Uniqueid=message, Application="Playback")
    assert waited is not None
    assert played is not None
    assert played.get("AppData") == "beep"
    assert waited.seq < played.seq

    gone = await eventually(lambda: events.one("Hangup", Uniqueid=hangup))
    assert gone.get("Context") == "ccpbx-outbound"
    assert not events.of("Newexten", Uniqueid=hangup, Application="Playback")
    assert not on_hold(events, message)
    assert not on_hold(events, hangup)


async def test_hundred_numbers_at_once(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """All 100 two-digit endings dialed at once: the SIPp scenario picks the same
    behaviour as Carrier.behaviour_of for every one, every number is logged exactly
    once, no number is in two calls at a time, each attempt's OriginateResponse,
    Hangup and DialEnd give the outcome the behaviour implies, and a customer who
    hangs up while on hold leaves Hangup cause 0."""
    client, events = ami
    carrier = carrier_factory(**SPLIT, answer_delay_s=0.3, talk_s=1.5)
    numbers = [number(nn, prefix="+1555020") for nn in range(100)]
    attempts = dict(
        zip(await asyncio.gather(*(originate(client, to) for to in numbers)), numbers, strict=True)
    )

    def report(attempt: str) -> AttemptReport:
        """The attempt's OriginateResponse, Hangup and DialEnd, in arrival order."""
        got = AttemptReport()
        for m in events.all:
            if m.name == "OriginateResponse" and m.get("Uniqueid") == attempt:
                got.originate_response(m.get("Response") or "", m.get("Reason") or "")
            elif m.name == "Hangup" and m.get("Uniqueid") == attempt:
                got.hangup(m.get("Cause") or "")
            elif m.name == "DialEnd" and m.get("DestUniqueid") == attempt:
                got.dial_end(m.get("DialStatus") or "")
        return got

    await eventually(lambda: all(report(a).outcome() for a in attempts), timeout=30)
    expected_outcome = {
        "answer": "answered",
        "machine": "answered",
        "busy": "busy",
        "congestion": "congestion",
        "no_answer": "no_answer",
    }
    assert {to: report(a).outcome() for a, to in attempts.items()} == {
        to: expected_outcome[carrier.behaviour_of(to)] for to in numbers
    }

    await eventually(lambda: len(carrier.log()) == 100 and all(c.ended_at for c in carrier.log()))
    log = carrier.log()
    assert {c.number: c.behaviour for c in log} == {to: carrier.behaviour_of(to) for to in numbers}
    assert set(carrier.numbers().values()) == {1}
    assert carrier.overlaps() == []
    # Customers who hung up while on hold: Hangup cause 0 (see ccpbx.dialer.outcomes).
    answered = [a for a, to in attempts.items() if report(a).outcome() == "answered"]
    await eventually(lambda: all(events.one("Hangup", Uniqueid=a) for a in answered))
    assert {events.one("Hangup", Uniqueid=a).get("Cause") for a in answered} == {"0"}  # type: ignore[union-attr]
    # The calls really overlapped in time: the check above had something to find.
    assert max(sum(1 for c in log if c.invited_at <= t.invited_at < c.ended_at) for t in log) >= 20  # type: ignore[operator]


async def test_overlaps_show_a_number_in_two_calls_at_once(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """The same number dialed twice at once is reported by Carrier.overlaps; dialed
    again after the first call ended, it is counted twice but does not overlap."""
    client, _ = ami
    carrier = carrier_factory(**SPLIT, answer_delay_s=0.2, talk_s=1.0)
    twice, later = number(3, prefix="+1555030"), number(4, prefix="+1555030")
    await originate(client, twice)
    await originate(client, twice)
    await originate(client, later)
    await eventually(lambda: (c := carrier_call(carrier, later)) and c.ended_at)
    await originate(client, later)
    await eventually(lambda: len(carrier.log()) == 4 and all(c.ended_at for c in carrier.log()))
    assert carrier.numbers() == {twice: 2, later: 2}
    pairs = carrier.overlaps()
    assert [(a.number, b.number) for a, b in pairs] == [(twice, twice)]


async def test_bridged_calls_survive_asterisks_reinvites(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """Two answered customers bridged together (as an agent's call would be): Asterisk
    re-INVITEs them, the carrier accepts and keeps talking, and both calls end
    cleanly with no SIPp error."""
    client, events = ami
    carrier = carrier_factory(**SPLIT, answer_delay_s=0.2, talk_s=1.5)
    first, second = number(1, prefix="+1555040"), number(2, prefix="+1555040")
    attempts = [await originate(client, to) for to in (first, second)]
    holds = [await eventually(lambda a=a: on_hold(events, a)) for a in attempts]
    await client.action(
        "Bridge",
        Channel1=holds[0].get("Channel"),
        Channel2=holds[1].get("Channel"),
        Tone="no",
        timeout=5,
    )
    await eventually(lambda: len(events.of("BridgeEnter")) >= 2)
    calls = await eventually(
        lambda: len(log := carrier.log()) == 2 and all(c.ended_at for c in log) and log
    )
    assert sum(c.reinvites for c in calls) >= 1
    assert {c.end for c in calls} <= {"bye_sent", "bye_received"}
    assert carrier.problems() == []


async def test_carrier_gives_up_ringing_after_its_ring_limit(
    ami: tuple[AmiClient, Events], carrier_factory: Callable[..., Carrier]
) -> None:
    """A call nobody cancels is refused with 480 after the carrier's own ring limit:
    Asterisk reports Reason 0 with cause 19 and DialEnd NOANSWER, a no_answer."""
    client, events = ami
    carrier = carrier_factory(**SPLIT, ring_limit_s=1.0)
    to = number(80, prefix="+1555050")
    attempt = await originate(client, to, ring_ms=20_000)
    reply = await eventually(lambda: events.one("OriginateResponse", Uniqueid=attempt))
    hangup = await eventually(lambda: events.one("Hangup", Uniqueid=attempt))
    dial_end = await eventually(lambda: events.one("DialEnd", DestUniqueid=attempt))
    assert (reply.get("Response"), reply.get("Reason")) == ("Failure", "0")
    assert (hangup.get("Cause"), dial_end.get("DialStatus")) == ("19", "NOANSWER")
    report = AttemptReport()
    report.originate_response("Failure", "0")
    report.hangup("19")
    report.dial_end("NOANSWER")
    assert report.outcome() == "no_answer"
    call = await eventually(lambda: (c := carrier_call(carrier, to)) and c.ended_at and c)
    assert call.end == "ring_limit"


def test_log_parsing_and_overlap_rule() -> None:
    """Log lines become calls (unknown lines ignored); calls overlap only while both
    are up, and a call with no end overlaps everything after its start."""
    text = "\n".join(
        [
            "ccpbx-carrier request 100 c1 INVITE sip:+15550100100@",
            "ccpbx-carrier invite 100 +15550100100 answer c1",
            "ccpbx-carrier answered 600 c1",
            "ccpbx-carrier reinvite 900 c1",
            "something else entirely",
            "ccpbx-carrier invite 700 +15550100195 no_answer c2",
            "ccpbx-carrier end 3700 c2 cancelled",
            "ccpbx-carrier end 5600 c1 bye_sent",
            "ccpbx-carrier invite 5600 +15550100100 busy c3",
            "ccpbx-carrier end 5601 c3 rejected",
            "ccpbx-carrier invite 9000 +15550100100 answer c4",
        ]
    )
    calls = parse_log(text)
    assert [(c.call_id, c.number, c.behaviour) for c in calls] == [
        ("c1", "+15550100100", "answer"),
        ("c2", "+15550100195", "no_answer"),
        ("c3", "+15550100100", "busy"),
        ("c4", "+15550100100", "answer"),
    ]
    c1, c2, c3, c4 = calls
    assert (c1.invited_at, c1.answered_at, c1.ended_at, c1.end) == (0.1, 0.6, 5.6, "bye_sent")
    assert (c1.reinvites, c2.reinvites) == (1, 0)
    assert c1.overlaps(c2)
    assert not c1.overlaps(c3)  # one ends as the other starts
    assert c4.ended_at is None
    assert not c3.overlaps(c4)
    assert CarrierCall("x", "n", "answer", 10.0).overlaps(c4)


@pytest.mark.parametrize(
    ("nn", "expected"),
    [
        (0, "answer"),
        (29, "answer"),
        (30, "busy"),
        (49, "busy"),
        (50, "congestion"),
        (64, "congestion"),
        (65, "machine"),
        (74, "machine"),
        (75, "no_answer"),
        (99, "no_answer"),
    ],
)
def test_behaviour_rule_boundaries(asterisk: AsteriskInstance, nn: int, expected: str) -> None:
    """The last two digits pick the behaviour by cumulative percentages."""
    assert Carrier(asterisk, **SPLIT).behaviour_of(number(nn)) == expected  # type: ignore[arg-type]


def test_bad_settings_and_numbers_are_refused(asterisk: AsteriskInstance) -> None:
    """Percentages over 100 in all, and numbers without two final digits, are refused."""
    with pytest.raises(ValueError):
        Carrier(asterisk, answer_pct=60, busy_pct=50)
    with pytest.raises(ValueError):
        Carrier(asterisk).behaviour_of("+1555010010x")


def test_start_waits_for_the_port_and_reports_a_failed_start(asterisk: AsteriskInstance) -> None:
    """start() returns once SIPp holds the carrier port; a second carrier on the same
    port fails at start with SIPp's complaint instead of silently taking no calls."""
    with Carrier(asterisk) as first:
        assert first.running
        second = Carrier(asterisk)
        with pytest.raises(RuntimeError, match="exited"):
            second.start()
        assert not second.running
    assert not first.running
