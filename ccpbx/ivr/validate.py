"""Semantic checks of a flow before it may be activated (pure, no I/O).

`check_text` is what `ccpbx ivr check` and activation run: YAML, structure
(`parse_flow`), then the checks here. Every problem is named with its node (or
prompt, calendar, route), so an admin sees all mistakes at once, before callers do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from ccpbx.ivr.calendar import zone_exists
from ccpbx.ivr.model import (
    DTMF_KEYS,
    NAME,
    TERMINAL_KINDS,
    WAITING_KINDS,
    Flow,
    Node,
    Problem,
    parse_flow,
)
from ccpbx.ivr.prompts import SOUND_PREFIX, file_for, prompt_for

MAX_TIMEOUT_MS = 60_000
MAX_DIGITS = 32
TARGET = re.compile(r"^[A-Za-z0-9_-]+,[A-Za-z0-9_+*#-]+,(\d+|[a-z][a-z0-9_-]*)$")
VARIABLE = re.compile(r"^[a-z][a-z0-9_.]{0,62}$")


@dataclass
class CheckResult:
    flow: Flow | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.problems


def check_text(text: str) -> CheckResult:
    """Load, parse and validate a flow document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        return CheckResult(None, [Problem("flow", f"not valid YAML{at}: {exc}")])
    flow, problems = parse_flow(data)
    if flow is not None:
        problems += validate(flow)
    return CheckResult(flow, problems)


