"""ccpbx doctor's decisions: what is OK, what fails, and the fix it prints (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.doctor import checks
from ccpbx.doctor.checks import NEEDED_ACTIONS, Check

ALL_LISTED = {name: frozenset({cls}) for name, (cls, _) in NEEDED_ACTIONS.items()}


def test_exit_code_fails_only_on_a_failed_check() -> None:
    """Skipped checks do not make doctor fail; one failed check does."""
    passing = [checks.ok("a", "A", "fine"), checks.skip("b", "B", "not checked")]
    assert checks.exit_code(passing) == 0
    assert checks.exit_code([*passing, checks.fail("c", "C", "bad", "fix it")]) == 1


def test_list_commands_parsed_to_action_classes() -> None:
    """ListCommands lines give each action's classes, without 'all'."""
    fields = [
        ("Response", "Success"),
        ("Originate", "Originate a call. (Priv: originate,all)"),
        ("CoreStatus", "Show PBX core status variables. (Priv: system,reporting,all)"),
        ("Ping", "Keepalive command. (Priv: <none>)"),
    ]
    parsed = checks.parse_list_commands(fields)
    assert parsed["Originate"] == {"originate"}
    assert parsed["CoreStatus"] == {"system", "reporting"}
    assert "Response" not in parsed


def test_write_classes_missing_names_class_and_manager_conf() -> None:
    """An action the user may not send fails with the class to add to write=."""
    listed = {k: v for k, v in ALL_LISTED.items() if k != "Originate"}
    result = checks.decide_write_classes("ccpbx", listed)
    assert result.status == "fail"
    assert "Originate" in result.detail
    assert "add originate to `write =` of [ccpbx]" in result.fix
    assert "manager reload" in result.fix
    assert checks.decide_write_classes("ccpbx", ALL_LISTED).status == "ok"


def test_write_classes_missing_module_action_mentions_module() -> None:
    """A missing action a module provides also points at loading that module."""
    listed = {k: v for k, v in ALL_LISTED.items() if k != "ConfbridgeList"}
    result = checks.decide_write_classes("ccpbx", listed)
    assert "app_confbridge" in result.fix


def test_read_classes_from_events_seen() -> None:
    """A read class none of whose events arrived fails with the class to add to read=."""
    seen = {"FullyBooted", "Newchannel", "Newexten", "DTMFEnd"}
    result = checks.decide_read_classes("ccpbx", seen, probe_ran=True)
    assert result.status == "fail"
    assert result.detail == "ccpbx gets no user events"
    assert "add user to `read =`" in result.fix
    assert checks.decide_read_classes("ccpbx", seen | {"UserEvent"}, True).status == "ok"


def test_read_classes_without_probe_checks_system_only() -> None:
    """Without the probe call only the system class is judged; the rest are not checked."""
    assert checks.decide_read_classes("u", {"FullyBooted"}, probe_ran=False).status == "skip"
    assert checks.decide_read_classes("u", set(), probe_ran=False).status == "fail"


def test_login_refused_and_unreachable_get_different_fixes() -> None:
    """A refused login points at the secret; no answer points at host/port."""
    refused = checks.decide_login("ccpbx", "h:5038", "refused AMI login", True, None)
    down = checks.decide_login("ccpbx", "h:5038", "Connection refused", False, None)
    assert "secret" in refused.fix
    assert "host/port" in down.fix
    assert checks.decide_login("ccpbx", "h:5038", None, False, "11.0.0").status == "ok"


def test_required_modules_from_the_shipped_template() -> None:
    """Every `load = X.so` of modules.conf.j2 is required, in order, once."""
    text = (Path(__file__).parents[1] / "asterisk-conf" / "modules.conf.j2").read_text()
    modules = checks.required_modules(text)
    assert modules[0] == "res_timing_timerfd"
    assert {"res_agi", "chan_pjsip", "app_confbridge", "pbx_config"} <= set(modules)
    assert len(modules) == len(set(modules)) == text.count("\nload = ")
    assert checks.required_modules("autoload = no\n; load = x.so\nload => app_dial.so ; c\n") == [
        "app_dial"
    ]


def test_modules_missing_named() -> None:
    """Modules that are not loaded are named, with how to load them."""
    result = checks.decide_modules({"app_dial": None, "app_amd": "Module not loaded"})
    assert result.status == "fail"
    assert "app_amd" in result.detail
    assert "app_dial" not in result.detail
    assert "module load" in result.fix


def test_agi_failure_explains_where_asterisk_sends_calls() -> None:
    """AGISTATUS=FAILURE fails, naming the dialplan's address and the config keys."""
    result = checks.decide_agi("agi://10.0.0.5:4573", "FAILURE", False, False)
    assert result.status == "fail"
    assert "agi://10.0.0.5:4573" in result.detail
    assert "[agi] host/port" in result.fix
    assert checks.decide_agi("agi://h:1", "SUCCESS", False, True).status == "ok"
    assert checks.decide_agi("agi://h:1", None, True, False).status == "ok"
    assert checks.decide_agi("agi://h:1", None, False, True).status == "skip"


def test_sounds_wanted_expands_every_language() -> None:
    """A '*' prompt is wanted in each language used; a flow's prompt in its own only."""
    wanted = checks.sounds_wanted(["en", "fr"], [("*", "beep", "core"), ("fr", "x/y", "flow")])
    assert wanted == {("en", "beep"): "core", ("fr", "beep"): "core", ("fr", "x/y"): "flow"}


