"""Campaign scenarios for the dialer benchmark: JSON loading with validation.

Run one: ``ccpbx bench dialer --scenario bench/scenarios/n10_p30_realistic.json
--pacer predictive [--seeds K] [--days D] [--json]``; the whole table:
``.venv/bin/python bench/dialer_table.py [--days D] [--seeds K] [--jobs J]``.

A scenario file is a JSON object (validated here; errors name the offending key):

``agents``, ``days``, ``day_hours``
    agents logged in for a shift of ``day_hours`` each day
``live_answer_prob``
    share of dials answered by a person
``answer_delay_s``
    law of the time from dialing to a live answer
``failures``
    non-live outcomes: a list of ``{"share", "after_s"}`` with shares summing to 1;
    ``after_s`` is a number (fixed) or a law
``talk_s``, ``wrap_s``
    talk and wrap-up (after-call work) laws
``grace_s``
    a live answer with no agent free within this time is abandoned (recorded
    message, hang-up)
``abandon_target``
    allowed abandoned share of live answers (0.03)
``seed``
    first seed; ``--seeds K`` runs seed .. seed + K - 1
``amd`` (optional)
    ``{"machine_share", "detect_s", "human_s"}``: a share of all dials answered by
    machines, hung up ``detect_s`` after answering; live answers reach the queue
    ``human_s`` after answering, which eats into the grace time
``breaks`` (optional)
    ``{"every_s", "duration_s"}``: each agent pauses after a call once per
    ``every_s`` (staggered); break time counts as logged-in time
``answer_drift`` (optional)
    hourly multipliers of ``live_answer_prob`` (cycled over the shift)
``reference`` (optional)
    published figures ``progressive``, ``best_ratio``, ``optimum`` for the table
``name``, ``description`` (optional)
    labels

A law is ``{"dist": "fixed" | "exponential" | "lognormal", "mean": s, "cv": c}``
(``cv`` only for lognormal); a bare number is a fixed time.

Shipped in ``bench/scenarios/``: the four reference campaigns of the issue, each twice:

* ``*_realistic``: lognormal answer delay (cv 0.5), fixed-time failures (no answer
  after ~25 s, busy or unreachable after ~5 s) giving the table's mean
  dial-to-outcome time r, lognormal talk (cv 0.8), fixed wrap, 2 s grace;
* ``*_exponential``: the Markov model's twin: every outcome (live or not) after an
  exponential time of mean r, exponential talk and wrap, grace 0 (abandoned at once),
  so the reference figures apply (handle time is two exponential phases rather than
  one, which leaves progressive occupancy h / (h + r/p) unchanged).

``n20_amd_breaks_drift.json`` exercises the optional keys (no reference figures).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccpbx.dialer.sim.dist import Dist, parse_dist


class ScenarioError(ValueError):
    """A scenario file is missing, unreadable or invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A share of the non-live outcomes (no answer, busy, machine...) and its timing."""

    share: float
    after_s: Dist


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection: machines answer and are hung up after detection.

    ``machine_share`` is the share of all dials answered by a machine (taken out of
    the non-live share); machines end ``detect_s`` after answering. Live answers are
    delivered ``human_s`` after answering, which eats into the grace time.
    """

    machine_share: float
    detect_s: Dist
    human_s: Dist


@dataclass(frozen=True, slots=True)
class Breaks:
    """Each agent pauses ``duration_s`` every ``every_s`` (staggered, after a call)."""

    every_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Scenario:
    """One campaign to simulate (keys as in the module documentation)."""

    name: str
    agents: int
    days: int
    day_hours: float
    live_answer_prob: float
    answer_delay_s: Dist
    failures: tuple[Failure, ...]
    talk_s: Dist
    wrap_s: Dist
    grace_s: float
    abandon_target: float
    seed: int
    amd: Amd | None = None
    answer_drift: tuple[float, ...] = ()
    breaks: Breaks | None = None
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def non_live_share(self) -> float:
        """Share of dials that end without a live answer."""
        return 1.0 - self.live_answer_prob

    def answer_prob_at(self, shift_s: float) -> float:
        """Live-answer probability at ``shift_s`` seconds into the shift (hourly drift)."""
        if not self.answer_drift:
            return self.live_answer_prob
        hour = int(shift_s // 3600) % len(self.answer_drift)
        return self.live_answer_prob * self.answer_drift[hour]

    @property
    def mean_dial_to_outcome_s(self) -> float:
        """Mean time from dialing to the outcome (r in the Markov model)."""
        p = self.live_answer_prob
        live = self.answer_delay_s.mean + (self.amd.human_s.mean if self.amd else 0.0)
        r = p * live
        machine = self.amd.machine_share if self.amd else 0.0
        if self.amd:
            r += machine * (self.answer_delay_s.mean + self.amd.detect_s.mean)
        rest = 1.0 - p - machine
        r += rest * sum(f.share * f.after_s.mean for f in self.failures)
        return r

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with some fields replaced (days, seed, ...)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        return Scenario(**fields)


_KNOWN = {
    "name",
    "description",
    "agents",
    "days",
    "day_hours",
    "live_answer_prob",
    "answer_delay_s",
    "failures",
    "talk_s",
    "wrap_s",
    "grace_s",
    "abandon_target",
    "seed",
    "amd",
    "answer_drift",
    "breaks",
    "reference",
}


def _num(raw: dict[str, Any], key: str, where: str, *, lo: float, hi: float = math.inf) -> float:
    if key not in raw:
        raise ScenarioError(f"{where}: missing key {key!r}")
    value = raw[key]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ScenarioError(f"{where}.{key}: expected a number, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}.{key}: {value!r} is outside [{lo}, {hi}]")
    return float(value)


def _int(raw: dict[str, Any], key: str, where: str, *, lo: int, hi: int) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}.{key}: {value} is outside [{lo}, {hi}]")
    return value


