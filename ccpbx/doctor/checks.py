"""What ``ccpbx doctor`` decides: each check's verdict and its fix, from gathered facts.

Pure functions, no I/O: ``ccpbx.doctor.gather`` collects the facts (AMI answers,
what the probe call saw, the database's migrations) and these turn them into
``Check`` results a person can act on. A check that could not be run is ``skip``
with the reason; only ``fail`` makes ``ccpbx doctor`` exit non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: a stable name, what was checked, the verdict, the fix."""

    name: str
    title: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(name: str, title: str, detail: str) -> Check:
    return Check(name, title, "ok", detail)


def fail(name: str, title: str, detail: str, fix: str) -> Check:
    return Check(name, title, "fail", detail, fix)


def skip(name: str, title: str, detail: str) -> Check:
    return Check(name, title, "skip", detail)


def exit_code(checks: Iterable[Check]) -> int:
    """0 when nothing failed (skipped checks do not fail), else 1."""
    return 1 if any(c.status == "fail" for c in checks) else 0


# -- AMI -------------------------------------------------------------------------------

# The AMI actions ccpbx sends (services and doctor), with the write class Asterisk
# wants for each and the module that provides it (None: the core).
NEEDED_ACTIONS: Mapping[str, tuple[str, str | None]] = {
    "Originate": ("originate", None),
    "Redirect": ("call", None),
    "Setvar": ("call", None),
    "Getvar": ("call", None),
    "Hangup": ("call", None),
    "CoreStatus": ("system", None),
    "CoreShowChannels": ("system", None),
    "ModuleCheck": ("system", None),
    "ShowDialPlan": ("reporting", "pbx_config"),
    "ConfbridgeList": ("reporting", "app_confbridge"),
    "ConfbridgeListRooms": ("reporting", "app_confbridge"),
    "MixMonitor": ("call", "app_mixmonitor"),
    "MixMonitorMute": ("call", "app_mixmonitor"),
    "PJSIPShowEndpoint": ("system", "res_pjsip"),
}

# The events ccpbx listens to, by the read class Asterisk sends them under; the probe
# call makes one of each (FullyBooted comes at login).
EVENT_CLASSES: Mapping[str, tuple[str, ...]] = {
    "system": ("FullyBooted",),
    "call": ("Newchannel", "Hangup", "OriginateResponse", "DialEnd", "BridgeEnter"),
    "dialplan": ("Newexten", "VarSet"),
    "user": ("UserEvent",),
    "dtmf": ("DTMFEnd", "DTMFBegin"),
}

_PRIV = re.compile(r"\(Priv: ([^)]*)\)\s*$")


