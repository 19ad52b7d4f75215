"""What ``ccpbx conf`` and the admin API share: render the target's configuration from
the TOML configuration and the database, compare it with the live folder, prove it,
apply it, roll back to an earlier version.

One piece of code for both doors: the CLI prints what these return, the HTTP routes
(:mod:`ccpbx.http.routes_conf`) turn it into JSON. ``apply`` and ``rollback`` go through
:func:`ccpbx.asterisk.apply.apply`, which lets one run at a time (a PostgreSQL advisory
lock): a second one meanwhile, from either door, is refused with
:class:`ccpbx.asterisk.versions.ApplyRunning`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccpbx.asterisk import apply, production, staging, versions
from ccpbx.asterisk.expect import Expectations, expectations
from ccpbx.asterisk.render import RenderedFile, render_all
from ccpbx.asterisk.sources import load_records
from ccpbx.asterisk.throwaway import CheckReport
from ccpbx.config import Config
from ccpbx.errors import InvalidInput
from ccpbx.pbx import numbers
from ccpbx.store.db import Executor

# Options whose value is a secret in the rendered files (manager.conf's AMI secret,
# a phone's digest, a trunk's password): shown as REDACTED by :func:`redact`.
_SECRET_LINE = re.compile(
    r"^([-+ ]?\s*(?:secret|password|password_digest|md5_cred)\s*=>?\s*)\S.*$", re.M
)
REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One render: the files (written into ``staging``), the records they came from,
    and what the live Asterisk must show once they are loaded."""

    files: dict[str, RenderedFile]
    staging: Path
    records: production.Records
    expect: Expectations
    warnings: list[str] = field(default_factory=list)
    """What renders but will not work as meant (e.g. a number's hours naming a
    calendar its flow no longer has)."""

    @property
    def texts(self) -> dict[str, str]:
        """Each file's text as written to disk (with the managed-by header)."""
        return {name: staging.managed_text(r) for name, r in self.files.items()}

    def counts(self) -> dict[str, int]:
        r = self.records
        return {
            "files": len(self.files),
            "phones": len(r.phones),
            "trunks": len(r.trunks),
            "numbers": len(r.numbers),
            "queues": len(r.queues),
        }

    def summary(self) -> str:
        c = self.counts()
        return (
            f"rendered {c['files']} files into {self.staging}: {c['phones']} phone(s),"
            f" {c['trunks']} trunk(s), {c['numbers']} number(s), {c['queues']} queue(s)"
        )


async def render(
    db: Executor, config: Config, *, templates: Path | None = None, out: Path | None = None
) -> Rendered:
    """Render every template with ``config`` and the records in ``db`` into ``out``
    (default: ``[asterisk] staging_dir``)."""
    records = await load_records(db)
    values = production.template_values(config, records)
    folder = out or Path(config.asterisk.staging_dir)
    # Rendering takes tens of milliseconds and the staging files are fsynced: in a
    # thread, so the daemon's loop keeps serving calls meanwhile.
    files = await asyncio.to_thread(_render_into, values, templates, folder)
    names = [p.name for p in records.phones] + [t.name for t in records.trunks]
    texts = {name: staging.managed_text(r) for name, r in files.items()}
    warnings = await numbers.hours_problems(db, list(records.numbers))
    return Rendered(files, folder, records, expectations(texts, names), warnings)


def _render_into(
    values: dict[str, Any], templates: Path | None, folder: Path
) -> dict[str, RenderedFile]:
    files = render_all(values, templates)
    staging.write_staging(files, folder)
    return files


def target(config: Config) -> apply.Target:
    return apply.Target.from_config(config)


async def diff(rendered: Rendered, folder: Path) -> list[staging.FileDiff]:
    """How each staged file differs from the same file in ``folder``."""
    return await asyncio.to_thread(staging.diff, list(rendered.files), rendered.staging, folder)


def redact(text: str) -> str:
    """``text`` (a file or a unified diff of one) with every secret option's value
    replaced: a changed secret still shows as a changed line."""
    return _SECRET_LINE.sub(lambda m: m.group(1) + REDACTED, text)


async def check(rendered: Rendered, config: Config) -> CheckReport:
    """Prove the files in a throwaway Asterisk (nothing live is touched)."""
    return await apply.check(rendered.texts, rendered.expect, target(config))


async def deploy(
    db: Executor, rendered: Rendered, config: Config, *, by: str, message: str = ""
) -> apply.Outcome:
    """``conf apply``: check, write, reload, verify (or put back); stored as a version."""
    return await apply.apply(
        db, rendered.texts, rendered.expect, target(config), by=by, message=message
    )


async def rollback(
    db: Executor, config: Config, version: int, *, by: str, message: str = ""
) -> apply.Outcome:
    """``conf rollback``: re-apply the files of an earlier applied ``version`` through
    the same path as apply; stored as a new version."""
    old = await versions.get(db, version)
    if old.result != "applied":
        raise InvalidInput(
            f"version {old.version} ended {old.result}: only an applied version can be"
            " rolled back to",
            version=old.version,
        )
    return await apply.apply(
        db,
        old.files,
        Expectations.from_dict(old.expect),
        target(config),
        by=by,
        message=message or f"rollback to version {old.version}",
        rollback_of=old.version,
    )
