"""Putting files into the live Asterisk's folder and making Asterisk read them.

Writing: each changed file is written beside its target (``.NAME.ccpbx-new``),
fsynced, renamed over it, then the folder is fsynced; a replaced file keeps its mode
and owner. Only the files given are touched: others in the folder are left alone.

Reloading: over AMI, only the modules whose files changed (``Reload`` with the
module's name: it also takes core parts such as ``manager`` or ``acl``, which
``ModuleLoad`` does not); modules newly named in ``modules.conf`` are loaded
(``ModuleLoad``). Files Asterisk reads only at start-up are reported, not reloaded.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ccpbx.ami import AmiClient, AmiError
from ccpbx.asterisk.expect import module_name, named_modules
from ccpbx.asterisk.verify import Problem

# The module (or core part) that reads each managed file, as `module reload` names it.
RELOADS = {
    "acl.conf": "acl",
    "amd.conf": "app_amd.so",
    "cdr.conf": "cdr",
    "cel.conf": "cel",
    "confbridge.conf": "app_confbridge.so",
    "extensions.conf": "pbx_config.so",
    "features.conf": "features",
    "indications.conf": "indications",
    "logger.conf": "logger",
    "manager.conf": "manager",
    "musiconhold.conf": "res_musiconhold.so",
    "pjproject.conf": "res_pjproject.so",
    "pjsip.conf": "res_pjsip.so",
    "rtp.conf": "res_rtp_asterisk.so",
    "udptl.conf": "udptl",
    "voicemail.conf": "app_voicemail.so",
}
# Read at start-up only: a change takes effect when Asterisk restarts.
AT_RESTART = frozenset({"asterisk.conf", "ccss.conf", "stasis.conf"})


def changes(files: Mapping[str, str], target: Path) -> dict[str, str | None]:
    """The files that differ from ``target``'s, each with its text on disk (None: absent)."""
    out: dict[str, str | None] = {}
    for name, text in sorted(files.items()):
        path = target / name
        old = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
        if old != text:
            out[name] = old
    return out


def unified(name: str, old: str | None, new: str | None, target: Path) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=str(target / name) if old is not None else "/dev/null",
            tofile=str(target / name) if new is not None else "/dev/null",
        )
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(files: Mapping[str, str | None], target: Path) -> None:
    """Write each file (None: remove it) atomically into ``target``."""
    for name, text in files.items():
        path = target / name
        if text is None:
            path.unlink(missing_ok=True)
            continue
        old = path.stat() if path.exists() else None
        tmp = target / f".{name}.ccpbx-new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if old is not None:
                os.chmod(tmp, old.st_mode & 0o7777)
                if os.geteuid() == 0:
                    os.chown(tmp, old.st_uid, old.st_gid)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _fsync_dir(target)


@dataclass(frozen=True, slots=True)
class Reloaded:
    done: list[str]
    problems: list[Problem]
    at_restart: list[str]


def _loads(text: str | None) -> set[str]:
    return {m.name for m in named_modules(text or "")}


async def reload(
    ami: AmiClient,
    names: Iterable[str],
    files: Mapping[str, str | None],
    before: Mapping[str, str | None],
    timeout: float = 30.0,
) -> Reloaded:
    """Reload what reads the changed files ``names`` (``files``: their new text,
    ``before``: their old); stop at the first failure."""
    done: list[str] = []
    at_restart: list[str] = []
    steps: list[tuple[str, str, str]] = []  # (file, module, load type)
    for name in sorted(names):
        if name == "modules.conf":
            added = sorted(_loads(files.get(name)) - _loads(before.get(name)))
            steps += [(name, m, "load") for m in added]
            if _loads(before.get(name)) - _loads(files.get(name)):
                at_restart.append(f"{name} (modules no longer named stay loaded until a restart)")
        elif name in RELOADS:
            steps.append((name, RELOADS[name], "reload"))
        else:
            at_restart.append(name)
    for name, module, kind in steps:
        try:
            if kind == "reload":
                answer = await ami.action("Reload", timeout=timeout, check=False, Module=module)
            else:
                answer = await ami.action(
                    "ModuleLoad",
                    timeout=timeout,
                    check=False,
                    Module=module_name(module) + ".so",
                    LoadType="load",
                )
        except AmiError as exc:
            return Reloaded(done, [Problem(name, f"{kind} of {module} failed: {exc}")], at_restart)
        if not answer.ok:
            problem = Problem(name, f"{kind} of {module} failed: {answer.message}")
            return Reloaded(done, [problem], at_restart)
        done.append(f"{module} ({kind})")
    return Reloaded(done, [], at_restart)
