"""IVR flows as data: the typed model and its parser (pure, no I/O).

A flow is a YAML document of named nodes. `parse_flow` turns the loaded document
into a frozen `Flow` and collects every structural problem it finds (unknown kind,
missing or unknown key, wrong type), each named with its node, instead of stopping
at the first. Semantic checks (reachability, loops, prompts per language) live in
`ccpbx.ivr.validate`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DTMF_KEYS = frozenset("0123456789*#")
TERMINAL_KINDS = frozenset({"queue", "voicemail", "transfer", "hangup"})
WAITING_KINDS = frozenset({"menu", "input"})  # nodes that wait for the caller
COMPARISONS = ("equals", "not_equals", "in", "matches", "less_than", "greater_than", "exists")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a flow, named with where it is (a node, a prompt, `flow`)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt: an Asterisk recording (`sound`) and/or a text per language."""

    name: str
    sound: str | None = None
    text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Weekly opening hours (minutes after midnight, local), holidays, a time zone."""

    name: str
    time_zone: str
    weekly: Mapping[int, tuple[tuple[int, int], ...]]  # weekday (0 = Monday) -> ranges
    holidays: frozenset[dt.date] = frozenset()


@dataclass(frozen=True, slots=True)
class Route:
    """Where a transfer may go: a dial string template and the numbers it accepts."""

    name: str
    dial: str  # e.g. "PJSIP/{number}@carrier"
    pattern: str  # numbers this route accepts (full match)
    timeout_s: int = 30


@dataclass(frozen=True, slots=True)
class Rule:
    """One test of a `condition` node; the first that holds picks `goto`."""

    test: str  # "open" | "closed" | "holiday" | a comparison from COMPARISONS
    subject: str  # calendar name, or variable name for comparisons
    value: Any
    goto: str


@dataclass(frozen=True, slots=True)
class Node:
    """A node of any kind; `options` holds the kind's settings, already type-checked."""

    name: str
    kind: str
    options: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def exits(self) -> dict[str, str]:
        """Every node this one can lead to, keyed by why (`next`, `choice 1`, ...)."""
        out: dict[str, str] = {}
        for key in ("next", "fallback", "found", "not_found", "else", "failed"):
            target = self.options.get(key)
            if target:
                out[key] = target
        for digit, target in self.options.get("choices", {}).items():
            out[f"choice {digit}"] = target
        for i, rule in enumerate(self.options.get("rules", ())):
            out[f"rule {i + 1}"] = rule.goto
        return out


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    languages: tuple[str, ...]
    default_language: str
    sound_languages: tuple[str, ...]
    dids: tuple[str, ...]
    nodes: Mapping[str, Node]
    prompts: Mapping[str, Prompt]
    calendars: Mapping[str, Calendar]
    routes: Mapping[str, Route]
    description: str = ""


