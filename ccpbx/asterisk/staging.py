"""Rendered configuration on disk: the staging folder ``ccpbx conf render`` writes, and
its difference from the folder the target Asterisk reads.

Every file ccpbx writes starts with :data:`HEADER`; the diff looks only at the files
ccpbx renders, so files it does not manage are never touched nor compared.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ccpbx.asterisk.render import RenderedFile

HEADER = (
    "; Managed by ccpbx: rendered from asterisk-conf/{template}, deployed by"
    " `ccpbx conf apply`. Edit the template, not this file.\n"
)


def managed_text(rendered: RenderedFile) -> str:
    return HEADER.format(template=f"{rendered.name}.j2") + rendered.text


def is_managed(text: str) -> bool:
    return text.startswith("; Managed by ccpbx:")


def write_staging(files: Mapping[str, RenderedFile], staging: Path) -> list[Path]:
    """Write every rendered file (with the header) into ``staging``, each replaced
    atomically, readable by owner and group only (they hold the AMI and trunk secrets).
    Files of earlier renders that are no longer rendered are removed.

    Two renders at once (the API and the command line) do not trip over each other:
    each writes its own temporary files (dot-named, never removed by another), and
    each staged file is one render's whole."""
    staging.mkdir(parents=True, exist_ok=True)
    staging.chmod(0o750)
    written = []
    for rendered in files.values():
        target = staging / rendered.name
        fd, name = tempfile.mkstemp(prefix=f".{rendered.name}.", suffix=".tmp", dir=staging)
        tmp = Path(name)
        try:
            os.fchmod(fd, 0o640)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(managed_text(rendered))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(target)
    for old in staging.iterdir():
        if (
            old.is_file()
            and not old.name.startswith(".")
            and old.name not in files
            and is_managed(_head(old))
        ):
            old.unlink(missing_ok=True)
    return written


def _head(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.read(64)
    except FileNotFoundError:  # removed meanwhile by another render's clean-up
        return ""


@dataclass(frozen=True, slots=True)
class FileDiff:
    name: str
    state: str  # "same" | "changed" | "new"
    diff: str


def diff(names: list[str], staging: Path, target: Path) -> list[FileDiff]:
    """Unified diff of each staged file against the same file in ``target``."""
    out = []
    for name in sorted(names):
        new = (staging / name).read_text(encoding="utf-8")
        live_path = target / name
        old = (
            live_path.read_text(encoding="utf-8", errors="replace") if live_path.exists() else None
        )
        lines = difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=str(live_path) if old is not None else "/dev/null",
            tofile=str(staging / name),
        )
        text = "".join(lines)
        state = "new" if old is None else ("same" if old == new else "changed")
        out.append(FileDiff(name, state, text))
    return out