def parse_list_commands(fields: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """``ListCommands`` answer headers (``Originate: Originate a call. (Priv: originate,all)``)
    to action -> the classes it is registered with (``all`` dropped)."""
    out: dict[str, frozenset[str]] = {}
    for name, value in fields:
        match = _PRIV.search(value)
        if match is None:
            continue
        out[name] = frozenset(
            p.strip() for p in match.group(1).split(",") if p.strip() and p.strip() != "all"
        )
    return out


def _manager_fix(user: str, key: str, classes: Sequence[str]) -> str:
    return (
        f"in Asterisk's manager.conf, add {', '.join(classes)} to `{key} =` of [{user}]"
        " (ccpbx's asterisk-conf/manager.conf.j2 has the full list), then run"
        " `asterisk -rx 'manager reload'`; never grant command or config"
    )


def decide_login(
    user: str, address: str, error: str | None, refused: bool, version: str | None
) -> Check:
    """``refused``: Asterisk answered and turned the login down (else: no answer)."""
    title = "AMI login"
    if error is None:
        return ok("ami_login", title, f"{user}@{address} logged in (AMI {version or '?'})")
    if refused:
        return fail(
            "ami_login",
            title,
            f"{user}@{address}: login refused ({error})",
            "set [ami] username and secret in the ccpbx config (or CCPBX_AMI_SECRET) to the"
            f" user and secret of [{user}] in Asterisk's manager.conf; its permit= must"
            " allow this host",
        )
    return fail(
        "ami_login",
        title,
        f"cannot reach AMI at {address} ({error})",
        "start Asterisk, or set [ami] host/port in the ccpbx config to the bindaddr/port of"
        " Asterisk's manager.conf ([general] enabled = yes)",
    )


def decide_write_classes(user: str, listed: Mapping[str, frozenset[str]]) -> Check:
    """Every action ccpbx sends must be listed for the user by ``ListCommands``."""
    title = "AMI write classes"
    missing = [a for a in NEEDED_ACTIONS if a not in listed]
    if not missing:
        return ok(
            "ami_write", title, f"{user} may send all {len(NEEDED_ACTIONS)} actions ccpbx uses"
        )
    classes = sorted({NEEDED_ACTIONS[a][0] for a in missing})
    modules = sorted({m for a in missing if (m := NEEDED_ACTIONS[a][1])})
    detail = f"{user} may not send: {', '.join(missing)}"
    fix = _manager_fix(user, "write", classes)
    if modules:
        fix += f"; if the classes are there, load {', '.join(modules)} (see the modules check)"
    return fail("ami_write", title, detail, fix)


def decide_read_classes(user: str, seen: Iterable[str], probe_ran: bool) -> Check:
    """Each read class ccpbx needs must have delivered one of its events."""
    title = "AMI read classes"
    names = set(seen)
    checked = {c: evs for c, evs in EVENT_CLASSES.items() if probe_ran or c == "system"}
    missing = [c for c, evs in checked.items() if not names.intersection(evs)]
    unchecked = sorted(set(EVENT_CLASSES) - set(checked))
    if missing:
        detail = f"{user} gets no {', '.join(missing)} events"
        if unchecked:
            detail += f" (not checked: {', '.join(unchecked)}, the probe call did not run)"
        return fail("ami_read", title, detail, _manager_fix(user, "read", missing))
    if unchecked:
        return skip(
            "ami_read",
            title,
            f"system events arrive; not checked: {', '.join(unchecked)} (the probe call did not"
            " run: see the probe check)",
        )
    return ok("ami_read", title, f"{user} gets {', '.join(EVENT_CLASSES)} events")


# -- modules -----------------------------------------------------------------------------

_LOAD = re.compile(r"^\s*(?:load|require)\s*=>?\s*([A-Za-z0-9_]+)\.so\s*(?:;.*)?$")


def required_modules(modules_conf: str) -> list[str]:
    """The modules a ``modules.conf`` (template) loads, in file order, without ``.so``."""
    out: list[str] = []
    for line in modules_conf.splitlines():
        match = _LOAD.match(line)
        if match and match.group(1) not in out:
            out.append(match.group(1))
    return out


def decide_modules(results: Mapping[str, str | None]) -> Check:
    """``results``: module -> None when loaded, else Asterisk's answer."""
    title = "Asterisk modules"
    missing = [m for m, error in results.items() if error is not None]
    if not missing:
        return ok(
            "modules", title, f"all {len(results)} modules ccpbx's configuration loads are loaded"
        )
    return fail(
        "modules",
        title,
        f"{len(missing)} of {len(results)} not loaded: {', '.join(missing)}",
        "install the Debian packages that ship them (asterisk, asterisk-modules), add"
        " `load = NAME.so` for each to modules.conf (ccpbx's asterisk-conf/modules.conf.j2),"
        " then `asterisk -rx 'module load NAME.so'` or restart Asterisk; its messages log"
        " says why a module refused to load",
    )


# -- the probe call: FastAGI and sounds ----------------------------------------------------


def decide_probe_context(error: str | None) -> Check | None:
    """A failure when the dialplan lacks the probe context (None when it is there)."""
    if error is None:
        return None
    if "permission denied" in error.lower():
        return fail(
            "probe",
            "probe call",
            f"the AMI user may not look at the dialplan ({error})",
            "see the AMI write classes check (ShowDialPlan needs the reporting class)",
        )
    return fail(
        "probe",
        "probe call",
        f"the dialplan has no [ccpbx-doctor] context ({error})",
        "render and load ccpbx's asterisk-conf/extensions.conf.j2 (it ends with"
        " [ccpbx-doctor]), then `asterisk -rx 'dialplan reload'`",
    )


def decide_agi(
    agi_url: str | None, agi_status: str | None, reached_us: bool, ccpbx_running: bool
) -> Check:
    """Did the probe call's ``AGI(${CCPBX_AGI}/doctor)`` connect?

    ``agi_status`` is AGISTATUS from the probe's last event (None: no event seen),
    ``reached_us``: doctor's own FastAGI listener on the configured port took the call.
    """
    title = "FastAGI from Asterisk"
    where = agi_url or "${CCPBX_AGI} (not set in the dialplan)"
    if reached_us or (agi_status is not None and agi_status != "FAILURE"):
        who = "ccpbx" if ccpbx_running else "doctor's listener on ccpbx's port"
        return ok("agi", title, f"Asterisk reached {where} ({who} answered)")
    if agi_status is None:
        return skip(
            "agi",
            title,
            f"the probe call ended without a report (AGI {where}); see the AMI read classes check",
        )
    return fail(
        "agi",
        title,
        f"Asterisk could not connect to {where} (AGISTATUS=FAILURE)",
        "[agi] host/port in the ccpbx config must be where Asterisk's dialplan sends calls"
        " (global CCPBX_AGI in extensions.conf): an address of the ccpbx host that Asterisk"
        " reaches; check `ccpbx serve` is running and no firewall blocks that TCP port",
    )


# Stock Asterisk recordings ccpbx plays (ccpbx/acd/estimate.py, ccpbx/queues/features.py).
_QUEUE_ANNOUNCE = (
    "queue-youarenext",
    "queue-thereare",
    "queue-callswaiting",
    "queue-holdtime",
    "queue-less-than",
    "queue-minute",
    "queue-minutes",
    "queue-thankyou",
    "digits/1",
)
_FEATURE_CODES = ("agent-loginok", "agent-incorrect", "beeperr", "invalid", "beep")
_CALLBACK = ("unidentified-no-callback", "auth-thankyou", "vm-goodbye")
CORE_SOUNDS: Mapping[str, str] = {
    **dict.fromkeys(_QUEUE_ANNOUNCE, "queue announcements"),
    **dict.fromkeys(_FEATURE_CODES, "agent phone feature codes"),
    **dict.fromkeys(_CALLBACK, "queue overflow to a callback"),
}


def sounds_wanted(
    languages: Iterable[str], prompts: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str], str]:
    """(language, sound) -> why it is needed, from ``prompts`` = (language or ``*``, sound, why);
    ``*`` means every language used."""
    langs = list(dict.fromkeys(languages))
    out: dict[tuple[str, str], str] = {}
    for language, sound, why in prompts:
        for lang in langs if language == "*" else [language]:
            out.setdefault((lang, sound), why)
    return out