# -- node schemas: key -> (type, required) --------------------------------------------
_INT, _STR, _LIST, _MAP, _BOOL = int, str, list, dict, bool
_COMMON = {"kind": (_STR, True), "description": (_STR, False)}
_RETRY = {
    "timeout_ms": (_INT, False),
    "retries": (_INT, False),
    "invalid_prompt": (_STR, False),
    "timeout_prompt": (_STR, False),
    "fallback": (_STR, True),
}
SCHEMAS: dict[str, dict[str, tuple[type, bool]]] = {
    "play": {"prompts": (_LIST, True), "next": (_STR, True)},
    "menu": {"prompt": (_STR, True), "choices": (_MAP, True), **_RETRY},
    "input": {
        "prompt": (_STR, True),
        "variable": (_STR, True),
        "max_digits": (_INT, True),
        "min_digits": (_INT, False),
        "terminator": (_STR, False),
        "pattern": (_STR, False),
        "next": (_STR, True),
        **_RETRY,
    },
    "lookup": {
        "by": (_STR, True),
        "variable": (_STR, False),
        "field": (_STR, False),
        "found": (_STR, True),
        "not_found": (_STR, True),
    },
    "condition": {"rules": (_LIST, True), "else": (_STR, True)},
    "language": {"language": (_STR, True), "next": (_STR, True)},
    "queue": {
        "queue": (_STR, True),
        "priority": (_INT, False),
        "skills": (_LIST, False),
        "target": (_STR, True),
        "prompt": (_STR, False),
    },
    "voicemail": {"mailbox": (_STR, True), "prompt": (_STR, False)},
    "callback": {
        "number": (_STR, False),
        "delay_minutes": (_INT, False),
        "time_variable": (_STR, False),
        "calendar": (_STR, False),
        "campaign": (_STR, False),
        "note": (_STR, False),
        "next": (_STR, True),
    },
    "transfer": {
        "route": (_STR, True),
        "number": (_STR, False),
        "variable": (_STR, False),
        "failed": (_STR, False),
        "prompt": (_STR, False),
    },
    "hangup": {"prompt": (_STR, False)},
}
_TOP = {
    "flow": (_STR, True),
    "description": (_STR, False),
    "start": (_STR, True),
    "languages": (_LIST, True),
    "default_language": (_STR, False),
    "sound_languages": (_LIST, False),
    "dids": (_LIST, False),
    "prompts": (_MAP, False),
    "calendars": (_MAP, False),
    "routes": (_MAP, False),
    "nodes": (_MAP, True),
}
_TYPE_NAMES = {int: "a whole number", str: "text", list: "a list", dict: "a mapping"}
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def typed(
        self, where: str, data: Mapping[str, Any], schema: Mapping[str, tuple[type, bool]]
    ) -> dict[str, Any]:
        """The keys of `data` that fit `schema`; a problem for each that does not."""
        out: dict[str, Any] = {}
        for key in data:
            if key not in schema:
                self.add(where, f"unknown key {key!r} (allowed: {', '.join(sorted(schema))})")
        for key, (kind, required) in schema.items():
            if key not in data or data[key] is None:
                if required:
                    self.add(where, f"missing key {key!r}")
                continue
            value = data[key]
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
            if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
                value, ok = str(value), True  # YAML reads 0800 or 5 as numbers
            if not ok:
                self.add(where, f"{key!r} must be {_TYPE_NAMES.get(kind, kind.__name__)}")
                continue
            out[key] = value
        return out


def _minutes(text: str) -> tuple[int, int] | None:
    match = _HOURS.match(text.strip())
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= end or end > 24 * 60:
        return None
    return start, end


def _calendar(c: _Collector, name: str, data: Any) -> Calendar | None:
    where = f"calendar {name}"
    if not isinstance(data, dict):
        c.add(where, "must be a mapping")
        return None
    d = c.typed(
        where, data, {"time_zone": (_STR, True), "weekly": (_MAP, True), "holidays": (_LIST, False)}
    )
    weekly: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, ranges in d.get("weekly", {}).items():
        if day not in WEEKDAYS:
            c.add(where, f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
            continue
        spans = []
        for text in ranges if isinstance(ranges, list) else [ranges]:
            span = _minutes(str(text))
            if span is None:
                c.add(where, f"{day}: bad hours {text!r} (use HH:MM-HH:MM, start before end)")
            else:
                spans.append(span)
        weekly[WEEKDAYS.index(day)] = tuple(sorted(spans))
    holidays = set()
    for item in d.get("holidays", []):
        try:
            holidays.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item)))
        except ValueError:
            c.add(where, f"bad holiday {item!r} (use YYYY-MM-DD)")
    if "time_zone" not in d:
        return None
    return Calendar(name, d["time_zone"], weekly, frozenset(holidays))


def _rules(c: _Collector, where: str, items: list[Any]) -> tuple[Rule, ...]:
    rules = []
    for i, item in enumerate(items):
        at = f"{where} rule {i + 1}"
        if not isinstance(item, dict) or "goto" not in item:
            c.add(at, "must be a mapping with 'goto'")
            continue
        goto = str(item["goto"])
        tests = [k for k in ("open", "closed", "holiday") if k in item]
        if tests:
            extra = set(item) - {tests[0], "goto"}
            if len(tests) > 1 or extra:
                c.add(
                    at,
                    f"a calendar test takes only one of open/closed/holiday and 'goto'; "
                    f"found {sorted(set(item) - {'goto'})}",
                )
                continue
            rules.append(Rule(tests[0], str(item[tests[0]]), None, goto))
            continue
        ops = [k for k in COMPARISONS if k in item]
        extra = set(item) - {"var", "goto", *ops}
        if "var" not in item or len(ops) != 1 or extra:
            c.add(
                at,
                f"use {{open|closed|holiday: CALENDAR, goto: NODE}} or "
                f"{{var: NAME, <one of {', '.join(COMPARISONS)}>: VALUE, goto: NODE}}",
            )
            continue
        rules.append(Rule(ops[0], str(item["var"]), item[ops[0]], goto))
    return tuple(rules)


