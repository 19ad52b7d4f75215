"""Render ``asterisk-conf/*.j2`` into Asterisk configuration files, safely.

Templates are Jinja2 run in a sandbox. Every value handed to them is checked
first: a character that would end a line, open a section or start a comment or
directive in an Asterisk config file (CR, LF, NUL, ``[``, ``]``, ``;``, ``#``) is
refused, so caller- or admin-supplied data can never add a section or an option.
Each rendered file is then parsed back (pyst2's parser) and must hold exactly the
sections the template declares: literal ``[name]`` header lines, and headers
written with ``{{ section(name) }}`` where the name comes from a value.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asterisk.config import Config as _PystConfig
from asterisk.config import ParseError as _PystParseError
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ccpbx.errors import CcpbxError

_FORBIDDEN = {"\r": "CR", "\n": "LF", "\0": "NUL", "[": "'['", "]": "']'", ";": "';'", "#": "'#'"}
_SECTION_NAME = re.compile(r"^[A-Za-z0-9_.+@-]{1,80}$")
_LITERAL_HEADER = re.compile(r"^\s*\[([^\]{}%#]+)\]")
_HEADER_SUFFIX = re.compile(r"^(\s*\[[^\]]*\])\([^)]*\)")


class RenderError(CcpbxError):
    error_id = "asterisk_conf_invalid"


def default_conf_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "asterisk-conf"


def check_values(values: Any, path: str = "values") -> None:
    """Refuse any string (or key) that would break an Asterisk config line."""
    if isinstance(values, str):
        for char, label in _FORBIDDEN.items():
            if char in values:
                raise RenderError(
                    f"{path} contains {label}, which is not allowed in an Asterisk config value",
                    field=path,
                )
    elif isinstance(values, Mapping):
        for key, value in values.items():
            check_values(str(key), f"{path} key")
            check_values(value, f"{path}.{key}")
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            check_values(value, f"{path}[{index}]")
    elif values is None or isinstance(values, bool | int | float):
        return
    else:
        raise RenderError(f"{path} has unsupported type {type(values).__name__}", field=path)


class _SectionRecorder:
    def __init__(self, template: str) -> None:
        self.template = template
        self.names: list[str] = []

    def __call__(self, name: Any, based_on: str | None = None) -> str:
        text = str(name)
        if not _SECTION_NAME.match(text):
            raise RenderError(
                f"{self.template}: section name {text!r} may only hold letters, digits and _.+@-"
            )
        self.names.append(text)
        return f"[{text}]({based_on})" if based_on else f"[{text}]"


def _parse_sections(text: str, filename: str) -> list[str]:
    """Section names in rendered text, using pyst2's parser (template suffixes removed)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            raise RenderError(
                f"{filename}:{number}: directives such as #include or #exec are not allowed;"
                " ccpbx renders every file itself"
            )
        lines.append(_HEADER_SUFFIX.sub(r"\1", line) + "\n")
    config = _PystConfig.__new__(_PystConfig)
    config.filename = filename
    config.raw_lines = lines
    config.lines = []
    config.categories = []
    try:
        config.parse()
    except _PystParseError as exc:
        line_no, reason = exc.args if len(exc.args) == 2 else ("?", exc)
        raise RenderError(f"{filename}:{line_no}: {reason}") from exc
    return [category.name for category in config.categories]


@dataclass(frozen=True)
class RenderedFile:
    name: str
    text: str
    sections: tuple[str, ...]


def render_file(
    env: SandboxedEnvironment, template_path: Path, values: Mapping[str, Any]
) -> RenderedFile:
    source = template_path.read_text(encoding="utf-8")
    output_name = template_path.name.removesuffix(".j2")
    literal = {
        m.group(1).strip() for line in source.splitlines() if (m := _LITERAL_HEADER.match(line))
    }
    recorder = _SectionRecorder(template_path.name)
    try:
        text = env.from_string(source).render({**values, "section": recorder})
    except RenderError:
        raise
    except TemplateError as exc:
        raise RenderError(f"{template_path.name}: {exc}") from exc
    sections = _parse_sections(text, output_name)
    unexpected = [s for s in sections if s not in literal and s not in recorder.names]
    if unexpected:
        raise RenderError(
            f"{output_name}: unexpected section(s) {unexpected}; headers built from values"
            " must be written with section()",
            sections=unexpected,
        )
    missing = Counter(recorder.names) - Counter(sections)
    if missing:
        raise RenderError(f"{output_name}: declared section(s) missing: {sorted(missing)}")
    return RenderedFile(output_name, text, tuple(sections))


def render_all(values: Mapping[str, Any], conf_dir: Path | None = None) -> dict[str, RenderedFile]:
    """Render every ``*.j2`` template of the folder; nothing is written."""
    check_values(dict(values))
    directory = conf_dir or default_conf_dir()
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    templates = sorted(directory.glob("*.j2"))
    if not templates:
        raise RenderError(f"no templates (*.j2) in {directory}")
    return {t.name.removesuffix(".j2"): render_file(env, t, values) for t in templates}


def write_all(files: Mapping[str, RenderedFile], target: Path) -> None:
    """Write rendered files into ``target``, each replaced atomically."""
    target.mkdir(parents=True, exist_ok=True)
    for rendered in files.values():
        tmp = target / f".{rendered.name}.tmp"
        tmp.write_text(rendered.text, encoding="utf-8")
        os.replace(tmp, target / rendered.name)
