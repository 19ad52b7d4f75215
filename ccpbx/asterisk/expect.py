"""What a loaded configuration must show: the modules it names, the dialplan contexts
ccpbx sends calls to, the PJSIP endpoints it defines and the trunk registrations.

Pure code over the files' text (name -> text as written to disk), so the same
expectations prove the throwaway Asterisk of ``conf check`` and the live one after
``conf apply``, and a stored version carries its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Contexts ccpbx's code sends calls to (originates into, redirects to, or names as a
# fallback); tests/test_conf_expect.py holds this list against the code's constants.
CCPBX_CONTEXTS = (
    "ccpbx-inbound",
    "ccpbx-phones",
    "ccpbx-fallback",
    "ccpbx-fallback-hangup",
    "ccpbx-agent-session",
    "ccpbx-agent-connect",
    "ccpbx-queue-hold",
    "ccpbx-queue-enter",
    "ccpbx-queue-wait",
    "ccpbx-outbound",
    "ccpbx-outbound-abandon",
    "ccpbx-doctor",
    "ccpbx-ring-answer",
    "ccpbx-hold",
    "ccpbx-agent-hold",
    "ccpbx-conference-join",
    "ccpbx-transfer-outside",
)

_MODULE_LINE = re.compile(r"^\s*(load|require|preload|preload-require)\s*=>?\s*([^\s;]+)")
_CONTEXT_LINE = re.compile(r"^\s*context\s*=>?\s*([^\s;]+)")
_SECTION_LINE = re.compile(r"^\s*\[([^\]]+)\]")
_TYPE_LINE = re.compile(r"^\s*type\s*=>?\s*([^\s;]+)")


@dataclass(frozen=True, slots=True)
class Named:
    """A name a file gives, and where: ``file:line``."""

    name: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Expectations:
    modules: tuple[Named, ...]
    contexts: tuple[Named, ...]
    endpoints: frozenset[str]
    registrations: tuple[Named, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "modules": [[m.name, m.file, m.line] for m in self.modules],
            "contexts": [[c.name, c.file, c.line] for c in self.contexts],
            "endpoints": sorted(self.endpoints),
            "registrations": [[r.name, r.file, r.line] for r in self.registrations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectations:
        return cls(
            tuple(Named(n, f, int(line)) for n, f, line in data["modules"]),
            tuple(Named(n, f, int(line)) for n, f, line in data["contexts"]),
            frozenset(data["endpoints"]),
            tuple(Named(n, f, int(line)) for n, f, line in data.get("registrations", ())),
        )


def module_name(name: str) -> str:
    """``res_pjsip.so`` -> ``res_pjsip`` (what ``ModuleCheck`` takes)."""
    return name.removesuffix(".so")


def named_modules(modules_conf: str) -> list[Named]:
    """Every module ``modules.conf`` loads (``load``/``require``/``preload``), with its line."""
    found = []
    for number, line in enumerate(modules_conf.splitlines(), start=1):
        m = _MODULE_LINE.match(line)
        if m:
            found.append(Named(m.group(2), "modules.conf", number))
    return found


def registrations(pjsip_conf: str) -> list[Named]:
    """Sections of ``pjsip.conf`` that say ``type = registration``, at their header line."""
    found = []
    header: Named | None = None
    for number, line in enumerate(pjsip_conf.splitlines(), start=1):
        m = _SECTION_LINE.match(line)
        if m:
            header = Named(m.group(1).strip(), "pjsip.conf", number)
            continue
        kind = _TYPE_LINE.match(line)
        if kind and kind.group(1) == "registration" and header is not None:
            found.append(header)
    return found


def expectations(files: Mapping[str, str], endpoints: Iterable[str]) -> Expectations:
    """What the files must show once loaded: ``endpoints`` are the phone and trunk names
    ccpbx holds (the templates must render every one, and nothing more)."""
    contexts = [Named(c, "extensions.conf", 0) for c in CCPBX_CONTEXTS]
    known = set(CCPBX_CONTEXTS)
    for number, line in enumerate(files.get("pjsip.conf", "").splitlines(), start=1):
        m = _CONTEXT_LINE.match(line)
        if m and m.group(1) not in known:
            known.add(m.group(1))
            contexts.append(Named(m.group(1), "pjsip.conf", number))
    return Expectations(
        tuple(named_modules(files.get("modules.conf", ""))),
        tuple(contexts),
        frozenset(endpoints),
        tuple(registrations(files.get("pjsip.conf", ""))),
    )