def test_sounds_missing_language_gets_the_package_fix() -> None:
    """A language with no file at all points at its sound package; others at the path."""
    wanted = checks.sounds_wanted(["en", "fr"], [("*", "beep", "core"), ("*", "vm-goodbye", "c")])
    found = {("en", "beep"): True, ("en", "vm-goodbye"): False, ("fr", "beep"): False}
    result = checks.decide_sounds(wanted, found, "/usr/share/asterisk/sounds")
    assert result.status == "fail"
    assert "fr: 2 missing" in result.detail
    assert "en: 1 missing (vm-goodbye)" in result.detail
    assert "no file at all for fr" in result.fix
    assert "asterisk-core-sounds-<lang>-wav" in result.fix
    assert "[dialer]" not in result.fix
    dialer = checks.sounds_wanted(["en"], [("*", "ccpbx/abandon", "dialer.abandon_prompt")])
    assert "[dialer] abandon_prompt" in checks.decide_sounds(dialer, {}, None).fix
    all_found = dict.fromkeys(wanted, True)
    assert checks.decide_sounds(wanted, all_found, None).status == "ok"
    assert checks.decide_sounds(wanted, None, None).status == "skip"


KNOWN = [(1, "foundation", "c1"), (2, "contacts", "c2")]


def test_database_states() -> None:
    """Unreachable, not migrated, behind, edited, ahead and current are told apart."""
    url = "postgresql://db/ccpbx"

    def decide(error: str | None, applied: dict[int, str] | None) -> Check:
        return checks.decide_database(url, error, applied, KNOWN)

    assert "migrate --create-database" in decide("cannot reach", None).fix
    empty = decide(None, None)
    assert empty.status == "fail"
    assert "not migrated" in empty.detail
    assert "ccpbx migrate" in empty.fix
    behind = decide(None, {1: "c1"})
    assert "0002_contacts" in behind.detail
    assert "edited" in decide(None, {1: "other", 2: "c2"}).fix
    assert "newer" in decide(None, {1: "c1", 2: "c2", 3: "c3"}).fix
    current = decide(None, {1: "c1", 2: "c2"})
    assert current.status == "ok"
    assert "0002_contacts" in current.detail


def test_clock_offset_takes_the_least_delayed_event() -> None:
    """The offset is the largest (Asterisk - local) difference: the smallest delay."""
    assert checks.clock_offset([(100.0, 100.2), (200.0, 200.05)]) == pytest.approx(-0.05)
    assert checks.clock_offset([]) is None


def test_clock_within_and_beyond_tolerance() -> None:
    """Up to 2 s is OK; beyond fails with NTP advice; no timestamps is not checked."""
    assert checks.decide_clock(1.9).status == "ok"
    late = checks.decide_clock(-2.5)
    assert late.status == "fail"
    assert "-2.5 s" in late.detail
    assert "NTP" in late.fix
    skipped = checks.decide_clock(None)
    assert skipped.status == "skip"
    assert "timestampevents" in skipped.detail


def test_config_drift_seam() -> None:
    """Nothing applied: not checked; an edited or missing file fails with conf diff."""
    assert checks.decide_config_drift(None, {}, "").detail == (
        "not checked: no configuration applied by ccpbx yet"
    )
    expected = {"extensions.conf": "a", "pjsip.conf": "b"}
    same = checks.decide_config_drift(expected, dict(expected), "/etc/asterisk")
    assert same.status == "ok"
    drift = checks.decide_config_drift(
        expected, {"extensions.conf": "a", "pjsip.conf": None}, "/etc/asterisk"
    )
    assert drift.status == "fail"
    assert "pjsip.conf missing" in drift.detail
    assert "ccpbx conf diff" in drift.fix


async def test_config_drift_reads_the_applied_files(tmp_path: Path) -> None:
    """The last applied version's files (as conf apply stores them) are compared with the
    folder; nothing applied yet is not checked; an unreadable store is not checked."""
    from ccpbx.config import Config
    from ccpbx.doctor.service import config_drift, nothing_applied
    from ccpbx.errors import Unavailable

    (tmp_path / "extensions.conf").write_text("[ccpbx-inbound]\n")
    files = {"extensions.conf": "[ccpbx-inbound]\n"}

    async def applied(_config: Config) -> tuple[dict[str, str], Path]:
        return files, tmp_path

    async def unreadable(_config: Config) -> None:
        raise Unavailable("the database is not reachable")

    assert (await config_drift(Config(), applied)).status == "ok"
    (tmp_path / "extensions.conf").write_text("[edited-by-hand]\n")
    result = await config_drift(Config(), applied)
    assert result.status == "fail"
    assert "extensions.conf" in result.detail
    assert (await config_drift(Config(), nothing_applied)).status == "skip"
    assert (await config_drift(Config(), unreadable)).status == "skip"


def test_probe_context_missing_or_not_visible() -> None:
    """A missing [ccpbx-doctor] context says to load the dialplan; a refused ShowDialPlan
    points at the write classes instead."""
    assert checks.decide_probe_context(None) is None
    missing = checks.decide_probe_context("Did not find context ccpbx-doctor")
    assert missing is not None
    assert "dialplan reload" in missing.fix
    denied = checks.decide_probe_context("Permission denied")
    assert denied is not None
    assert "reporting" in denied.fix