def _node(c: _Collector, name: str, data: Any) -> Node | None:
    where = f"node {name}"
    if not NAME.match(name):
        c.add(where, "node names are lower case letters, digits and _, starting with a letter")
    if not isinstance(data, dict):
        c.add(where, "must be a mapping")
        return None
    kind = data.get("kind")
    if kind not in SCHEMAS:
        c.add(where, f"unknown kind {kind!r} (known: {', '.join(SCHEMAS)})")
        return None
    options = c.typed(where, data, {**_COMMON, **SCHEMAS[kind]})
    options.pop("kind", None)
    if "choices" in options:
        options["choices"] = {str(k): str(v) for k, v in options["choices"].items()}
    if "prompts" in options:
        options["prompts"] = tuple(str(p) for p in options["prompts"])
    if "skills" in options:
        options["skills"] = tuple(str(s) for s in options["skills"])
    if "rules" in options:
        options["rules"] = _rules(c, where, options["rules"])
    return Node(name, kind, options)


def _prompt(c: _Collector, name: str, data: Any) -> Prompt | None:
    where = f"prompt {name}"
    if isinstance(data, str):
        return Prompt(name, sound=data)
    if not isinstance(data, dict):
        c.add(where, "must be a sound name or a mapping with 'sound' and/or 'text'")
        return None
    d = c.typed(where, data, {"sound": (_STR, False), "text": (_MAP, False)})
    text = {str(k): str(v) for k, v in d.get("text", {}).items()}
    if not d.get("sound") and not text:
        c.add(where, "needs a 'sound' or a 'text' per language")
    return Prompt(name, d.get("sound"), text)


def _route(c: _Collector, name: str, data: Any) -> Route | None:
    where = f"route {name}"
    if not isinstance(data, dict):
        c.add(where, "must be a mapping with 'dial' and 'pattern'")
        return None
    d = c.typed(
        where, data, {"dial": (_STR, True), "pattern": (_STR, True), "timeout_s": (_INT, False)}
    )
    if "dial" not in d or "pattern" not in d:
        return None
    if "{number}" not in d["dial"]:
        c.add(where, "'dial' must hold {number}, e.g. PJSIP/{number}@carrier")
    return Route(name, d["dial"], d["pattern"], d.get("timeout_s", 30))


def parse_flow(data: Any) -> tuple[Flow | None, list[Problem]]:
    """The flow in `data` (a loaded YAML document) and every structural problem found."""
    c = _Collector()
    if not isinstance(data, dict):
        return None, [Problem("flow", "the document must be a mapping with 'flow' and 'nodes'")]
    top = c.typed("flow", data, _TOP)
    name = str(top.get("flow", ""))
    if name and not NAME.match(name):
        c.add("flow", "the flow name is lower case letters, digits and _, starting with a letter")
    nodes = {}
    for key, value in top.get("nodes", {}).items():
        node = _node(c, str(key), value)
        if node is not None:
            nodes[str(key)] = node
    prompts = {}
    for key, value in top.get("prompts", {}).items():
        prompt = _prompt(c, str(key), value)
        if prompt is not None:
            prompts[str(key)] = prompt
    calendars = {}
    for key, value in top.get("calendars", {}).items():
        cal = _calendar(c, str(key), value)
        if cal is not None:
            calendars[str(key)] = cal
    routes = {}
    for key, value in top.get("routes", {}).items():
        route = _route(c, str(key), value)
        if route is not None:
            routes[str(key)] = route
    languages = tuple(str(x) for x in top.get("languages", []))
    if not languages and "languages" in top:
        c.add("flow", "'languages' must name at least one language")
    if "flow" not in top or "start" not in top or "nodes" not in top:
        return None, c.problems
    flow = Flow(
        name=name,
        start=str(top["start"]),
        languages=languages,
        default_language=str(top.get("default_language", languages[0] if languages else "en")),
        sound_languages=tuple(str(x) for x in top.get("sound_languages", [])),
        dids=tuple(str(x) for x in top.get("dids", [])),
        nodes=nodes,
        prompts=prompts,
        calendars=calendars,
        routes=routes,
        description=str(top.get("description", "")),
    )
    return flow, c.problems
