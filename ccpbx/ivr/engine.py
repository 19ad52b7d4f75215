"""The step logic of a running flow, pure: effects out, results in.

`FlowRun.steps()` is a generator. It yields an *effect* (play these files, collect
digits, look a contact up, hand the call to a queue...) and receives the effect's
result (digits pressed, the contact found, the dial status). It never touches
Asterisk or the database, so every branch is unit-tested by sending it results;
`ccpbx.ivr.runner` drives it over a real AGI session. Time comes from the `clock`
passed in (business hours, callback times, path timestamps).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ccpbx.ivr.calendar import is_holiday, is_open, next_time_of_day
from ccpbx.ivr.model import Flow, Node, Rule
from ccpbx.ivr.prompts import file_for

Clock = Callable[[], dt.datetime]
MAX_VISITS = 200  # node visits per call: a caller looping through menus ends here


# -- effects: what the runner is asked to do ------------------------------------------
@dataclass(frozen=True, slots=True)
class Play:
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ask:
    """Play `files` (a key stops them), then collect up to `max_digits` digits.

    Result: the digits pressed ('' when none came within `timeout_ms`), without the
    terminator.
    """

    files: tuple[str, ...]
    max_digits: int
    timeout_ms: int
    terminator: str = ""


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Find a contact; result: its fields as text (a mapping) or None."""

    by: str  # "caller" (E.164 of the caller) or "variable" (digits entered)
    value: str
    field: str = "external_id"


@dataclass(frozen=True, slots=True)
class ScheduleCallback:
    """Record a callback request; result: its id."""

    number: str
    due_at: dt.datetime
    campaign: str | None
    note: str


@dataclass(frozen=True, slots=True)
class ToQueue:
    """Hand the call over: set the queue variables, then continue at `target`."""

    files: tuple[str, ...]
    queue: str
    priority: int
    skills: tuple[str, ...]
    target: str  # context,exten,priority


@dataclass(frozen=True, slots=True)
class Voicemail:
    files: tuple[str, ...]
    mailbox: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Dial out through an allowed route; result: Asterisk's DIALSTATUS."""

    files: tuple[str, ...]
    dial: str
    timeout_s: int
    number: str


@dataclass(frozen=True, slots=True)
class Hangup:
    files: tuple[str, ...]


Effect = (
    Play | Ask | SetLanguage | Lookup | ScheduleCallback | ToQueue | Voicemail | Transfer | Hangup
)


@dataclass
class PathStep:
    """One node of a call's path, as recorded for reporting."""

    node: str
    kind: str
    entered_at: dt.datetime
    left_at: dt.datetime | None = None
    digits: str = ""
    result: str = ""
    next: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Leave:
    result: str
    next: str | None = None
    outcome: str | None = None  # set when the call ends at this node


NodeGen = Generator[Effect, Any, _Leave]