def decide_sounds(
    wanted: Mapping[tuple[str, str], str],
    found: Mapping[tuple[str, str], bool] | None,
    sounds_dir: str | None,
) -> Check:
    """``found``: (language, sound) -> whether Asterisk opened sounds/<language>/<sound>
    (no fallback to another language); None when the probe could not look."""
    title = "sounds"
    languages = sorted({lang for lang, _ in wanted})
    if found is None:
        return skip("sounds", title, "not checked: the probe call did not reach doctor's FastAGI")
    missing = [(key, why) for key, why in wanted.items() if not found.get(key, False)]
    if not missing:
        return ok(
            "sounds",
            title,
            f"{len(wanted)} sound(s) present for language(s) {', '.join(languages)}",
        )
    base = sounds_dir or "<astdatadir>/sounds"
    by_lang: dict[str, list[str]] = {}
    for (lang, sound), _ in missing:
        by_lang.setdefault(lang, []).append(sound)
    empty = [
        lang for lang in by_lang if not any(found.get((lang, s)) for la, s in wanted if la == lang)
    ]

    def more(items: list[str]) -> str:
        return ", ..." if len(items) > 5 else ""

    detail = "; ".join(
        f"{lang}: {len(sounds)} missing ({', '.join(sounds[:5])}{more(sounds)})"
        for lang, sounds in by_lang.items()
    )
    fixes = []
    if empty:
        fixes.append(
            f"no file at all for {', '.join(empty)}: install the Asterisk sound package for it"
            " (asterisk-core-sounds-<lang>-wav in Debian) or take the language out of the IVR"
            " flow's sound_languages so its prompts are spoken"
        )
    fixes.append(
        f"put each missing file in {base}/<language>/ (e.g. {base}/{missing[0][0][0]}/"
        f"{missing[0][0][1]}.wav, needed by {missing[0][1]})"
    )
    whys = {why for _, why in missing}
    if any(why.startswith("dialer.") for why in whys):
        fixes.append(
            "the dialer's messages are recordings you make (your company's name and a number"
            " to call back), or set [dialer] abandon_prompt / machine_prompt to ones you have"
        )
    if any(why.startswith("IVR flow") for why in whys):
        fixes.append("spoken IVR prompts are made by `ccpbx prompts build`")
    return fail("sounds", title, detail, "; ".join(fixes))


