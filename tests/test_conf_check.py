"""conf check's pure parts: the rewrite for the throwaway Asterisk, the reading of
Asterisk's complaints, and the expectations drawn from the files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import ccpbx
from ccpbx.asterisk.expect import CCPBX_CONTEXTS, Expectations, expectations, named_modules
from ccpbx.asterisk.render import render_all
from ccpbx.asterisk.staging import managed_text
from ccpbx.asterisk.throwaway import CheckPorts, config_errors, for_check
from ccpbx.pbx.model import TrunkRecord
from ccpbx.pbx.values import endpoint_values, trunk_values
from ccpbx.sandbox.asterisk import AsteriskSettings, Phone

_CONSTANT = re.compile(r"^([A-Z_]*(?:CONTEXTS?|FALLBACK))\s*(?::[^=]*)?=\s*(.+)$")
DIRS = {
    "etc": "/etc/asterisk",
    "modules": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    "varlib": "/var/lib/asterisk",
    "db": "/var/lib/asterisk",
    "data": "/usr/share/asterisk",
    "spool": "/var/spool/asterisk",
    "run": "/var/run/asterisk",
    "log": "/var/log/asterisk",
}
RUN = {
    "etc": "/var/tmp/c/etc",
    "varlib": "/var/tmp/c/lib",
    "db": "/var/tmp/c/lib",
    "spool": "/var/tmp/c/spool",
    "run": "/var/tmp/c/run",
    "log": "/var/tmp/c/log",
}
REGISTERED = TrunkRecord(
    name="voip",
    host="sip.voip.example",
    port=5060,
    transport="udp",
    identify=(),
    register=True,
    username="4420",
    secret="trunk-secret",
    codecs=("ulaw",),
    max_channels=None,
    dial_template="PJSIP/{number}@{trunk}",
)


def _files() -> dict[str, str]:
    settings = AsteriskSettings(phones=[Phone("1001", "pw")])
    values: dict[str, Any] = settings.template_values(DIRS)
    values.update(endpoint_values(values["phones"], [trunk_values(REGISTERED)]))
    values["ami"]["bind"] = "0.0.0.0"
    values["ami"]["port"] = 5038
    values["transports"][0].update(bind="0.0.0.0", port=5060)
    values["transports"].append(
        {"name": "transport-tcp", "protocol": "tcp", "bind": "0.0.0.0", "port": 5060}
    )
    return {n: managed_text(r) for n, r in render_all(values).items()}


def _changed(old: str, new: str) -> list[tuple[int, str, str]]:
    pairs = zip(old.splitlines(), new.splitlines(), strict=True)
    return [(n, a, b) for n, (a, b) in enumerate(pairs) if a != b]


def test_rewrite_touches_only_what_would_clash_and_keeps_lines() -> None:
    """Folders, AMI, SIP transports and registrations are rewritten; nothing else, and
    every file keeps its lines where they were."""
    files = _files()
    ports = CheckPorts(ami=40001, dead=40002)
    out = for_check(files, RUN, ports)
    assert out.keys() == files.keys()
    for name in files:
        assert len(out[name].splitlines()) == len(files[name].splitlines()), name
    untouched = set(files) - {"asterisk.conf", "manager.conf", "pjsip.conf"}
    assert all(out[n] == files[n] for n in untouched)
    ast = {b for _, _, b in _changed(files["asterisk.conf"], out["asterisk.conf"])}
    assert ast == {
        "astetcdir => /var/tmp/c/etc",
        "astvarlibdir => /var/tmp/c/lib",
        "astdbdir => /var/tmp/c/lib",
        "astkeydir => /var/tmp/c/lib",
        "astspooldir => /var/tmp/c/spool",
        "astrundir => /var/tmp/c/run",
        "astlogdir => /var/tmp/c/log",
    }
    manager = [b for _, _, b in _changed(files["manager.conf"], out["manager.conf"])]
    assert manager == ["bindaddr = 127.0.0.1", "port = 40001"]
    pjsip = [b for _, _, b in _changed(files["pjsip.conf"], out["pjsip.conf"])]
    assert len(pjsip) == 4
    assert pjsip[0].startswith("bind = 127.0.0.1:")  # udp and tcp, each a free port
    assert pjsip[1].startswith("bind = 127.0.0.1:")
    assert pjsip[2:] == [
        "server_uri = sip:127.0.0.1:40002",
        "client_uri = sip:4420@127.0.0.1:40002",
    ]


def test_asterisk_complaints_name_file_and_line() -> None:
    """An option inherited from a template is reported with the file the next line names."""
    log = (
        "[2026-12-03 14:50:37.443] ERROR[3707] config_options.c: Could not find option"
        " suitable for category '1001' named 'no_such_option' at line 38 of \n"
        "[2026-12-03 14:50:37.443] ERROR[3707] res_sorcery_config.c: Could not create an"
        " object of type 'endpoint' with id '1001' from configuration file 'pjsip.conf'\n"
        "[2026-12-03 14:50:37.500] WARNING[3707] pbx_config.c: Something odd at line 12 of"
        " /var/tmp/c/etc/extensions.conf\n"
        "[2026-12-03 14:50:37.600] NOTICE[3707] loader.c: 90 modules loaded\n"
    )
    found = [str(p) for p in config_errors(log)]
    assert found == [
        "pjsip.conf:38: Could not find option suitable for category '1001' named 'no_such_option'",
        "extensions.conf:12: Something odd",
    ]


def test_expectations_come_from_the_files() -> None:
    """Modules with their line in modules.conf, ccpbx's contexts plus those endpoints
    name; the round trip through storage keeps them."""
    files = _files()
    expect = expectations(files, ["1001", "voip"])
    lines = files["modules.conf"].splitlines()
    assert expect.modules
    for m in expect.modules:
        assert lines[m.line - 1].split("=")[1].strip() == m.name
    assert [c.name for c in expect.contexts] == list(CCPBX_CONTEXTS)  # endpoints use these
    assert [r.name for r in expect.registrations] == ["voip"]
    [reg] = expect.registrations
    assert files["pjsip.conf"].splitlines()[reg.line - 1] == "[voip]"
    assert "type = registration" in files["pjsip.conf"].splitlines()[reg.line]
    assert Expectations.from_dict(expect.as_dict()) == expect
    found = named_modules("; load = x.so\nload => a.so\nnoload = b.so\nrequire = c.so ; why\n")
    assert [(m.name, m.where) for m in found] == [
        ("a.so", "modules.conf:2"),
        ("c.so", "modules.conf:4"),
    ]


def _context_constants() -> dict[str, str]:
    """Every "ccpbx-..." literal of a module-level *_CONTEXT(S) or FALLBACK constant in
    ccpbx's production code (the sandbox left out), with where it stands."""
    package = Path(ccpbx.__file__).parent
    found = {}
    for path in sorted(package.rglob("*.py")):
        if "sandbox" in path.relative_to(package).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            m = _CONSTANT.match(line)
            if m:
                for context in re.findall(r'"(ccpbx-[a-z0-9-]+)"', m.group(2)):
                    found[context] = f"{path.relative_to(package)}:{number} {m.group(1)}"
    return found


def test_contexts_include_every_one_the_code_sends_calls_to() -> None:
    """The contexts conf check insists on hold every context constant of the code."""
    found = _context_constants()
    assert {"ccpbx-outbound", "ccpbx-queue-wait", "ccpbx-agent-session"} <= found.keys()
    missing = {c: where for c, where in found.items() if c not in CCPBX_CONTEXTS}
    assert not missing, f"add to ccpbx/asterisk/expect.py CCPBX_CONTEXTS: {missing}"
