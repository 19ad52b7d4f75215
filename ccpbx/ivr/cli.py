"""``ccpbx ivr check|activate|rollback|status|history|calls`` and ``ccpbx prompts build``.

Flow files under ``asterisk-conf/ivr/`` are what admins edit; ``activate`` checks a
file and stores it as a new version in PostgreSQL, which is what calls run.
``register`` adds the commands to the main parser; each is ``async def (args) -> int``.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import asyncpg

from ccpbx import console
from ccpbx.config import load
from ccpbx.errors import InvalidInput
from ccpbx.ivr import store
from ccpbx.ivr.prompts import build, in_root, missing_files, spoken_prompts
from ccpbx.ivr.validate import CheckResult, check_text
from ccpbx.rootfs import Runtime

DEFAULT_SOUNDS_DIR = "/usr/share/asterisk/sounds"


def default_flows_dir() -> Path:
    """``asterisk-conf/ivr/`` beside the package (a source checkout or an install)."""
    return Path(__file__).resolve().parents[2] / "asterisk-conf" / "ivr"


def _files(paths: list[str]) -> list[Path]:
    if not paths:
        found = sorted(default_flows_dir().glob("*.yaml"))
        if not found:
            raise InvalidInput(f"no flow files in {default_flows_dir()}")
        return found
    files = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(path.glob("*.yaml"))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"no such file: {p}")
    return files


def _check(path: Path) -> tuple[str, CheckResult]:
    text = path.read_text(encoding="utf-8")
    return text, check_text(text)


def _report(path: Path, result: CheckResult) -> None:
    if result.ok and result.flow is not None:
        f = result.flow
        print(
            f"{path}: ok (flow {f.name}, {len(f.nodes)} nodes, languages {', '.join(f.languages)}, "
            f"DIDs {', '.join(f.dids) or 'none'})"
        )
        return
    print(f"{path}: {len(result.problems)} problem(s)", file=sys.stderr)
    for problem in result.problems:
        print(f"  {problem}", file=sys.stderr)


async def _connect(args: argparse.Namespace) -> asyncpg.Connection:
    config = load(args.config)
    return await console.connect(config.database.url, timeout=config.database.connect_timeout)


def _host_path(args: argparse.Namespace) -> Callable[[str], Path]:
    if not getattr(args, "root", None):
        return Path
    return in_root(Path(args.root))


def _with_sounds(args: argparse.Namespace, result: CheckResult) -> CheckResult:
    """Add a problem for each sound file missing from --sounds-dir (when given)."""
    if getattr(args, "sounds_dir", None) and result.ok and result.flow is not None:
        result.problems += missing_files(result.flow, args.sounds_dir, _host_path(args))
    return result


async def cmd_check(args: argparse.Namespace) -> int:
    bad = 0
    for path in _files(args.files):
        _, result = _check(path)
        result = _with_sounds(args, result)
        _report(path, result)
        bad += not result.ok
    return 1 if bad else 0


def _load(args: argparse.Namespace) -> tuple[str, str, CheckResult]:
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"no such file: {args.file}")
    text, result = _check(path)
    result = _with_sounds(args, result)
    if not result.ok:
        _report(path, result)
    return str(path.resolve()), text, result


async def cmd_activate(args: argparse.Namespace) -> int:
    where, text, result = _load(args)
    if not result.ok or result.flow is None:
        print("not activated: fix the problems above first", file=sys.stderr)
        return 1
    conn = await _connect(args)
    try:
        version = await store.activate(conn, result.flow, text, where, args.by)
    finally:
        await conn.close()
    print(
        f"flow {version.flow} version {version.version} is active "
        f"for DIDs {', '.join(version.dids) or 'none'}"
    )
    return 0


async def cmd_rollback(args: argparse.Namespace) -> int:
    conn = await _connect(args)
    try:
        version = await store.rollback(conn, args.flow, args.by)
    finally:
        await conn.close()
    print(f"flow {version.flow} rolled back to version {version.version}")
    return 0


async def cmd_status(args: argparse.Namespace) -> int:
    conn = await _connect(args)
    try:
        rows = await store.active_flows(conn)
    finally:
        await conn.close()
    if args.json:
        console.print_json([dict(r) for r in rows])
        return 0
    if not rows:
        console.say("no active flow; activate one with: ccpbx ivr activate FILE")
    for r in rows:
        print(
            f"{r['flow']}\tv{r['version']}\t{r['action']} {r['activated_at']:%Y-%m-%d %H:%M:%S}"
            f"\tDIDs {','.join(r['dids']) or '-'}\t{r['source_path']}"
        )
    return 0


async def cmd_history(args: argparse.Namespace) -> int:
    conn = await _connect(args)
    try:
        rows = await store.history(conn, args.flow)
    finally:
        await conn.close()
    if args.json:
        console.print_json([dataclasses.asdict(a) for a in rows])
        return 0
    for a in rows:
        mark = "*" if a.active else " "
        print(
            f"{mark} {a.activated_at:%Y-%m-%d %H:%M:%S}\t{a.action}\tv{a.version}\t{a.activated_by}"
        )
    return 0


async def cmd_calls(args: argparse.Namespace) -> int:
    conn = await _connect(args)
    try:
        rows = await conn.fetch(
            """SELECT c.started_at, c.uniqueid, c.did, c.caller, c.flow, v.version, c.outcome,
                      c.end_node FROM ivr_calls c JOIN ivr_flow_versions v ON v.id = c.version_id
               ORDER BY c.started_at DESC LIMIT $1""",
            args.limit,
        )
    finally:
        await conn.close()
    if args.json:
        console.print_json([dict(r) for r in rows])
        return 0
    for r in rows:
        print(
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}\t{r['uniqueid']}\t{r['did']}\t{r['caller']}"
            f"\t{r['flow']} v{r['version']}\t{r['outcome'] or 'in progress'}\t{r['end_node'] or ''}"
        )
    return 0


async def cmd_prompts_build(args: argparse.Namespace) -> int:
    needed = []
    for path in _files(args.files):
        _, result = _check(path)
        if result.flow is None:
            _report(path, result)
            return 1
        needed += spoken_prompts(result.flow)
    if args.root:
        runtime = Runtime(Path(args.root))

        def run(argv: Sequence[str]) -> None:
            subprocess.run(runtime.command(argv), check=True, capture_output=True, timeout=60)

        made, present = build(needed, args.sounds_dir, run=run, host_path=in_root(Path(args.root)))
    else:
        made, present = build(needed, args.sounds_dir)
    for name in made:
        print(f"made {name}")
    print(f"{len(made)} prompt(s) made, {len(present)} already present in {args.sounds_dir}")
    return 0


def _sound_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--sounds-dir",
        default=DEFAULT_SOUNDS_DIR if required else None,
        help="Asterisk's sounds folder"
        + (f" (default {DEFAULT_SOUNDS_DIR})" if required else "; also check every file exists"),
    )
    parser.add_argument(
        "--root",
        default=None,
        help="a root file system (e.g. the Asterisk sandbox) holding the sounds and, for "
        "build, espeak-ng and sox; --sounds-dir is then a path inside it",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ivr`` and ``prompts`` to the main parser."""
    who = getpass.getuser()
    ivr = sub.add_parser("ivr", help="IVR flows: check, activate, roll back").add_subparsers(
        dest="ivr_command", required=True
    )
    check = ivr.add_parser("check", help="validate flow files (default: asterisk-conf/ivr/)")
    check.add_argument("files", nargs="*", help="flow files or folders of *.yaml files")
    _sound_options(check, required=False)
    check.set_defaults(func=cmd_check)
    activate = ivr.add_parser(
        "activate", help="validate a flow file and make it the active version"
    )
    activate.add_argument("file", help="flow file (YAML)")
    activate.add_argument("--by", default=who, help="who activates (recorded)")
    _sound_options(activate, required=False)
    activate.set_defaults(func=cmd_activate)
    rollback = ivr.add_parser("rollback", help="make the previously active version active again")
    rollback.add_argument("flow", help="flow name")
    rollback.add_argument("--by", default=who, help="who rolls back (recorded)")
    rollback.set_defaults(func=cmd_rollback)
    status = ivr.add_parser("status", help="active flows, versions and DIDs")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_status)
    history = ivr.add_parser("history", help="activations and rollbacks of a flow")
    history.add_argument("flow", help="flow name (as in the file's `flow:` key)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=cmd_history)
    calls = ivr.add_parser("calls", help="recent IVR calls with the flow version each ran")
    calls.add_argument("--limit", type=int, default=20, help="how many, newest first (default 20)")
    calls.add_argument("--json", action="store_true", help="print JSON")
    calls.set_defaults(func=cmd_calls)

    prompts = sub.add_parser("prompts", help="IVR prompts").add_subparsers(
        dest="prompts_command", required=True
    )
    build_cmd = prompts.add_parser("build", help="generate the spoken prompts flows need")
    build_cmd.add_argument(
        "files", nargs="*", help="flow files or folders (default: asterisk-conf/ivr/)"
    )
    _sound_options(build_cmd, required=True)
    build_cmd.set_defaults(func=cmd_prompts_build)
