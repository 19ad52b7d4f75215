"""``conf apply`` and ``conf rollback``: prove, write, reload, verify, or put back.

One path for both: the files are proved in a throwaway Asterisk (:mod:`throwaway`),
the changed ones written into the live folder (:mod:`deploy`), the modules that read
them reloaded over AMI, and the live Asterisk verified (:mod:`verify`). If a reload
or the verification fails, the previous files are written back and reloaded, and the
live Asterisk is checked to show again what it showed before. Every attempt is stored
as a version (:mod:`versions`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog

from ccpbx import console
from ccpbx.ami import AmiClient, AmiSettings
from ccpbx.asterisk import deploy, versions
from ccpbx.asterisk.expect import Expectations, expectations
from ccpbx.asterisk.throwaway import CheckReport, prove
from ccpbx.asterisk.verify import Problem, endpoints, verify
from ccpbx.config import Config
from ccpbx.rootfs import Runtime
from ccpbx.store.db import Executor, connection

log = structlog.get_logger(__name__)

SETTLE_S = 3.0
"""How long the live verification may retry after a reload (a reload is not instant)."""


@dataclass(frozen=True, slots=True)
class Target:
    """The live Asterisk: its config folder as ccpbx reaches it, how to run its binary
    for the throwaway check, and its AMI."""

    conf_dir: Path
    runtime: Runtime
    ami: AmiSettings

    @classmethod
    def from_config(cls, config: Config) -> Target:
        a = config.asterisk
        runtime = Runtime(Path(a.root) if a.root else None)
        ami = config.ami.session(boot_timeout=5.0, name="conf-apply")
        return cls(runtime.host_path(a.conf_dir), runtime, ami)


@dataclass(slots=True)
class Outcome:
    result: str  # a versions.RESULTS value, or "unchanged" (nothing to do, nothing stored)
    version: int | None = None
    changed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    at_restart: list[str] = field(default_factory=list)
    detail: str = ""
    check_s: float = 0.0
    apply_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "unchanged") and not self.problems


async def applied_config(config: Config) -> tuple[dict[str, str], Path] | None:
    """For ``ccpbx doctor``: the files of the last applied version and the folder they
    were written to (as ccpbx reaches it, under ``[asterisk] root``); None while nothing
    was applied."""
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        files = await versions.last_applied(conn)
    finally:
        await conn.close()
    return None if files is None else (files, Target.from_config(config).conf_dir)


async def check(files: Mapping[str, str], expect: Expectations, target: Target) -> CheckReport:
    return await prove(
        files,
        expect,
        runtime=target.runtime,
        ami_username=target.ami.username,
        ami_secret=target.ami.secret,
    )


async def _verify_live(ami: AmiClient, expect: Expectations) -> list[Problem]:
    deadline = time.monotonic() + SETTLE_S
    while True:
        problems = await verify(ami, expect)
        if not problems or time.monotonic() >= deadline:
            return problems
        await asyncio.sleep(0.2)


def _lines(problems: list[Problem]) -> str:
    return "; ".join(str(p) for p in problems)


async def apply(
    db: Executor,
    files: Mapping[str, str],
    expect: Expectations,
    target: Target,
    *,
    by: str,
    message: str = "",
    rollback_of: int | None = None,
) -> Outcome:
    """Deploy ``files`` (name -> text) onto the live Asterisk; see the module docstring.
    One at a time: a second apply meanwhile gets Conflict."""
    async with connection(db) as conn, versions.exclusive(conn):
        return await _apply(conn, files, expect, target, by, message, rollback_of)


async def _apply(
    db: asyncpg.Connection,
    files: Mapping[str, str],
    expect: Expectations,
    target: Target,
    by: str,
    message: str,
    rollback_of: int | None,
) -> Outcome:
    report = await check(files, expect, target)
    if not report.ok:
        version = await versions.record(
            db,
            versions.Attempt(
                files,
                expect,
                "check_failed",
                by,
                message,
                detail=_lines(report.problems),
                rollback_of=rollback_of,
                check_s=report.seconds,
            ),
        )
        return Outcome("check_failed", version, problems=report.problems, check_s=report.seconds)
    started = time.monotonic()
    previous = deploy.changes(files, target.conf_dir)
    changed = sorted(previous)
    diff = "".join(deploy.unified(n, previous[n], files[n], target.conf_dir) for n in changed)
    async with AmiClient(target.ami) as ami:
        await ami.wait_ready(target.ami.connect_timeout)
        if not changed:
            problems = await verify(ami, expect)
            if problems or await versions.last_applied(db) == dict(files):
                return Outcome("unchanged", problems=problems, check_s=report.seconds)
        live_before = await endpoints(ami, target.ami.action_timeout)
        try:
            # In a thread: each file is fsynced, and the daemon's loop serves calls meanwhile.
            await asyncio.to_thread(deploy.write, {n: files[n] for n in changed}, target.conf_dir)
        except OSError as exc:  # a file may be written already: put back like a failed reload
            failed = Problem("", f"writing into {target.conf_dir} failed: {exc}")
            reloaded = deploy.Reloaded([], [failed], [])
        else:
            reloaded = await deploy.reload(ami, changed, files, previous)
        problems = reloaded.problems or await _verify_live(ami, expect)
        result, detail = "applied", ""
        if problems:
            result, detail = await _put_back(ami, files, previous, live_before, target)
            detail = f"{_lines(problems)}; {detail}"
    seconds = time.monotonic() - started
    version = await versions.record(
        db,
        versions.Attempt(
            files,
            expect,
            result,
            by,
            message,
            changed=changed,
            previous=previous,
            diff=diff,
            detail=detail,
            rollback_of=rollback_of,
            check_s=report.seconds,
            apply_s=seconds,
        ),
    )
    log.info("conf_applied", version=version, result=result, changed=changed, seconds=seconds)
    return Outcome(
        result,
        version,
        changed,
        problems,
        reloaded.done,
        reloaded.at_restart,
        detail,
        report.seconds,
        seconds,
    )


async def _put_back(
    ami: AmiClient,
    files: Mapping[str, str],
    previous: Mapping[str, str | None],
    live_before: set[str],
    target: Target,
) -> tuple[str, str]:
    """Write back the previous files of those that were replaced, reload them, and check
    that the live Asterisk shows what it showed before: ("rolled_back" | "failed", what
    happened)."""
    written = deploy.changes(dict(files), target.conf_dir).keys()
    restore = {n: t for n, t in previous.items() if n not in written}
    try:
        await asyncio.to_thread(deploy.write, restore, target.conf_dir)
    except OSError as exc:
        log.error("conf_put_back_failed", error=str(exc))
        return "failed", f"putting the previous files back failed: {exc}"
    back = await deploy.reload(ami, list(restore), restore, files)
    old = {**files, **{n: t for n, t in previous.items() if t is not None}}
    after = back.problems or await _verify_live(ami, expectations(old, live_before))
    if after:
        return "rolled_back", f"previous files put back, but: {_lines(after)}"
    return "rolled_back", "previous files put back and reloaded; the live Asterisk shows them"