def _dist(raw: dict[str, Any], key: str, where: str) -> Dist:
    if key not in raw:
        raise ScenarioError(f"{where}: missing key {key!r}")
    try:
        return parse_dist(raw[key], f"{where}.{key}")
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def parse_scenario(raw: object, name: str = "scenario") -> Scenario:
    """Validate a decoded scenario object; raise :class:`ScenarioError` naming the key."""
    where = name
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a JSON object at top level")
    unknown = set(raw) - _KNOWN
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    p = _num(raw, "live_answer_prob", where, lo=0.0, hi=1.0)
    if p <= 0:
        raise ScenarioError(f"{where}.live_answer_prob: must be > 0")
    failures_raw = raw.get("failures")
    if not isinstance(failures_raw, list) or not failures_raw:
        raise ScenarioError(f"{where}.failures: expected a non-empty list of objects")
    failures = []
    for i, item in enumerate(failures_raw):
        fw = f"{where}.failures[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(f"{fw}: expected an object with share and after_s")
        if set(item) - {"share", "after_s"}:
            raise ScenarioError(f"{fw}: unknown keys {sorted(set(item) - {'share', 'after_s'})}")
        share = _num(item, "share", fw, lo=0.0, hi=1.0)
        failures.append(Failure(share, _dist(item, "after_s", fw)))
    total = sum(f.share for f in failures)
    if abs(total - 1.0) > 1e-6:
        raise ScenarioError(f"{where}.failures: shares sum to {total:g}, expected 1")
    amd = None
    if raw.get("amd") is not None:
        a = raw["amd"]
        aw = f"{where}.amd"
        if not isinstance(a, dict):
            raise ScenarioError(f"{aw}: expected an object")
        if set(a) - {"machine_share", "detect_s", "human_s"}:
            raise ScenarioError(f"{aw}: unknown keys")
        share = _num(a, "machine_share", aw, lo=0.0, hi=1.0 - p)
        amd = Amd(share, _dist(a, "detect_s", aw), _dist(a, "human_s", aw))
    drift: tuple[float, ...] = ()
    if raw.get("answer_drift") is not None:
        d = raw["answer_drift"]
        if not isinstance(d, list) or not d:
            raise ScenarioError(f"{where}.answer_drift: expected a list of hourly multipliers")
        for i, m in enumerate(d):
            if not isinstance(m, int | float) or isinstance(m, bool) or m < 0 or m * p > 1:
                raise ScenarioError(
                    f"{where}.answer_drift[{i}]: multiplier must keep the probability in [0, 1]"
                )
        drift = tuple(float(m) for m in d)
    if amd and drift and max(drift) * p + amd.machine_share > 1:
        raise ScenarioError(f"{where}.answer_drift: live plus machine share exceeds 1")
    breaks = None
    if raw.get("breaks") is not None:
        b = raw["breaks"]
        bw = f"{where}.breaks"
        if not isinstance(b, dict):
            raise ScenarioError(f"{bw}: expected an object")
        breaks = Breaks(_num(b, "every_s", bw, lo=60.0), _num(b, "duration_s", bw, lo=0.0))
    reference: dict[str, float] = {}
    if raw.get("reference") is not None:
        ref = raw["reference"]
        if not isinstance(ref, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in ref.values()
        ):
            raise ScenarioError(f"{where}.reference: expected an object of numbers")
        reference = {str(k): float(v) for k, v in ref.items()}
    label = raw.get("name", name)
    if not isinstance(label, str):
        raise ScenarioError(f"{where}.name: expected a string")
    return Scenario(
        name=label,
        agents=_int(raw, "agents", where, lo=1, hi=100_000),
        days=_int(raw, "days", where, lo=1, hi=3650),
        day_hours=_num(raw, "day_hours", where, lo=0.01, hi=24.0),
        live_answer_prob=p,
        answer_delay_s=_dist(raw, "answer_delay_s", where),
        failures=tuple(failures),
        talk_s=_dist(raw, "talk_s", where),
        wrap_s=_dist(raw, "wrap_s", where),
        grace_s=_num(raw, "grace_s", where, lo=0.0, hi=60.0),
        abandon_target=_num(raw, "abandon_target", where, lo=0.0, hi=1.0),
        seed=_int(raw, "seed", where, lo=0, hi=2**63),
        amd=amd,
        answer_drift=drift,
        breaks=breaks,
        reference=reference,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario JSON file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read scenario file: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{p}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return parse_scenario(raw, name=p.stem)
