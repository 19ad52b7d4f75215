"""`ccpbx conf check/apply/history/rollback` against a throwaway Asterisk of the test's
own, treated as production (not the session's shared sandbox): the CLI runs as an admin
runs it, in a subprocess, and Asterisk, SIPp and PostgreSQL are real.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ccpbx.asterisk import production, versions
from ccpbx.asterisk.render import default_conf_dir
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.pbx import phones, trunks
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import caller_scenario, run_sipp

from .figures import Figures

REPO = Path(__file__).resolve().parents[2]
CARRIER = "127.0.0.2"
NUMBER = "+12125550100"
SECOND = "+12125550111"


@dataclass
class RenderedSettings(AsteriskSettings):
    """Sandbox ports and folders, but the template values `conf render` builds."""

    rendered: dict[str, Any] = field(default_factory=dict)

    def template_values(self, dirs: dict[str, str]) -> dict[str, Any]:
        return self.rendered


@dataclass
class Production:
    """The Asterisk treated as production, and how to run ccpbx against it."""

    asterisk: AsteriskInstance
    env: dict[str, str]
    database_url: str
    staging: Path

    @property
    def conf_dir(self) -> Path:
        return self.asterisk.run_dir / "etc"

    async def ccpbx(self, *args: str) -> tuple[int, str, str, float]:
        """Run the real CLI; (exit code, stdout, stderr, seconds)."""
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ccpbx",
            *args,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode(), time.monotonic() - started

    def disk(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.conf_dir.iterdir()) if p.is_file()}

    def endpoints(self) -> set[str]:
        out = self.asterisk.cli("pjsip show endpoints")
        found = re.findall(r"^\s*Endpoint:\s+([^\s/]+)", out, re.M)
        return {name for name in found if not name.startswith("<")}

    def routes(self, number: str) -> bool:
        out = self.asterisk.cli(f"dialplan show {number}@ccpbx-inbound")
        return f"ccpbx number {number} routes to" in out


def _environ(instance: AsteriskInstance, database_url: str, staging: Path) -> dict[str, str]:
    s, dirs = instance.settings, instance.dirs()
    env = {
        **os.environ,
        "CCPBX_CONFIG": "",
        "DATABASE_URL": database_url,
        "CCPBX_AMI_HOST": "127.0.0.1",
        "CCPBX_AMI_PORT": str(s.ami_port),
        "CCPBX_AMI_USERNAME": s.ami_username,
        "CCPBX_AMI_SECRET": s.ami_secret,
        "CCPBX_AGI_PORT": str(s.agi_port),
        "CCPBX_SIP_BIND": "127.0.0.1",
        "CCPBX_SIP_PORT": str(s.sip_port),
        "CCPBX_SIP_REALM": "pbx.example",
        "CCPBX_ASTERISK_RTP_START": str(s.rtp_start),
        "CCPBX_ASTERISK_RTP_END": str(s.rtp_start + s.rtp_ports - 2),
        "CCPBX_ASTERISK_ROOT": str(instance.runtime.root or ""),
        "CCPBX_ASTERISK_STAGING_DIR": str(staging),
        "CCPBX_LOG_LEVEL": "warning",
    }
    for key, folder in (("conf", "etc"), ("modules", "modules"), ("varlib", "varlib")):
        env[f"CCPBX_ASTERISK_{key.upper()}_DIR"] = dirs[folder]
    for key in ("data", "spool", "run", "log"):
        env[f"CCPBX_ASTERISK_{key.upper()}_DIR"] = dirs[key]
    return env


@pytest.fixture
def instance() -> Iterator[AsteriskInstance]:
    instance = AsteriskInstance(ensure_runtime(), f"apply-{os.getpid()}", RenderedSettings())
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


@pytest.fixture
async def live(instance: AsteriskInstance, database_url: str, tmp_path: Path) -> Production:
    """Production as installed: started from what ccpbx renders for an empty database,
    plus one file ccpbx does not manage."""
    env = _environ(instance, database_url, tmp_path / "staging")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        records = await load_records(conn)
    finally:
        await conn.close()
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(load(None, env), records)
    await asyncio.to_thread(instance.start)
    (instance.run_dir / "etc" / "custom.conf").write_text("; the admin's own file\n")
    return Production(instance, env, database_url, tmp_path / "staging")


async def _add_phone(live: Production) -> str:
    conn = await asyncpg.connect(live.database_url)
    try:
        _, secret = await phones.add(conn, "1001", realm="pbx.example", label="Anna")
    finally:
        await conn.close()
    return secret


async def _history(live: Production) -> list[dict[str, Any]]:
    code, out, err, _ = await live.ccpbx("conf", "history", "--json")
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


async def test_apply_deploys_a_phone_and_a_number(live: Production, figures: Figures) -> None:
    """A phone and a number added as data go live with `conf apply`: the phone registers
    with its generated secret, the number routes, the version is stored and audited."""
    secret = await _add_phone(live)
    code, _, err, _ = await live.ccpbx("number", "add", NUMBER, "--to", "queue:sales")
    assert code == 0, err
    assert live.endpoints() == set()
    assert not live.routes(NUMBER)

    code, _, err, check_s = await live.ccpbx("conf", "check")
    assert code == 0, err
    assert "check passed" in err
    code, _, err, apply_s = await live.ccpbx("conf", "apply", "-m", "first phone")
    assert code == 0, err
    figures.checks("conf check then conf apply of a phone and a number (CLI, wall clock)")
    figures["conf check s"] = check_s
    figures["conf apply s"] = apply_s

    assert live.endpoints() == {"1001"}
    assert live.routes(NUMBER)
    assert (live.conf_dir / "custom.conf").read_text() == "; the admin's own file\n"
    phone = SippPhone(live.asterisk, Phone("1001", secret, rewrite_contact=False))
    phone.start()  # raises unless Asterisk answered the REGISTER with 200
    phone.stop()

    [row] = await _history(live)
    assert row["result"] == "applied"
    assert row["message"] == "first phone"
    assert "pjsip.conf" in row["changed"]
    assert "extensions.conf" in row["changed"]
    conn = await asyncpg.connect(live.database_url)
    try:
        files = await versions.last_applied(conn)
        audit = await conn.fetch(
            "SELECT action, object_id FROM audit_log WHERE object_type = 'asterisk_conf'"
        )
    finally:
        await conn.close()
    assert files is not None
    assert {n: (live.conf_dir / n).read_text() for n in files} == files
    assert [(a["action"], a["object_id"]) for a in audit] == [("apply", str(row["version"]))]

    code, _, err, _ = await live.ccpbx("conf", "apply")
    assert code == 0, err
    assert "nothing to apply" in err
    assert len(await _history(live)) == 1
    code, _, err, _ = await live.ccpbx("conf", "diff")
    assert code == 0, err
    assert re.search(r"^0 of \d+ managed files differ", err, re.M), err


async def test_registered_trunk_registers_once_applied(live: Production) -> None:
    """A trunk with registration passes `conf check` (its registration loads in the
    throwaway) and, applied, the live Asterisk sends its REGISTER to the carrier with
    the trunk's user. (That the throwaway never
    registers in the live PBX's place is pinned by tests/test_conf_check.py: Asterisk
    staggers first registrations by 1-10 s, so a check rarely lives long enough to show
    it here.)"""
    carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    carrier.bind(("127.0.0.1", 0))
    carrier.setblocking(False)
    try:
        conn = await asyncpg.connect(live.database_url)
        try:
            port = carrier.getsockname()[1]
            trunk = trunks.check(
                "voip", host="127.0.0.1", port=port, register=True, username="4420", secret="s3"
            )
            await trunks.add(conn, trunk)
        finally:
            await conn.close()
        code, _, err, _ = await live.ccpbx("conf", "check")
        assert code == 0, err
        assert "1 registration(s)" in err
        code, _, err, _ = await live.ccpbx("conf", "apply")
        assert code == 0, err
        assert live.endpoints() == {"voip"}
        loop = asyncio.get_running_loop()
        packet = await asyncio.wait_for(loop.sock_recv(carrier, 4096), 15)
        assert packet.startswith(b"REGISTER sip:127.0.0.1:")
        assert b"sip:4420@127.0.0.1" in packet
    finally:
        carrier.close()


def _broken_templates(folder: Path) -> Path:
    shutil.copytree(default_conf_dir(), folder)
    pjsip = folder / "pjsip.conf.j2"
    option = "rtp_timeout = 120\n"
    pjsip.write_text(pjsip.read_text().replace(option, option + "no_such_option = yes\n"))
    ext = folder / "extensions.conf.j2"
    ext.write_text(ext.read_text().replace("[ccpbx-queue-hold]", "[ccpbx-queue-hold-gone]"))
    return folder


async def test_broken_template_fails_check_and_changes_nothing(
    live: Production, tmp_path: Path
) -> None:
    """An unknown option and a missing context fail `conf check` and `conf apply` with the
    file and line named; the live folder and the live Asterisk stay as they were."""
    await _add_phone(live)
    code, _, err, _ = await live.ccpbx("conf", "apply")
    assert code == 0, err
    before, endpoints = live.disk(), live.endpoints()
    templates = _broken_templates(tmp_path / "templates")

    code, _, err, _ = await live.ccpbx("conf", "check", "--templates", str(templates))
    assert code == 1
    m = re.search(r"pjsip\.conf:(\d+): Could not find option .* named 'no_such_option'", err)
    assert m, err
    staged = (live.staging / "pjsip.conf").read_text().splitlines()
    assert staged[int(m.group(1)) - 1].strip() == "no_such_option = yes"
    assert "extensions.conf: context ccpbx-queue-hold missing" in err
    assert "pjsip.conf: endpoint(s) missing: 1001" in err

    code, _, err, _ = await live.ccpbx("conf", "apply", "--templates", str(templates))
    assert code == 1
    assert "check_failed" in err
    assert "no_such_option" in err
    assert live.disk() == before
    assert live.endpoints() == endpoints == {"1001"}
    assert "ccpbx-queue-hold" in live.asterisk.cli("dialplan show ccpbx-queue-hold")
    assert [r["result"] for r in await _history(live)] == ["check_failed", "applied"]


async def _call(live: Production, number: str) -> bool:
    """A carrier call to ``number``: True when the dialplan routed it by that number."""
    before = len((live.asterisk.log_dir / "messages.log").read_text(errors="replace"))
    result = await asyncio.to_thread(
        run_sipp,
        live.asterisk,
        caller_scenario("15550123", wait_bye_ms=15_000),
        service=number,
        timeout_s=40,
        extra=("-i", CARRIER),
    )
    assert result.ok, result.errors
    log = (live.asterisk.log_dir / "messages.log").read_text(errors="replace")[before:]
    return f"ccpbx number {number} routes to queue:" in log


async def test_failed_reload_is_rolled_back_and_rollback_works(live: Production) -> None:
    """A reload that fails after writing puts the previous files back and reloads them
    (exit 1, version rolled_back) and calls still route; `conf rollback` re-applies an
    older version."""
    secret = await _add_phone(live)
    conn = await asyncpg.connect(live.database_url)
    try:
        await trunks.add(conn, trunks.check("acme", host=CARRIER, port=5060, identify=[CARRIER]))
    finally:
        await conn.close()
    code, _, err, _ = await live.ccpbx("number", "add", NUMBER, "--to", "queue:sales")
    assert code == 0, err
    code, _, err, _ = await live.ccpbx("conf", "apply", "-m", "v1")
    assert code == 0, err
    first = live.disk()

    conn = await asyncpg.connect(live.database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('support')")
    finally:
        await conn.close()
    code, _, err, _ = await live.ccpbx("number", "add", SECOND, "--to", "queue:support")
    assert code == 0, err
    # An admin unloaded voicemail by hand: the new mailbox's reload cannot succeed.
    live.asterisk.cli("module unload app_voicemail.so")
    code, _, err, _ = await live.ccpbx("conf", "apply", "-m", "second number")
    assert code == 1
    assert "rolled_back" in err
    assert "voicemail.conf: reload of app_voicemail.so failed" in err
    assert live.disk() == first
    assert not live.routes(SECOND)  # extensions.conf was reloaded back
    assert live.routes(NUMBER)
    assert live.endpoints() == {"1001", "acme"}
    assert await _call(live, NUMBER)
    phone = SippPhone(live.asterisk, Phone("1001", secret, rewrite_contact=False))
    phone.start()
    phone.stop()

    live.asterisk.cli("module load app_voicemail.so")
    code, _, err, _ = await live.ccpbx("conf", "apply", "-m", "second number again")
    assert code == 0, err
    assert live.routes(SECOND)
    history = await _history(live)
    assert [r["result"] for r in history] == ["applied", "rolled_back", "applied"]
    v1 = history[-1]["version"]

    code, _, err, _ = await live.ccpbx("conf", "rollback", str(v1))
    assert code == 0, err
    assert not live.routes(SECOND)
    assert live.routes(NUMBER)
    assert live.disk() == first
    latest = (await _history(live))[0]
    assert latest["result"] == "applied"
    assert latest["rollback_of"] == v1
    assert latest["message"] == f"rollback to version {v1}"


async def test_failed_write_is_put_back(live: Production) -> None:
    """A file that cannot be written after another one was (its temporary name is taken
    by a folder) puts the written one back: the live Asterisk keeps the previous files."""
    await _add_phone(live)
    code, _, err, _ = await live.ccpbx("conf", "apply")
    assert code == 0, err
    first = live.disk()
    conn = await asyncpg.connect(live.database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('support')")
    finally:
        await conn.close()
    code, _, err, _ = await live.ccpbx("number", "add", SECOND, "--to", "queue:support")
    assert code == 0, err
    (live.conf_dir / ".voicemail.conf.ccpbx-new").mkdir()  # extensions.conf goes first
    code, _, err, _ = await live.ccpbx("conf", "apply")
    assert code == 1
    assert "rolled_back" in err, err
    assert "writing into" in err
    assert live.disk() == first
    assert not live.routes(SECOND)
    assert [r["result"] for r in await _history(live)] == ["rolled_back", "applied"]
