"""The pure step logic: effects out, results in, path recorded; no Asterisk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ccpbx.ivr.engine import (
    Ask,
    Effect,
    FlowRun,
    Hangup,
    Lookup,
    Play,
    ScheduleCallback,
    SetLanguage,
    ToQueue,
    Transfer,
    compare,
)
from ccpbx.ivr.model import Flow
from ccpbx.ivr.prompts import generated_name
from ccpbx.ivr.validate import check_text

from .flows import base, text

MONDAY_10 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # 10:00 in Amsterdam
MONDAY_20 = dt.datetime(2026, 11, 23, 19, 0, tzinfo=dt.UTC)  # 20:00 in Amsterdam
CHRISTMAS = dt.datetime(2026, 12, 25, 10, 0, tzinfo=dt.UTC)  # a Friday, a holiday


def flow(data: dict[str, Any] | None = None) -> Flow:
    result = check_text(text(data or base()))
    assert result.ok, [str(p) for p in result.problems]
    assert result.flow is not None
    return result.flow


class Driver:
    """Sends scripted results into a run and keeps the effects it asked for."""

    def __init__(self, run: FlowRun) -> None:
        self.run = run
        self.gen = run.steps()
        self.effects: list[Effect] = []
        self.done = False

    def start(self) -> Effect:
        return self._take(next(self.gen))

    def send(self, result: Any) -> Effect | None:
        try:
            return self._take(self.gen.send(result))
        except StopIteration:
            self.done = True
            return None

    def _take(self, effect: Effect) -> Effect:
        self.effects.append(effect)
        return effect


def make_run(now: dt.datetime, f: Flow | None = None, **kw: Any) -> FlowRun:
    return FlowRun(
        f or flow(),
        caller="31201234567",
        did="8001",
        clock=lambda: now,
        channel_language="en",
        **kw,
    )


def test_invalid_then_timeout_then_account_found_routes_gold_callers() -> None:
    """An invalid key and a timeout get the retry prompt; the account's contact is gold."""
    run = make_run(MONDAY_10)
    d = Driver(run)
    first = d.start()
    assert first == Ask((generated_name("Press 1 or 2", "en"),), 1, 3000, "")
    retry = d.send("9")
    assert isinstance(retry, Ask)
    assert retry.files[0] == "please-try-again"
    account = d.send("1")
    assert isinstance(account, Ask)
    assert account.max_digits == 6
    assert account.terminator == "#"
    lookup = d.send("123456")
    assert lookup == Lookup("variable", "123456", "external_id")
    queue = d.send({"id": 7, "name": "Ada", "tier": "gold"})
    assert isinstance(queue, ToQueue)
    assert queue.queue == "gold"
    assert queue.priority == 50
    assert d.send(None) is None
    assert (run.outcome, run.end_node) == ("queued", "gold")
    assert [s.node for s in run.path] == ["hours", "main", "account", "find", "vip_check", "gold"]
    assert run.path[1].detail["attempts"] == [
        {"digits": "9", "verdict": "invalid"},
        {"digits": "1", "verdict": "ok"},
    ]
    assert run.variables["contact.name"] == "Ada"
    assert run.variables["account"] == "123456"


def test_menu_falls_back_after_last_retry() -> None:
    """Two timeouts with one retry: the menu's fallback (the operator transfer)."""
    run = make_run(MONDAY_10)
    d = Driver(run)
    d.start()
    assert isinstance(d.send(""), Ask)
    transfer = d.send("")
    assert transfer == Transfer((), "PJSIP/1001", 30, "1001")
    bye = d.send("NOANSWER")
    assert isinstance(bye, Hangup)
    d.send(None)
    assert run.path[1].result == "fallback"
    assert run.path[2].detail["dial_status"] == "NOANSWER"
    assert (run.outcome, run.end_node) == ("completed", "bye")


def test_input_pattern_refuses_short_entries() -> None:
    """Five digits where six are required count as invalid, then the fallback."""
    run = make_run(MONDAY_10)
    d = Driver(run)
    d.start()
    d.send("1")
    again = d.send("12345")
    assert isinstance(again, Ask)
    transfer = d.send("abc")
    assert isinstance(transfer, Transfer)
    assert [a["verdict"] for a in run.path[2].detail["attempts"]] == ["invalid", "invalid"]


