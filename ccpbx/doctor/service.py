"""``ccpbx doctor``: gather the facts, judge them, print each check with its fix."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import asyncpg

from ccpbx import console
from ccpbx.asterisk.apply import applied_config
from ccpbx.asterisk.render import default_conf_dir
from ccpbx.config import Config, load
from ccpbx.doctor import checks
from ccpbx.doctor.checks import Check
from ccpbx.doctor.gather import (
    active_flow_sources,
    gather_ami,
    gather_database,
    read_files,
    wanted_from_flows,
)
from ccpbx.errors import CcpbxError
from ccpbx.pbx.outside import BUSY_PROMPT

# The files of the last version ``ccpbx conf apply`` wrote (name -> text) and the folder
# they were written to, or None while nothing was applied.
AppliedConfig = Callable[[Config], "Awaitable[tuple[Mapping[str, str], Path] | None]"]


async def nothing_applied(config: Config) -> tuple[Mapping[str, str], Path] | None:
    return None


async def config_drift(config: Config, applied: AppliedConfig = applied_config) -> Check:
    try:
        last = await applied(config)
    except (CcpbxError, OSError, asyncpg.PostgresError) as exc:  # the database check says why
        why = f"not checked: the applied versions could not be read ({exc})"
        return checks.skip("config", "configuration on disk", why)
    if last is None:
        return checks.decide_config_drift(None, {}, "")
    files, folder = last
    return checks.decide_config_drift(files, read_files(folder, files), str(folder))


def _prompts(config: Config) -> list[tuple[str, str, str]]:
    """Sounds ccpbx itself plays, in every language used: the queue's and the phones'
    recordings (``CORE_SOUNDS``) and the dialer's messages."""
    out = [("*", sound, why) for sound, why in checks.CORE_SOUNDS.items()]
    out += [
        ("*", config.dialing.denied_prompt, "dialing.denied_prompt"),
        ("*", BUSY_PROMPT, "phones' outside calls over a call limit"),
    ]
    if config.dialer.enabled:
        out += [
            ("*", config.dialer.abandon_prompt, "dialer.abandon_prompt"),
            ("*", config.dialer.machine_prompt, "dialer.machine_prompt"),
        ]
    return out


async def run(
    config: Config,
    *,
    conf_dir: Path | None = None,
    applied: AppliedConfig = applied_config,
    probe_timeout: float = 8.0,
) -> list[Check]:
    """Every check, in report order."""
    templates = conf_dir or default_conf_dir()
    modules = checks.required_modules((templates / "modules.conf.j2").read_text(encoding="utf-8"))
    languages, flow_prompts = wanted_from_flows(await active_flow_sources(config))
    wanted = checks.sounds_wanted({"en", *sorted(languages)}, [*_prompts(config), *flow_prompts])
    ami, db = await asyncio.gather(
        gather_ami(config, modules, list(wanted), probe_timeout), gather_database(config)
    )
    user = config.ami.username
    out = [checks.decide_login(user, ami.address, ami.error, ami.refused, ami.version)]
    if ami.error is None:
        probe = ami.probe
        probe_ran = (
            probe is not None and probe.context_error is None and probe.originate_error is None
        )
        out.append(checks.decide_write_classes(user, ami.actions))
        out.append(checks.decide_read_classes(user, ami.events, probe_ran))
        out.append(checks.decide_modules(ami.modules))
        context = checks.decide_probe_context(probe.context_error if probe else "no probe")
        if context is not None:
            out.append(context)
        elif probe is not None and probe.originate_error is not None:
            out.append(
                checks.fail(
                    "probe",
                    "probe call",
                    f"Originate of the probe call was refused ({probe.originate_error})",
                    "see the AMI write classes check (Originate needs the originate class)",
                )
            )
        if probe is not None and probe_ran:
            out.append(
                checks.decide_agi(
                    ami.agi_url, probe.agi_status, probe.reached_us, probe.ccpbx_running
                )
            )
            out.append(checks.decide_sounds(wanted, probe.sounds, probe.sounds_dir))
        else:
            out.append(checks.skip("agi", "FastAGI from Asterisk", "not checked: no probe call"))
            out.append(checks.skip("sounds", "sounds", "not checked: no probe call"))
        out.append(checks.decide_clock(checks.clock_offset(ami.clock)))
    else:
        for name, title in (
            ("ami_write", "AMI write classes"),
            ("ami_read", "AMI read classes"),
            ("modules", "Asterisk modules"),
            ("agi", "FastAGI from Asterisk"),
            ("sounds", "sounds"),
            ("clock", "clocks"),
        ):
            out.append(checks.skip(name, title, "not checked: no AMI login"))
    out.append(checks.decide_database(db.url, db.error, db.applied, db.known))
    out.append(await config_drift(config, applied))
    return out


_MARK = {"ok": "OK", "fail": "FAIL", "skip": "SKIP"}


def print_report(results: list[Check], elapsed: float) -> None:
    for c in results:
        print(f"{_MARK[c.status]:<5} {c.title}: {c.detail}")
        if c.fix:
            print(f"      fix: {c.fix}")
    failed = sum(c.status == "fail" for c in results)
    console.say(
        f"{len(results)} checks in {elapsed:.2f} s: {failed} failed,"
        f" {sum(c.status == 'skip' for c in results)} not checked"
    )


async def cmd_doctor(args: argparse.Namespace) -> int:
    config = load(args.config)
    started = time.monotonic()
    results = await run(config, probe_timeout=args.timeout)
    elapsed = time.monotonic() - started
    if args.json:
        console.print_json(
            {
                "ok": checks.exit_code(results) == 0,
                "elapsed_s": round(elapsed, 3),
                "checks": [c.as_dict() for c in results],
            }
        )
    else:
        print_report(results, elapsed)
    return checks.exit_code(results)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``doctor`` to the main parser."""
    doctor = sub.add_parser(
        "doctor",
        help="check Asterisk, FastAGI, sounds, database and clocks; say how to fix each",
        description="Check what ccpbx needs, each as OK, FAIL (with a fix) or SKIP (not "
        "checked, with why): AMI login and the manager user's read/write classes, the "
        "modules the configuration loads, that Asterisk reaches ccpbx's FastAGI (a probe "
        "call into [ccpbx-doctor]), the sounds of every language used, the database's "
        "migrations, the clocks, and the configuration on disk. Exit 0 when nothing "
        "failed, 1 otherwise.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON document")
    doctor.add_argument(
        "--timeout",
        type=float,
        default=8.0,
        help="seconds to wait for the probe call's report (default 8)",
    )
    doctor.set_defaults(func=cmd_doctor)