def _compiles(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def _prompt_refs(node: Node) -> list[str]:
    refs = list(node.get("prompts", ()))
    refs += [node.get(k) for k in ("prompt", "invalid_prompt", "timeout_prompt") if node.get(k)]
    return refs


class _Checker:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def run(self) -> list[Problem]:
        flow = self.flow
        self.top()
        for node in flow.nodes.values():
            self.exits(node)
            self.prompts(node)
            getattr(self, f"kind_{node.kind}", lambda n: None)(node)
        for cal in flow.calendars.values():
            if not zone_exists(cal.time_zone):
                self.add(f"calendar {cal.name}", f"unknown time zone {cal.time_zone!r}")
        for route in flow.routes.values():
            if (err := _compiles(route.pattern)) is not None:
                self.add(
                    f"route {route.name}", f"pattern {route.pattern!r} does not compile: {err}"
                )
        if flow.start in flow.nodes:
            self.graph()
        return self.problems

    # -- whole flow -------------------------------------------------------------
    def top(self) -> None:
        flow = self.flow
        if flow.start not in flow.nodes:
            self.add("flow", f"start node {flow.start!r} does not exist")
        if flow.default_language not in flow.languages:
            self.add("flow", f"default language {flow.default_language!r} is not in 'languages'")
        for did in flow.dids:
            if not re.fullmatch(r"\+?[0-9]{2,20}", did):
                self.add("flow", f"DID {did!r} is not a number")
        for lang in flow.sound_languages:
            if lang not in flow.languages:
                self.add("flow", f"sound language {lang!r} is not in 'languages'")

    def graph(self) -> None:
        flow = self.flow
        edges = {
            name: [t for t in node.exits().values() if t in flow.nodes]
            for name, node in flow.nodes.items()
        }
        reachable = _walk([flow.start], edges)
        for name in flow.nodes:
            if name not in reachable:
                self.add(f"node {name}", "unreachable from the start node")
        # A loop through nodes that never wait for the caller spins for ever.
        idle = {n for n, node in flow.nodes.items() if node.kind not in WAITING_KINDS}
        for cycle in _cycles({n: [t for t in edges[n] if t in idle] for n in idle}):
            if cycle[0] in reachable:
                path = " -> ".join([*cycle, cycle[0]])
                self.add(f"node {cycle[0]}", f"loop {path} never waits for input")
        # Every reachable node must lead to an end (hang-up, queue, transfer, voicemail).
        reverse: dict[str, list[str]] = {n: [] for n in flow.nodes}
        for src, targets in edges.items():
            for t in targets:
                reverse[t].append(src)
        ends = [n for n, node in flow.nodes.items() if node.kind in TERMINAL_KINDS]
        can_end = _walk(ends, reverse)
        for name in sorted(reachable - can_end):
            node = flow.nodes[name]
            what = "menu" if node.kind == "menu" else "node"
            self.add(f"node {name}", f"{what} has no way out: no path leads to an end of the call")

    # -- every node -------------------------------------------------------------
    def exits(self, node: Node) -> None:
        for why, target in node.exits().items():
            if target not in self.flow.nodes:
                self.add(f"node {node.name}", f"{why} goes to unknown node {target!r}")

    def prompts(self, node: Node) -> None:
        for ref in _prompt_refs(node):
            if prompt_for(self.flow, ref) is None:
                self.add(f"node {node.name}", f"unknown prompt {ref!r}")
                continue
            for lang in self.flow.languages:
                if file_for(self.flow, ref, lang) is None:
                    hint = (
                        f"the recording {ref[len(SOUND_PREFIX) :]!r} has no {lang!r} set"
                        if ref.startswith(SOUND_PREFIX)
                        else f"add text.{lang} or a sound for a recorded language"
                    )
                    self.add(
                        f"node {node.name}", f"prompt {ref!r} is missing for {lang!r} ({hint})"
                    )

    def retries(self, node: Node) -> None:
        where = f"node {node.name}"
        timeout = node.get("timeout_ms", 5000)
        if not 500 <= timeout <= MAX_TIMEOUT_MS:
            self.add(where, f"timeout_ms {timeout} is outside 500..{MAX_TIMEOUT_MS}")
        if not 0 <= node.get("retries", 2) <= 9:
            self.add(where, f"retries {node.get('retries')} is outside 0..9")

    # -- per kind ---------------------------------------------------------------
    def kind_play(self, node: Node) -> None:
        if not node.get("prompts"):
            self.add(f"node {node.name}", "plays nothing: 'prompts' is empty")

    def kind_menu(self, node: Node) -> None:
        self.retries(node)
        choices = node.get("choices", {})
        if not choices:
            self.add(f"node {node.name}", "menu has no choices")
        for key in choices:
            if len(key) != 1 or key not in DTMF_KEYS:
                self.add(f"node {node.name}", f"choice {key!r} is not one DTMF key (0-9, *, #)")

    def kind_input(self, node: Node) -> None:
        where = f"node {node.name}"
        self.retries(node)
        high, low = node.get("max_digits", 1), node.get("min_digits", 1)
        if not 1 <= high <= MAX_DIGITS:
            self.add(where, f"max_digits {high} is outside 1..{MAX_DIGITS}")
        if not 0 <= low <= high:
            self.add(where, f"min_digits {low} must be between 0 and max_digits")
        term = node.get("terminator", "#")
        if term and (len(term) != 1 or term not in DTMF_KEYS):
            self.add(where, f"terminator {term!r} is not one DTMF key")
        if (pattern := node.get("pattern")) is not None and (err := _compiles(pattern)):
            self.add(where, f"pattern {pattern!r} does not compile: {err}")
        if not VARIABLE.match(node.get("variable", "x")):
            self.add(where, f"variable name {node.get('variable')!r} is not valid")

    def kind_lookup(self, node: Node) -> None:
        where = f"node {node.name}"
        by = node.get("by")
        if by not in ("caller", "variable"):
            self.add(where, f"'by' must be caller or variable, not {by!r}")
        if by == "variable" and not node.get("variable"):
            self.add(where, "a lookup by variable needs 'variable'")
        field_name = node.get("field", "external_id")
        if not NAME.match(field_name):
            self.add(where, f"field {field_name!r} is not a valid field name")

    def kind_condition(self, node: Node) -> None:
        where = f"node {node.name}"
        for i, rule in enumerate(node.get("rules", ())):
            at = f"{where} rule {i + 1}"
            if rule.test in ("open", "closed", "holiday"):
                if rule.subject not in self.flow.calendars:
                    self.add(at, f"unknown calendar {rule.subject!r}")
            elif rule.test == "matches" and (err := _compiles(str(rule.value))) is not None:
                self.add(at, f"pattern {rule.value!r} does not compile: {err}")
            elif rule.test in ("less_than", "greater_than") and not _is_number(rule.value):
                self.add(at, f"{rule.test} needs a number, not {rule.value!r}")
            elif rule.test == "in" and not isinstance(rule.value, list):
                self.add(at, "'in' needs a list")

    def kind_language(self, node: Node) -> None:
        lang = node.get("language")
        if lang not in self.flow.languages:
            self.add(f"node {node.name}", f"language {lang!r} is not one of the flow's languages")

    def kind_queue(self, node: Node) -> None:
        if not TARGET.match(node.get("target", "")):
            self.add(f"node {node.name}", "target must be CONTEXT,EXTEN,PRIORITY")
        if not 0 <= node.get("priority", 0) <= 100:
            self.add(f"node {node.name}", "priority must be within 0..100")

    def kind_callback(self, node: Node) -> None:
        where = f"node {node.name}"
        if node.get("time_variable") and not node.get("calendar"):
            self.add(where, "time_variable needs a calendar (its time zone reads the time)")
        cal = node.get("calendar")
        if cal and cal not in self.flow.calendars:
            self.add(where, f"unknown calendar {cal!r}")
        if node.get("delay_minutes") is not None and node.get("time_variable"):
            self.add(where, "give delay_minutes or time_variable, not both")

    def kind_transfer(self, node: Node) -> None:
        where = f"node {node.name}"
        route = self.flow.routes.get(node.get("route", ""))
        if route is None:
            self.add(where, f"unknown route {node.get('route')!r}")
        number, variable = node.get("number"), node.get("variable")
        if (number is None) == (variable is None):
            self.add(where, "give exactly one of 'number' or 'variable'")
        if (
            route is not None
            and number is not None
            and _compiles(route.pattern) is None
            and not re.fullmatch(route.pattern, number)
        ):
            self.add(where, f"number {number!r} is not allowed by route {route.name!r}")


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _walk(starts: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in starts if s in edges]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(edges.get(n, ()))
    return seen


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected group that loops (Tarjan), in node order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges[v]:
                found.append(_order(group, edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _order(group: list[str], edges: dict[str, list[str]]) -> list[str]:
    """The group's members along one loop, starting from its first name."""
    members = set(group)
    first = min(group)
    path = [first]
    while True:
        nxt = next((t for t in edges[path[-1]] if t in members and t not in path), None)
        if nxt is None:
            return path
        path.append(nxt)


def validate(flow: Flow) -> list[Problem]:
    """Every semantic problem of `flow`, each named with its node."""
    return _Checker(flow).run()