@pytest.mark.parametrize(
    ("now", "node", "why"),
    [(MONDAY_10, "main", "rule 2"), (MONDAY_20, "closed", "else"), (CHRISTMAS, "closed", "rule 1")],
    ids=["open", "after_hours", "holiday"],
)
def test_business_hours_pick_the_branch(now: dt.datetime, node: str, why: str) -> None:
    """At a fixed clock the calendar decides: open, after hours, holiday."""
    run = make_run(now)
    d = Driver(run)
    d.start()
    assert run.path[0].next == node
    assert run.path[0].result == why


def test_language_switch_changes_prompt_files() -> None:
    """After the language node, prompts come in Dutch (spoken files under ccpbx/)."""
    run = make_run(MONDAY_10)
    d = Driver(run)
    d.start()
    lang = d.send("2")
    assert lang == SetLanguage("nl")
    menu = d.send(None)
    assert menu == Ask((generated_name("Druk 1 of 2", "nl"),), 1, 3000, "")
    assert run.language == "nl"


def test_channel_language_is_set_when_it_differs() -> None:
    """A channel in another language is switched to the flow's default first."""
    run = FlowRun(flow(), caller="1", did="8001", clock=lambda: MONDAY_10, channel_language="fr")
    assert next(run.steps()) == SetLanguage("en")


def test_abandon_closes_the_node_in_progress() -> None:
    """A hang-up mid-input records the path as abandoned at that node."""
    run = make_run(MONDAY_10)
    d = Driver(run)
    d.start()
    d.send("1")
    run.note_digits("12")
    run.abandon()
    assert run.path[-1].detail["typed"] == "12"
    assert "typed" not in run.path[-2].detail  # the menu's key was an answer, not a leftover
    assert (run.outcome, run.end_node) == ("abandoned", "account")
    assert run.path[-1].result == "abandoned"
    assert run.path[-1].left_at == MONDAY_10


def test_step_limit_ends_a_caller_looping_through_menus() -> None:
    """A caller who loops for ever through menus is stopped at the visit limit."""
    run = make_run(MONDAY_10, max_visits=10)
    d = Driver(run)
    effect: Effect | None = d.start()
    while effect is not None:
        effect = d.send("2" if isinstance(effect, Ask) else None)
    assert (run.outcome, run.path[-1].result) == ("failed", "step_limit")


def test_callback_time_is_read_in_the_calendar_zone() -> None:
    """1430 entered on Monday 20:00 Amsterdam time is Tuesday 14:30 there."""
    data = base()
    data["nodes"]["main"]["choices"]["1"] = "when"
    data["nodes"]["when"] = {
        "kind": "input",
        "prompt": "menu",
        "variable": "cb",
        "max_digits": 4,
        "pattern": "[0-2][0-9][0-5][0-9]",
        "next": "cb_node",
        "fallback": "bye",
    }
    data["nodes"]["cb_node"] = {
        "kind": "callback",
        "time_variable": "cb",
        "calendar": "office",
        "next": "bye",
        "campaign": "winback",
    }
    data["nodes"]["hours"]["else"] = "main"
    del data["nodes"]["account"], data["nodes"]["find"], data["nodes"]["vip_check"]
    del data["nodes"]["gold"], data["nodes"]["queue"]
    run = make_run(MONDAY_20, flow(data))
    d = Driver(run)
    d.start()
    d.send("1")
    effect = d.send("1430")
    assert isinstance(effect, ScheduleCallback)
    assert effect.due_at == dt.datetime(2026, 11, 24, 13, 30, tzinfo=dt.UTC)
    assert (effect.number, effect.campaign) == ("31201234567", "winback")
    assert isinstance(d.send(42), Hangup)
    assert run.path[-2].detail["callback_id"] == 42


def test_play_then_hangup_when_closed() -> None:
    """Closed: the closed prompt plays, then the goodbye (a recording in English)."""
    run = make_run(MONDAY_20)
    d = Driver(run)
    assert d.start() == Play((generated_name("Closed", "en"),))
    assert d.send(None) == Hangup(("hello-world",))


@pytest.mark.parametrize(
    ("test", "actual", "expected", "holds"),
    [
        ("equals", "gold", "gold", True),
        ("not_equals", None, "gold", True),
        ("in", "b", ["a", "b"], True),
        ("matches", "12ab", "[0-9]+ab", True),
        ("less_than", "5", 10, True),
        ("greater_than", "x", 1, False),
        ("exists", "", True, False),
        ("exists", None, False, True),
    ],
)
def test_comparisons(test: str, actual: str | None, expected: Any, holds: bool) -> None:
    """Condition comparisons on variables, missing and non-numeric values included."""
    assert compare(test, actual, expected) is holds
