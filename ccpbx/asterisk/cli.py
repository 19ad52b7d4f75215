"""``ccpbx conf render|diff|check|apply|history|rollback``: the target Asterisk's
configuration from ccpbx's data, deployed as versions.

``render`` builds the template values from the TOML configuration and the database
(phones, trunks, numbers, queues, IVR entry points), renders every
``asterisk-conf/*.j2`` and writes the result into a staging folder; ``diff`` does the
same, then shows how the staged files differ from the target's config folder;
``check`` proves them in a throwaway Asterisk; ``apply`` and ``rollback`` deploy them
(:mod:`ccpbx.asterisk.apply`); ``history`` lists the versions. The work is done by
:mod:`ccpbx.asterisk.service`, which the admin HTTP API calls too.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from pathlib import Path

from ccpbx import console
from ccpbx.asterisk import apply, service, versions
from ccpbx.asterisk.verify import Problem
from ccpbx.config import Config, load


async def _render(args: argparse.Namespace) -> tuple[Config, service.Rendered]:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        rendered = await service.render(
            conn,
            config,
            templates=Path(args.templates) if args.templates else None,
            out=Path(args.out) if args.out else None,
        )
    finally:
        await conn.close()
    for warning in rendered.warnings:
        console.say(f"ccpbx: warning: {warning}")
    console.say(rendered.summary())
    return config, rendered


async def cmd_render(args: argparse.Namespace) -> int:
    _, rendered = await _render(args)
    for name in sorted(rendered.files):
        print(rendered.staging / name)
    return console.EXIT_OK


async def cmd_diff(args: argparse.Namespace) -> int:
    config, rendered = await _render(args)
    target = Path(args.target) if args.target else service.target(config).conf_dir
    diffs = await service.diff(rendered, target)
    for d in diffs:
        if d.diff:
            print(d.diff, end="" if d.diff.endswith("\n") else "\n")
    changed = [d.name for d in diffs if d.state != "same"]
    console.say(
        f"{len(changed)} of {len(diffs)} managed files differ from {target}"
        + (f": {', '.join(changed)}" if changed else "")
    )
    return console.EXIT_OK


def _problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


async def cmd_check(args: argparse.Namespace) -> int:
    config, rendered = await _render(args)
    report = await service.check(rendered, config)
    expect = rendered.expect
    if report.ok:
        console.say(
            f"check passed in {report.seconds:.2f} s: a throwaway Asterisk loaded the files,"
            f" {len(expect.modules)} modules, {len(expect.contexts)} contexts,"
            f" {len(expect.endpoints)} endpoints and {len(expect.registrations)}"
            " registration(s) are there"
        )
        return console.EXIT_OK
    console.say(f"check failed ({report.seconds:.2f} s), {len(report.problems)} problem(s):")
    _problems(report.problems)
    return console.EXIT_FAILURE


def _report(outcome: apply.Outcome, what: str) -> int:
    version = f"version {outcome.version}" if outcome.version else "no new version"
    timing = f"check {outcome.check_s:.2f} s, apply {outcome.apply_s:.2f} s"
    if outcome.result == "unchanged":
        if outcome.problems:
            console.say(
                "the files on disk already equal these, but the live Asterisk does not show"
                " them (reload or restart it):"
            )
            _problems(outcome.problems)
            return console.EXIT_FAILURE
        console.say(f"nothing to {what}: the live Asterisk already runs these files")
        return console.EXIT_OK
    if outcome.result == "applied":
        console.say(
            f"{what} done, {version}: {len(outcome.changed)} file(s) changed"
            f" ({', '.join(outcome.changed)}); reloaded {', '.join(outcome.reloaded) or 'nothing'}"
            f"; {timing}"
        )
        if outcome.at_restart:
            later = ", ".join(outcome.at_restart)
            console.say(f"takes effect at the next Asterisk restart: {later}")
        return console.EXIT_OK
    if outcome.result == "check_failed":
        console.say(f"not applied ({version}, check_failed): conf check found problems:")
        _problems(outcome.problems)
        return console.EXIT_FAILURE
    console.say(f"{what} failed, {version} ({outcome.result}): {outcome.detail}")
    return console.EXIT_FAILURE


async def cmd_apply(args: argparse.Namespace) -> int:
    config, rendered = await _render(args)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        outcome = await service.deploy(conn, rendered, config, by=args.by, message=args.message)
    finally:
        await conn.close()
    return _report(outcome, "apply")


async def cmd_rollback(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        outcome = await service.rollback(
            conn, config, args.version, by=args.by, message=args.message
        )
    finally:
        await conn.close()
    return _report(outcome, f"rollback to version {args.version}")


async def cmd_history(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        rows = await versions.history(conn, args.limit)
        current = next((r.version for r in rows if r.result == "applied"), None)
    finally:
        await conn.close()
    if args.json:
        console.print_json([dataclasses.asdict(r) for r in rows])
        return console.EXIT_OK
    if not rows:
        console.say("no version yet; deploy one with: ccpbx conf apply")
    for r in rows:
        mark = "*" if r.version == current else " "
        back = f" (rollback to {r.rollback_of})" if r.rollback_of else ""
        print(
            f"{mark} v{r.version}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.result}{back}"
            f"\t{r.created_by}\t{','.join(r.changed) or '-'}\t{r.message}"
        )
    return console.EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        metavar="DIR",
        help="the staging folder (default: [asterisk] staging_dir of the config)",
    )
    p.add_argument(
        "--templates",
        metavar="DIR",
        help="the templates folder (default: asterisk-conf/ beside ccpbx)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    conf = sub.add_parser(
        "conf",
        help="the target Asterisk's configuration: render, diff, check, apply, history, rollback",
        description="Render asterisk-conf/*.j2 with ccpbx's configuration and data.",
    )
    csub = conf.add_subparsers(dest="conf_command", required=True, metavar="ACTION")
    render = csub.add_parser(
        "render",
        help="render every template into the staging folder",
        description="Render every template with the TOML configuration and the database"
        " (phones, trunks, numbers, queues) into a staging folder; each file starts with a"
        " line saying ccpbx manages it. Prints the paths written.",
    )
    _common(render)
    render.set_defaults(func=cmd_render)
    diff = csub.add_parser(
        "diff",
        help="render, then show a unified diff against the target's config folder",
        description="Render into the staging folder, then print a unified diff of each"
        " managed file against the same file in the target Asterisk's folder ([asterisk]"
        " conf_dir). Files ccpbx does not render are not compared.",
    )
    _common(diff)
    diff.add_argument(
        "--target", metavar="DIR", help="the folder to compare with (default: [asterisk] conf_dir)"
    )
    diff.set_defaults(func=cmd_diff)
    who = getpass.getuser()
    check = csub.add_parser(
        "check",
        help="render, then prove the files in a throwaway Asterisk",
        description="Render, then start the files in a throwaway Asterisk of their own"
        " (own folders, free loopback ports, trunk registrations sent nowhere) and check"
        " that it loads, every module modules.conf names is loaded, every context ccpbx"
        " sends calls to exists and `pjsip show endpoints` lists exactly ccpbx's phones and"
        " trunks. Problems name the file and line. Nothing live is touched.",
    )
    _common(check)
    check.set_defaults(func=cmd_check)
    app = csub.add_parser(
        "apply",
        help="check, write into the target folder, reload what changed, verify",
        description="Check, then write the changed managed files into [asterisk] conf_dir"
        " (atomically; other files are left alone), reload over AMI only the modules that"
        " read them, and verify the live Asterisk. If a reload or the verification fails,"
        " the previous files are put back and reloaded, and the command exits 1. Every"
        " attempt is stored as a version (ccpbx conf history).",
    )
    _common(app)
    app.add_argument("--message", "-m", default="", help="why (stored with the version)")
    app.add_argument("--by", default=who, help="who applies (recorded)")
    app.set_defaults(func=cmd_apply)
    history = csub.add_parser("history", help="applied versions and attempts, newest first")
    history.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=cmd_history)
    rollback = csub.add_parser(
        "rollback",
        help="re-apply the files of an earlier applied version",
        description="Re-apply the stored files of VERSION through the same path as apply"
        " (checked, written, reloaded, verified); recorded as a new version.",
    )
    rollback.add_argument("version", type=int, help="the version to go back to")
    rollback.add_argument("--message", "-m", default="", help="why (stored with the version)")
    rollback.add_argument("--by", default=who, help="who rolls back (recorded)")
    rollback.set_defaults(func=cmd_rollback)
