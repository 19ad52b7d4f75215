"""``ccpbx doctor`` on the real sandbox Asterisk and PostgreSQL: a healthy stack passes,
each broken precondition is reported with its fix."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ccpbx.config import AgiConfig, AmiConfig, Config
from ccpbx.doctor.checks import Check
from ccpbx.doctor.service import run
from ccpbx.ivr import store
from ccpbx.ivr.validate import check_text
from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port
from ccpbx.sandbox.stack import daemon_config
from tests.integration.conftest import StartDaemon

# Extra manager users, each short of classes ccpbx needs.
LIMITED_USERS = {
    # May not originate (nor send UserEvent-class actions): the probe call cannot run.
    "doctor-nowrite": ("system,call,agent,user,dtmf,dialplan,reporting", "system,call,reporting"),
    # Gets no user or dtmf events.
    "doctor-noread": ("system,call,dialplan,reporting", "system,call,originate,reporting,user"),
}

FRENCH_FLOW = """\
flow: doctorfr
dids: ["18005550199"]
languages: [en, fr]
default_language: en
sound_languages: [en, fr]
start: hello
prompts:
  goodbye:
    sound: vm-goodbye
nodes:
  hello:
    kind: play
    prompts: [goodbye]
    next: bye
  bye:
    kind: hangup
"""


async def activate_french_flow(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        flow = check_text(FRENCH_FLOW).flow
        assert flow is not None
        await store.activate(conn, flow, FRENCH_FLOW, "test", "test")
    finally:
        await conn.close()


def by_name(results: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in results}


def problems(results: list[Check]) -> list[Check]:
    return [c for c in results if c.status != "ok" and c.name != "config"]


@pytest.fixture
def limited_users(asterisk: AsteriskInstance) -> Iterator[str]:
    """Manager users with fewer classes, added to the sandbox's manager.conf for one test."""
    path = asterisk.run_dir / "etc" / "manager.conf"
    original = path.read_text()
    secret = "doctor-secret"
    extra = "".join(
        f"\n[{name}]\nsecret = {secret}\npermit = 127.0.0.1/255.255.255.255\n"
        f"read = {read}\nwrite = {write}\n"
        for name, (read, write) in LIMITED_USERS.items()
    )
    path.write_text(original + extra)
    asterisk.cli("manager reload")
    yield secret
    path.write_text(original)
    asterisk.cli("manager reload")


def _with(config: Config, **sections: object) -> Config:
    return dataclasses.replace(config, **sections)  # type: ignore[arg-type]


async def test_healthy_sandbox_all_ok(asterisk: AsteriskInstance, database_url: str) -> None:
    """On the sandbox with a migrated database every check is OK (config drift: not
    checked, nothing was applied) and doctor exits 0."""
    started = time.monotonic()
    results = await run(daemon_config(asterisk, database_url))
    elapsed = time.monotonic() - started
    assert problems(results) == []
    checks = by_name(results)
    assert checks["config"].status == "skip"
    assert "no configuration applied by ccpbx yet" in checks["config"].detail
    assert "doctor's listener" in checks["agi"].detail
    assert elapsed < 5, elapsed


def test_cli_exit_code_and_json(
    asterisk: AsteriskInstance, database_url: str, tmp_path: Path
) -> None:
    """`ccpbx --config FILE doctor --json` prints one JSON report and exits 0; with a
    wrong AMI secret it exits 1 naming the login and the fix."""
    s = asterisk.settings
    config = tmp_path / "ccpbx.toml"

    def write(secret: str) -> None:
        config.write_text(
            f'[ami]\nport = {s.ami_port}\nusername = "{s.ami_username}"\nsecret = "{secret}"\n'
            f"[agi]\nport = {s.agi_port}\n"
            f'[database]\nurl = "{database_url}"\n'
            '[dialer]\nabandon_prompt = "please-try-call-later"\n'
            'machine_prompt = "please-try-call-later"\n'
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith("CCPBX_")}
    env.pop("DATABASE_URL", None)
    argv = [sys.executable, "-m", "ccpbx", "--config", str(config), "doctor", "--json"]
    write(s.ami_secret)
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    elapsed = time.monotonic() - started
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout
    assert report["ok"] is True
    assert [c["status"] for c in report["checks"]].count("fail") == 0
    print(f"ccpbx doctor (CLI, healthy sandbox): {elapsed:.2f} s, report {report['elapsed_s']} s")

    write("wrong-secret")
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1
    login = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "ami_login")
    assert login["status"] == "fail"
    assert "login refused" in login["detail"]
    assert "secret" in login["fix"]


