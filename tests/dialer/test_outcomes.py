"""Attempt outcomes from Asterisk's answers, and the sound names the dialplan accepts."""

from __future__ import annotations

import itertools

import pytest

from ccpbx.asterisk.names import MAX_SOUND_NAME, check_sound_name
from ccpbx.dialer.outcomes import (
    AttemptReport,
    amd_outcome,
    dial_status_outcome,
    hangup_cause_outcome,
    originate_outcome,
)
from ccpbx.errors import InvalidInput
from ccpbx.store.campaigns import OUTCOMES


@pytest.mark.parametrize(
    ("response", "reason", "cause", "expected"),
    [
        ("Success", "4", None, "answered"),
        ("Failure", "3", None, "no_answer"),
        ("Failure", "3", "19", "no_answer"),
        ("Failure", "5", None, "busy"),
        ("Failure", "8", None, "congestion"),
        # What Asterisk 22 really sends for 486 and 503: Reason 0, the cause decides.
        ("Failure", "0", "17", "busy"),
        ("Failure", "0", "34", "congestion"),
        ("Failure", "0", "19", "no_answer"),
        ("Failure", "0", "1", "failed"),
        ("Failure", "0", None, "failed"),
        ("Failure", "1", None, "failed"),
        ("Failure", "1", "21", "failed"),
        ("Failure", "", None, "failed"),
    ],
)
def test_originate_outcome(response: str, reason: str, cause: str | None, expected: str) -> None:
    """Each OriginateResponse (with the attempt channel's hangup cause) maps to one outcome."""
    assert originate_outcome(response, reason, cause) == expected
    assert expected in OUTCOMES


def test_a_specific_reason_wins_over_the_cause() -> None:
    """Reason 3, 5 or 8 names the outcome even when a hangup cause says otherwise."""
    assert originate_outcome("Failure", "5", "34") == "busy"
    assert originate_outcome("Failure", "3", "17") == "no_answer"


def test_not_an_originate_response() -> None:
    """A Response that is neither Success nor Failure gives no outcome."""
    assert originate_outcome("Error", "0") is None
    assert originate_outcome("", "4") is None


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("17", "busy"),
        ("18", "no_answer"),
        ("19", "no_answer"),
        ("34", "congestion"),
        ("38", "congestion"),
        ("42", "congestion"),
        ("16", "failed"),
        ("1", "failed"),
        ("21", "failed"),
        (" 17 ", "busy"),
        ("", "failed"),
    ],
)
def test_hangup_cause_outcome(cause: str, expected: str) -> None:
    """Q.850 causes of an unanswered attempt map to busy, no_answer, congestion or failed."""
    assert hangup_cause_outcome(cause) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ANSWER", "answered"),
        ("BUSY", "busy"),
        ("NOANSWER", "no_answer"),
        ("CONGESTION", "congestion"),
        ("CHANUNAVAIL", "failed"),
        ("CANCEL", "cancelled"),
        ("busy", "busy"),
        ("RINGING", "failed"),
    ],
)
def test_dial_status_outcome(status: str, expected: str) -> None:
    """DialEnd statuses map to outcomes, all of them known to the store."""
    assert dial_status_outcome(status) == expected
    assert expected in OUTCOMES


@pytest.mark.parametrize(
    ("status", "expected"),
    [("MACHINE", "machine"), ("HUMAN", None), ("NOTSURE", None), ("HANGUP", None), ("", None)],
)
def test_amd_outcome(status: str, expected: str | None) -> None:
    """Only an AMD MACHINE result makes the attempt a machine; unsure means a person."""
    assert amd_outcome(status) == expected


@pytest.mark.parametrize(
    "name", ["please-try-call-later", "beep", "custom/acme_abandon-1", "es/vm-goodbye", "a"]
)
def test_safe_sound_names_pass(name: str) -> None:
    """Sound names of lower-case letters, digits, '_', '-' and '/' between parts pass."""
    assert check_sound_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/etc/passwd",
        "../secret",
        "custom/../x",
        "a//b",
        "trailing/",
        "Beep",
        "beep.wav",
        "beep,evil",
        "beep)",
        "a b",
        "x${EVIL}",
        "beep&tt-monkeys",
        "beep\n",
        "x" * (MAX_SOUND_NAME + 1),
    ],
)
def test_unsafe_sound_names_are_refused(name: str) -> None:
    """Anything a dialplan could read as syntax, a path escape or an extension is refused."""
    with pytest.raises(InvalidInput) as info:
        check_sound_name(name, field="abandon_prompt")
    assert info.value.details == {"field": "abandon_prompt"}


def feed(report: AttemptReport, event: tuple[str, str, str]) -> None:
    kind, a, b = event
    if kind == "originate":
        report.originate_response(a, b)
    elif kind == "hangup":
        report.hangup(a)
    else:
        report.dial_end(a)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ((("originate", "Failure", "0"), ("hangup", "17", ""), ("dial", "BUSY", "")), "busy"),
        (
            (("originate", "Failure", "0"), ("hangup", "34", ""), ("dial", "CONGESTION", "")),
            "congestion",
        ),
        (
            (("originate", "Failure", "3"), ("hangup", "19", ""), ("dial", "NOANSWER", "")),
            "no_answer",
        ),
        (
            (("originate", "Failure", "0"), ("hangup", "16", ""), ("dial", "CANCEL", "")),
            "cancelled",
        ),
        (
            (("originate", "Failure", "0"), ("hangup", "21", ""), ("dial", "CHANUNAVAIL", "")),
            "failed",
        ),
    ],
)
def test_attempt_report_in_any_order(
    events: tuple[tuple[str, str, str], ...], expected: str
) -> None:
    """Whatever order OriginateResponse, Hangup and DialEnd arrive in (Asterisk sends
    them from different threads), the report reaches the same outcome, and never a
    wrong one before it has enough to go on."""
    for order in itertools.permutations(events):
        report = AttemptReport()
        seen: list[str | None] = []
        for event in order:
            feed(report, event)
            seen.append(report.outcome())
        assert seen[-1] == expected, order
        assert {s for s in seen if s is not None} == {expected}, order


def test_attempt_report_waits_for_the_originate_response() -> None:
    """A hangup cause alone decides nothing until the OriginateResponse (or the end)."""
    report = AttemptReport()
    report.hangup("17")
    assert report.outcome() is None
    assert report.outcome(final=True) == "busy"
    report.originate_response("Failure", "0")
    assert report.outcome() == "busy"


def test_attempt_report_final_decides_with_what_it_has() -> None:
    """Reason 0 with nothing else is undecided, and "failed" once the wait is over;
    Success is answered at once."""
    report = AttemptReport()
    report.originate_response("Failure", "0")
    assert report.outcome() is None
    assert report.outcome(final=True) == "failed"
    assert AttemptReport().outcome(final=True) == "failed"
    answered = AttemptReport()
    answered.originate_response("Success", "4")
    assert answered.outcome() == "answered"
    report.hangup("16")
    assert report.outcome() is None  # 16 names nothing: wait for DialEnd too
