"""Flow validation: a catalogue of broken flows, each refused with the right message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccpbx.ivr.validate import check_text

from .flows import base, text

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def _add_node(name: str, node: dict[str, Any]) -> Mutation:
    return _set(f"nodes.{name}", node)


def _both(*mutations: Mutation) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return apply


CATALOGUE: list[tuple[str, Mutation, str]] = [
    ("unknown_kind", _set("nodes.bye.kind", "hangpu"), "node bye: unknown kind 'hangpu'"),
    ("unknown_key", _set("nodes.main.timeout", 3), "node main: unknown key 'timeout'"),
    ("missing_key", _delete("nodes.closed.next"), "node closed: missing key 'next'"),
    (
        "wrong_type",
        _set("nodes.main.retries", "two"),
        "node main: 'retries' must be a whole number",
    ),
    (
        "unknown_target",
        _set("nodes.main.choices.1", "acount"),
        "node main: choice 1 goes to unknown node 'acount'",
    ),
    ("unknown_start", _set("start", "begin"), "flow: start node 'begin' does not exist"),
    (
        "unreachable",
        _add_node("orphan", {"kind": "hangup"}),
        "node orphan: unreachable from the start node",
    ),
    (
        "idle_loop",
        _both(
            _set("nodes.closed.next", "again_closed"),
            _add_node("again_closed", {"kind": "play", "prompts": ["closed"], "next": "closed"}),
        ),
        "node again_closed: loop again_closed -> closed -> again_closed never waits for input",
    ),
    (
        "self_loop",
        _set("nodes.dutch.next", "dutch"),
        "node dutch: loop dutch -> dutch never waits for input",
    ),
    (
        "menu_without_way_out",
        _both(
            _set("nodes.main.choices", {"1": "main", "2": "dutch"}),
            _set("nodes.main.fallback", "main"),
        ),
        "node main: menu has no way out: no path leads to an end of the call",
    ),
    ("menu_without_fallback", _delete("nodes.main.fallback"), "node main: missing key 'fallback'"),
    ("menu_without_choices", _set("nodes.main.choices", {}), "node main: menu has no choices"),
    (
        "bad_choice_key",
        _set("nodes.main.choices", {"12": "account", "2": "dutch"}),
        "node main: choice '12' is not one DTMF key",
    ),
    (
        "prompt_missing_language",
        _delete("prompts.menu.text.nl"),
        "node main: prompt 'menu' is missing for 'nl'",
    ),
    (
        "sound_without_recorded_set",
        _set("nodes.closed.prompts", ["sound:beep"]),
        "node closed: prompt 'sound:beep' is missing for 'nl' (the recording 'beep' has no 'nl'",
    ),
    (
        "unknown_prompt",
        _set("nodes.main.invalid_prompt", "agian"),
        "node main: unknown prompt 'agian'",
    ),
    (
        "bad_pattern",
        _set("nodes.account.pattern", "[0-9{6}"),
        "node account: pattern '[0-9{6}' does not compile",
    ),
    (
        "bad_condition_pattern",
        _set("nodes.vip_check.rules", [{"var": "account", "matches": "(", "goto": "gold"}]),
        "node vip_check rule 1: pattern '(' does not compile",
    ),
    (
        "unknown_calendar",
        _set("nodes.hours.rules", [{"open": "ofice", "goto": "main"}]),
        "node hours rule 1: unknown calendar 'ofice'",
    ),
    (
        "bad_time_zone",
        _set("calendars.office.time_zone", "Europe/Amsterdamm"),
        "calendar office: unknown time zone 'Europe/Amsterdamm'",
    ),
    (
        "bad_hours",
        _set("calendars.office.weekly.mon", ["17:00-09:00"]),
        "calendar office: mon: bad hours '17:00-09:00'",
    ),
    (
        "bad_holiday",
        _set("calendars.office.holidays", ["25-12-2026"]),
        "calendar office: bad holiday '25-12-2026'",
    ),
    (
        "unknown_language",
        _set("nodes.dutch.language", "de"),
        "node dutch: language 'de' is not one of the flow's languages",
    ),
    (
        "number_not_allowed",
        _set("nodes.operator.number", "+31201234567"),
        "node operator: number '+31201234567' is not allowed by route 'operators'",
    ),
    ("unknown_route", _set("nodes.operator.route", "pstn"), "node operator: unknown route 'pstn'"),
    (
        "bad_queue_target",
        _set("nodes.queue.target", "park"),
        "node queue: target must be CONTEXT,EXTEN,PRIORITY",
    ),
    (
        "min_over_max",
        _set("nodes.account.min_digits", 8),
        "node account: min_digits 8 must be between 0 and max_digits",
    ),
    ("bad_timeout", _set("nodes.main.timeout_ms", 100), "node main: timeout_ms 100 is outside"),
    (
        "default_language",
        _set("default_language", "fr"),
        "flow: default language 'fr' is not in 'languages'",
    ),
    (
        "bad_rule",
        _set("nodes.hours.rules", [{"open": "office", "closed": "office", "goto": "main"}]),
        "node hours rule 1: a calendar test takes only one of open/closed/holiday",
    ),
]


def test_base_flow_is_valid() -> None:
    """The catalogue's starting point passes, so each case fails for its own mistake."""
    result = check_text(text(base()))
    assert result.ok, [str(p) for p in result.problems]