async def test_ami_user_without_write_class(
    asterisk: AsteriskInstance, database_url: str, limited_users: str
) -> None:
    """A manager user that may not originate: the write check names Originate and the
    class to add; the probe call is reported as refused, not as a FastAGI fault."""
    base = daemon_config(asterisk, database_url)
    config = _with(
        base, ami=dataclasses.replace(base.ami, username="doctor-nowrite", secret=limited_users)
    )
    checks = by_name(await run(config))
    write = checks["ami_write"]
    assert write.status == "fail"
    assert "Originate" in write.detail
    assert "add originate to `write =` of [doctor-nowrite]" in write.fix
    assert checks["probe"].status == "fail"
    assert checks["agi"].status == "skip"
    assert checks["ami_read"].status == "skip"  # only system could be checked


async def test_ami_user_without_read_class(
    asterisk: AsteriskInstance, database_url: str, limited_users: str
) -> None:
    """A manager user that gets no user or dtmf events: the read check names both."""
    base = daemon_config(asterisk, database_url)
    config = _with(
        base, ami=dataclasses.replace(base.ami, username="doctor-noread", secret=limited_users)
    )
    checks = by_name(await run(config))
    read = checks["ami_read"]
    assert read.status == "fail"
    assert read.detail == "doctor-noread gets no user, dtmf events"
    assert "add user, dtmf to `read =` of [doctor-noread]" in read.fix
    assert checks["ami_write"].status == "ok"
    assert checks["agi"].status == "ok"  # doctor's own listener saw the call


async def test_fastagi_unreachable(asterisk: AsteriskInstance, database_url: str) -> None:
    """ccpbx configured on another port than the dialplan's CCPBX_AGI: nothing listens
    where Asterisk sends calls, and doctor says so with the address and the keys to fix."""
    base = daemon_config(asterisk, database_url)
    config = _with(base, agi=AgiConfig(host="127.0.0.1", port=free_tcp_port()))
    checks = by_name(await run(config))
    agi = checks["agi"]
    assert agi.status == "fail"
    assert f"agi://127.0.0.1:{asterisk.settings.agi_port}" in agi.detail
    assert "AGISTATUS=FAILURE" in agi.detail
    assert "[agi] host/port" in agi.fix


async def test_fastagi_with_ccpbx_running(
    asterisk: AsteriskInstance, database_url: str, start_daemon: StartDaemon
) -> None:
    """With ccpbx serving its FastAGI port, doctor proves Asterisk reaches ccpbx itself and
    still looks for sounds through its own spare listener (a missing one included)."""
    await start_daemon()
    checks = by_name(await run(daemon_config(asterisk, database_url)))
    assert checks["agi"].status == "ok"
    assert "(ccpbx answered)" in checks["agi"].detail
    assert checks["sounds"].status == "ok"
    await activate_french_flow(database_url)
    checks = by_name(await run(daemon_config(asterisk, database_url)))
    assert checks["agi"].status == "ok"
    assert checks["sounds"].status == "fail"
    assert checks["sounds"].detail.startswith("fr: ")


async def test_missing_sounds_for_a_language(asterisk: AsteriskInstance, database_url: str) -> None:
    """An active IVR flow in French, which has no sound files in the sandbox: the sounds
    check names the language and the package to install."""
    await activate_french_flow(database_url)
    checks = by_name(await run(daemon_config(asterisk, database_url)))
    sounds = checks["sounds"]
    assert sounds.status == "fail"
    assert re.fullmatch(r"fr: \d+ missing \(.*\)", sounds.detail), sounds.detail
    assert "en:" not in sounds.detail
    assert "no file at all for fr" in sounds.fix
    assert "/usr/share/asterisk/sounds/fr/" in sounds.fix


async def test_database_not_migrated(asterisk: AsteriskInstance, pg_server_url: str) -> None:
    """A fresh empty database: the database check fails and says to run ccpbx migrate."""
    name = f"doctor_empty_{os.getpid()}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = pg_server_url.rsplit("/", 1)[0] + f"/{name}"
        checks = by_name(await run(daemon_config(asterisk, url)))
        db = checks["database"]
        assert db.status == "fail"
        assert "not migrated" in db.detail
        assert "ccpbx migrate" in db.fix
        assert checks["ami_login"].status == "ok"
    finally:
        await asyncio.sleep(0)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_ami_unreachable(asterisk: AsteriskInstance, database_url: str) -> None:
    """No AMI where the config points: login fails with the host/port fix, the checks
    that need AMI are not checked, the database is still judged."""
    base = daemon_config(asterisk, database_url)
    config = _with(base, ami=AmiConfig(host="127.0.0.1", port=free_tcp_port(), connect_timeout=1.0))
    started = time.monotonic()
    checks = by_name(await run(config))
    assert time.monotonic() - started < 2.0  # a refused connection is reported at once
    assert checks["ami_login"].status == "fail"
    assert "host/port" in checks["ami_login"].fix
    assert {checks[n].status for n in ("ami_write", "modules", "agi", "sounds")} == {"skip"}
    assert checks["database"].status == "ok"