# -- database ------------------------------------------------------------------------------


def decide_database(
    url: str,
    error: str | None,
    applied: Mapping[int, str] | None,
    known: Sequence[tuple[int, str, str]],
) -> Check:
    """``applied``: version -> checksum recorded (None: no schema_migrations table);
    ``known``: (version, name, checksum) of this ccpbx's sql/ files."""
    title = "database"
    if error is not None:
        return fail(
            "database",
            title,
            error,
            "set DATABASE_URL or [database] url; `ccpbx migrate --create-database` creates it",
        )
    latest = f"{known[-1][0]:04d}_{known[-1][1]}" if known else "none"
    if not applied:
        return fail(
            "database",
            title,
            f"{url}: no ccpbx tables (not migrated)",
            "run `ccpbx migrate` (same --config) to create them",
        )
    by_version = {v: (n, c) for v, n, c in known}
    edited = [v for v, c in applied.items() if v in by_version and by_version[v][1] != c]
    newer = sorted(v for v in applied if v not in by_version)
    pending = [f"{v:04d}_{n}" for v, n, _ in known if v not in applied]
    if edited:
        return fail(
            "database",
            title,
            f"migration(s) {', '.join(f'{v:04d}' for v in edited)} differ from what was applied",
            "a migration file was edited after it ran: restore sql/ from the ccpbx release",
        )
    if newer:
        return fail(
            "database",
            title,
            f"the database has migration(s) {', '.join(f'{v:04d}' for v in newer)} this ccpbx"
            " does not know",
            "install the ccpbx version that migrated it (a newer one)",
        )
    if pending:
        return fail(
            "database",
            title,
            f"{len(pending)} migration(s) not applied: {', '.join(pending)}",
            "run `ccpbx migrate` (same --config)",
        )
    return ok("database", title, f"{url}: migrated to {latest}")


# -- clocks --------------------------------------------------------------------------------

CLOCK_TOLERANCE_S = 2.0


def clock_offset(samples: Iterable[tuple[float, float]]) -> float | None:
    """Asterisk's clock minus this host's, from (Asterisk's event ``Timestamp``, this host's
    time at receipt) pairs: each is the offset less that event's delay, so the largest
    is the closest estimate. None without samples."""
    offsets = [asterisk - local for asterisk, local in samples]
    return max(offsets) if offsets else None


def decide_clock(offset: float | None, tolerance: float = CLOCK_TOLERANCE_S) -> Check:
    title = "clocks"
    if offset is None:
        return skip(
            "clock",
            title,
            "not checked: no AMI event carried a Timestamp (the probe call makes them;"
            " manager.conf needs `timestampevents = yes` in [general])",
        )
    if abs(offset) <= tolerance:
        return ok(
            "clock", title, f"Asterisk and ccpbx agree within {tolerance:g} s ({offset:+.3f} s)"
        )
    return fail(
        "clock",
        title,
        f"Asterisk's clock is {offset:+.1f} s off this host's (more than {tolerance:g} s)",
        "run NTP on both hosts (chrony or systemd-timesyncd; `timedatectl` shows whether the"
        " clock is synchronised): call records, calling windows and waits compare both clocks",
    )


# -- configuration drift -------------------------------------------------------------------


def decide_config_drift(
    expected: Mapping[str, str] | None, on_disk: Mapping[str, str | None], folder: str
) -> Check:
    """``expected``: file name -> text of the last version ``ccpbx conf apply`` wrote
    (None: nothing applied yet); ``on_disk``: the same names -> text now (None: absent)."""
    title = "configuration on disk"
    if expected is None:
        return skip("config", title, "not checked: no configuration applied by ccpbx yet")
    changed = sorted(n for n, text in expected.items() if on_disk.get(n) != text)
    if not changed:
        return ok(
            "config", title, f"{len(expected)} file(s) in {folder} match the last applied version"
        )
    gone = [n for n in changed if on_disk.get(n) is None]
    return fail(
        "config",
        title,
        f"{len(changed)} file(s) in {folder} differ from the last applied version: "
        + ", ".join(changed)
        + (f" ({', '.join(gone)} missing)" if gone else ""),
        "someone edited them by hand: `ccpbx conf diff` shows how; put the change in the"
        " templates and `ccpbx conf apply`, or `ccpbx conf rollback` to the last version",
    )