class FlowRun:
    """One caller's walk through a flow."""

    def __init__(
        self,
        flow: Flow,
        *,
        caller: str,
        did: str,
        clock: Clock,
        channel_language: str | None = None,
        max_visits: int = MAX_VISITS,
    ) -> None:
        self.flow = flow
        self.clock = clock
        self.language = flow.default_language
        self.channel_language = channel_language
        self.variables: dict[str, str] = {"caller": caller, "did": did, "language": self.language}
        self.path: list[PathStep] = []
        self.outcome: str | None = None
        self.end_node: str | None = None
        self.max_visits = max_visits
        self._step: PathStep | None = None
        self._typed = ""  # keys pressed so far in the question being asked

    # -- helpers ------------------------------------------------------------------
    def files(self, *refs: str | None) -> tuple[str, ...]:
        out = []
        for ref in refs:
            if ref:
                name = file_for(self.flow, ref, self.language)
                if name is not None:
                    out.append(name)
        if self._step is not None:
            self._step.detail.setdefault("files", []).extend(out)
        return tuple(out)

    def _close(self, result: str, next_node: str | None) -> None:
        step = self._step
        if step is not None:
            step.left_at = self.clock()
            step.result = result
            step.next = next_node
        self._step = None

    def note_digits(self, digits: str) -> None:
        """Keys pressed so far in the current question (kept if the caller hangs up)."""
        self._typed = digits

    def abandon(self) -> None:
        """The caller hung up: end the path at the node in progress."""
        node = self._step.node if self._step is not None else self.end_node
        if self._step is not None and self._typed:
            self._step.detail["typed"] = self._typed
        self._close("abandoned", None)
        self.outcome = "abandoned"
        self.end_node = node

    def fail(self, reason: str) -> None:
        """The runner could not carry an effect out: end the path as failed here."""
        node = self._step.node if self._step is not None else self.end_node
        if self._step is not None:
            self._step.detail["error"] = reason
        self._close("error", None)
        self.outcome = "failed"
        self.end_node = node

    @property
    def current(self) -> str | None:
        return self._step.node if self._step is not None else None

    # -- the walk -----------------------------------------------------------------
    def steps(self) -> Generator[Effect, Any, None]:
        """Effects to carry out, one at a time, until the call ends."""
        if self.channel_language != self.language:
            yield SetLanguage(self.language)
        name: str | None = self.flow.start
        visits = 0
        while name is not None:
            visits += 1
            node = self.flow.nodes[name]
            self._step = PathStep(node.name, node.kind, self.clock())
            self.path.append(self._step)
            if visits > self.max_visits:
                self._close("step_limit", None)
                self.outcome, self.end_node = "failed", name
                return
            leave = yield from getattr(self, f"_{node.kind}")(node)
            self._close(leave.result, leave.next)
            if leave.outcome is not None:
                self.outcome, self.end_node = leave.outcome, name
                return
            name = leave.next
        self.outcome = "completed"

    # -- one method per node kind -------------------------------------------------
    def _play(self, node: Node) -> NodeGen:
        yield Play(self.files(*node.get("prompts")))
        return _Leave("played", node.get("next"))

    def _collect(
        self, node: Node, max_digits: int, terminator: str
    ) -> Generator[Effect, Any, str | None]:
        """Ask with retries; the accepted digits, or None after the last retry."""
        retries = node.get("retries", 2)
        attempts: list[dict[str, str]] = []
        assert self._step is not None
        self._step.detail["attempts"] = attempts
        files = self.files(node.get("prompt"))
        for attempt in range(retries + 1):
            self._typed = ""
            digits = yield Ask(files, max_digits, node.get("timeout_ms", 5000), terminator)
            digits = str(digits or "")
            self._typed = ""  # answered: only an unanswered question keeps its keys
            verdict = "timeout" if digits == "" else self._verdict(node, digits)
            attempts.append({"digits": digits, "verdict": verdict})
            if verdict == "ok":
                self._step.digits = digits
                return digits
            if attempt < retries:
                again = node.get("timeout_prompt" if verdict == "timeout" else "invalid_prompt")
                files = self.files(again, node.get("prompt"))
        self._step.digits = ",".join(a["digits"] for a in attempts)
        return None

    def _verdict(self, node: Node, digits: str) -> str:
        if node.kind == "menu":
            return "ok" if digits in node.get("choices") else "invalid"
        if len(digits) < node.get("min_digits", 1):
            return "invalid"
        pattern = node.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, digits):
            return "invalid"
        return "ok"

    def _menu(self, node: Node) -> NodeGen:
        digit = yield from self._collect(node, 1, "")
        if digit is None:
            return _Leave("fallback", node.get("fallback"))
        return _Leave(f"choice {digit}", node.get("choices")[digit])

    def _input(self, node: Node) -> NodeGen:
        digits = yield from self._collect(node, node.get("max_digits"), node.get("terminator", "#"))
        if digits is None:
            return _Leave("fallback", node.get("fallback"))
        self.variables[node.get("variable")] = digits
        return _Leave("accepted", node.get("next"))

    def _language(self, node: Node) -> NodeGen:
        self.language = self.variables["language"] = node.get("language")
        yield SetLanguage(self.language)
        return _Leave(f"language {self.language}", node.get("next"))

    def _lookup(self, node: Node) -> NodeGen:
        by = node.get("by")
        value = self.variables.get("caller" if by == "caller" else node.get("variable"), "")
        found = yield Lookup(by, value, node.get("field", "external_id"))
        if not found:
            self.variables["contact_found"] = "no"
            return _Leave("not_found", node.get("not_found"))
        self.variables["contact_found"] = "yes"
        for key, val in found.items():
            self.variables[f"contact.{key}"] = str(val)
        assert self._step is not None
        self._step.detail["contact_id"] = str(found.get("id", ""))
        return _Leave("found", node.get("found"))

    def _condition(self, node: Node) -> NodeGen:
        for i, rule in enumerate(node.get("rules")):
            if self._holds(rule):
                return _Leave(f"rule {i + 1}", rule.goto)
        return _Leave("else", node.get("else"))
        yield  # pragma: no cover - makes this a generator like the others

    def _holds(self, rule: Rule) -> bool:
        if rule.test in ("open", "closed", "holiday"):
            calendar = self.flow.calendars[rule.subject]
            now = self.clock()
            if rule.test == "holiday":
                return is_holiday(calendar, now)
            return is_open(calendar, now) == (rule.test == "open")
        return compare(rule.test, self.variables.get(rule.subject), rule.value)

    def _callback(self, node: Node) -> NodeGen:
        now = self.clock()
        due = now
        if node.get("delay_minutes") is not None:
            due = now + dt.timedelta(minutes=node.get("delay_minutes"))
        elif node.get("time_variable"):
            tz = self.flow.calendars[node.get("calendar")].time_zone
            due = (
                next_time_of_day(now, self.variables.get(node.get("time_variable"), ""), tz) or now
            )
        number = self.variables.get(node.get("number", "caller"), "")
        ident = yield ScheduleCallback(number, due, node.get("campaign"), node.get("note", ""))
        assert self._step is not None
        self._step.detail.update(callback_id=ident, due_at=due.isoformat(), number=number)
        return _Leave("scheduled", node.get("next"))

    def _queue(self, node: Node) -> NodeGen:
        effect = ToQueue(
            self.files(node.get("prompt")),
            node.get("queue"),
            node.get("priority", 0),
            tuple(node.get("skills", ())),
            node.get("target"),
        )
        assert self._step is not None
        self._step.detail.update(
            queue=effect.queue, target=effect.target, skills=list(effect.skills)
        )
        yield effect
        return _Leave("queued", None, "queued")

    def _voicemail(self, node: Node) -> NodeGen:
        yield Voicemail(self.files(node.get("prompt")), node.get("mailbox"))
        return _Leave("voicemail", None, "voicemail")

    def _transfer(self, node: Node) -> NodeGen:
        route = self.flow.routes[node.get("route")]
        number = node.get("number") or self.variables.get(node.get("variable"), "")
        assert self._step is not None
        self._step.detail.update(route=route.name, number=number)
        if not re.fullmatch(route.pattern, number):
            status = "NOTALLOWED"
        else:
            dial = route.dial.format(number=number)
            status = yield Transfer(self.files(node.get("prompt")), dial, route.timeout_s, number)
        self._step.detail["dial_status"] = status
        if status == "ANSWER":
            return _Leave("transferred", None, "transferred")
        if node.get("failed"):
            return _Leave(f"transfer {str(status).lower()}", node.get("failed"))
        return _Leave(f"transfer {str(status).lower()}", None, "transfer_failed")

    def _hangup(self, node: Node) -> NodeGen:
        yield Hangup(self.files(node.get("prompt")))
        return _Leave("hangup", None, "completed")


def compare(test: str, actual: str | None, expected: Any) -> bool:
    """A `condition` comparison on a variable (missing variables compare as absent)."""
    if test == "exists":
        return (actual not in (None, "")) == bool(expected)
    if actual is None:
        return test == "not_equals"
    if test == "equals":
        return actual == str(expected)
    if test == "not_equals":
        return actual != str(expected)
    if test == "in":
        return actual in {str(x) for x in expected}
    if test == "matches":
        return re.fullmatch(str(expected), actual) is not None
    try:
        a, b = float(actual), float(expected)
    except ValueError:
        return False
    return a < b if test == "less_than" else a > b
