"""Rendering asterisk-conf/ templates: values checked, sections checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.asterisk.render import RenderError, check_values, render_all
from ccpbx.pbx.model import NumberRecord
from ccpbx.pbx.values import number_values
from ccpbx.sandbox.asterisk import AsteriskSettings, Phone


def values(**overrides: object) -> dict[str, object]:
    settings = AsteriskSettings(
        ami_port=15038,
        sip_port=15060,
        agi_port=14573,
        carrier_port=15070,
        phones=[Phone("agent1001", "pw-1001", "Agent 1001")],
    )
    base = settings.template_values(
        {k: f"/run/{k}" for k in ("etc", "modules", "varlib", "db", "data", "spool", "run", "log")}
    )
    base.update(overrides)
    return base


def test_shipped_templates_render_with_expected_sections() -> None:
    """The templates admins start from render, and each file holds its declared sections."""
    files = render_all(values())
    assert files["manager.conf"].sections == ("general", "ccpbx")
    pjsip = files["pjsip.conf"].sections
    assert pjsip.count("agent1001") == 3  # endpoint, auth, aor
    assert "carrier" in pjsip
    assert "exten => _X.,1" in files["extensions.conf"].text
    assert "agi://127.0.0.1:14573" in files["extensions.conf"].text
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"].text


def test_a_number_routed_to_an_agent_enters_the_queue_script_with_its_target() -> None:
    """``agent:1002`` renders CCPBX_AGENT_TARGET and the queue script, for both forms."""
    routed = number_values(NumberRecord("+18005550142", "agent", "1002"))
    text = render_all(values(numbers=[routed]))["extensions.conf"].text
    for exten in ("+18005550142", "18005550142"):
        block = text.split(f"exten => {exten},1,")[1].split("exten =>")[0]
        assert " same => n,Set(CCPBX_AGENT_TARGET=1002)\n" in block
        assert " same => n,Set(CCPBX_QUEUE=)\n" in block
        assert " same => n,Goto(ccpbx-queue-enter,s,1)\n" in block
        assert "inbound" not in block.split("\n", 1)[1]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b", "x[y", "x]y", "p;w", "p#w"])
def test_values_that_break_config_lines_are_refused(bad: str) -> None:
    """CR, LF, NUL, brackets, ';' and '#' in any value are refused, naming the field."""
    phones = [{"name": "agent1001", "md5_cred": bad, "label": "A"}]
    with pytest.raises(RenderError, match=r"values\.phones\[0\]\.md5_cred contains"):
        render_all(values(phones=phones))


def test_a_header_from_a_value_needs_section(tmp_path: Path) -> None:
    """A template that prints a section header from a value without section() is refused."""
    (tmp_path / "x.conf.j2").write_text("[general]\n[{{ name }}]\nfoo = bar\n")
    with pytest.raises(RenderError, match="unexpected section"):
        render_all({"name": "sneaky"}, tmp_path)


def test_section_names_are_checked(tmp_path: Path) -> None:
    """section() refuses a name with characters Asterisk would misread."""
    (tmp_path / "x.conf.j2").write_text("{{ section(name) }}\nfoo = bar\n")
    with pytest.raises(RenderError, match="may only hold"):
        render_all({"name": "a b"}, tmp_path)


def test_directives_are_refused(tmp_path: Path) -> None:
    """#include and #exec would let a file escape the renderer; they are refused."""
    (tmp_path / "x.conf.j2").write_text("[general]\n#exec /bin/sh\n")
    with pytest.raises(RenderError, match="directives"):
        render_all({}, tmp_path)


def test_undefined_value_is_an_error(tmp_path: Path) -> None:
    """A template naming a value that was not given fails instead of rendering blank."""
    (tmp_path / "x.conf.j2").write_text("[general]\nport = {{ missing }}\n")
    with pytest.raises(RenderError, match="missing"):
        render_all({}, tmp_path)


def test_sandbox_blocks_attribute_escape(tmp_path: Path) -> None:
    """The template sandbox refuses access to Python internals."""
    (tmp_path / "x.conf.j2").write_text("[general]\nx = {{ ''.__class__.__mro__ }}\n")
    with pytest.raises(RenderError):
        render_all({}, tmp_path)


def test_check_values_rejects_odd_types() -> None:
    """Only plain data (text, numbers, lists, tables) can reach a template."""
    with pytest.raises(RenderError, match="unsupported type"):
        check_values({"x": object()})