@pytest.mark.parametrize(("case", "mutate", "message"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_broken_flow_is_refused_with_its_message(case: str, mutate: Mutation, message: str) -> None:
    """Each broken flow is refused, and the problem names the node and the mistake."""
    data = base()
    mutate(data)
    result = check_text(text(data))
    assert not result.ok
    problems = [str(p) for p in result.problems]
    assert any(p.startswith(message) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes come back together, not one per try."""
    data = base()
    data["nodes"]["main"]["choices"]["1"] = "nowhere"
    data["nodes"]["account"]["pattern"] = "("
    del data["prompts"]["closed"]["text"]["nl"]
    problems = [str(p) for p in check_text(text(data)).problems]
    assert len(problems) >= 3, problems


def test_yaml_syntax_error_names_the_line() -> None:
    """A YAML syntax error is a problem with its line, not a crash."""
    result = check_text("flow: x\nnodes:\n  a: [unclosed\n")
    assert not result.ok
    assert "not valid YAML at line" in str(result.problems[0])


def test_shipped_example_flows_are_valid() -> None:
    """The flows shipped in asterisk-conf/ivr/ pass their own checks."""
    folder = Path(__file__).resolve().parents[2] / "asterisk-conf" / "ivr"
    files = sorted(folder.glob("*.yaml"))
    assert files
    for path in files:
        result = check_text(path.read_text())
        assert result.ok, (path.name, [str(p) for p in result.problems])


def test_missing_sound_files_are_named(tmp_path: Path) -> None:
    """With a sounds folder, every file a flow would play is looked for, through the
    language folder's symbolic links as a chroot would follow them."""
    from ccpbx.ivr.prompts import generated_name, in_root, missing_files

    root = tmp_path / "root"
    sounds = root / "usr/share/asterisk/sounds"
    (root / "opt/allison").mkdir(parents=True)
    sounds.mkdir(parents=True)
    (sounds / "en").symlink_to("/opt/allison")  # absolute: only right inside the root
    for name in ("hello-world", "please-try-again"):
        (root / "opt/allison" / f"{name}.wav").write_bytes(b"RIFF")
    result = check_text(text(base()))
    assert result.flow is not None
    problems = [
        str(p) for p in missing_files(result.flow, "/usr/share/asterisk/sounds", in_root(root))
    ]
    menu_en = generated_name("Press 1 or 2", "en")
    assert (
        f"prompt menu: en: /usr/share/asterisk/sounds/en/{menu_en} not found"
        " (run ccpbx prompts build)" in problems
    )
    assert not any("hello-world" in p or "please-try-again" in p for p in problems), problems
    assert len(problems) == 6  # menu, again, closed, hello: en texts and nl texts not built
