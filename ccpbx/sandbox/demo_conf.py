"""The configuration part of ``make demo``: the sandbox Asterisk treated as the
production target of ``ccpbx conf``. An admin writes ``ccpbx.toml`` pointing at it,
takes its configuration over (the carrier becomes data, a first ``conf apply``), then
adds a desk phone and a number and walks the cycle: ``conf check`` -> ``conf diff`` ->
``conf apply`` -> ``conf history``; a SIPp phone registers with the generated secret
and a caller reaches the demo menu through the new number. Every command is the real
CLI, run as the admin runs it.

It runs last: the queue and dialer steps' agent phones are SIPp processes that answer
on a port other than the one they register from, which works only with the sandbox's
``rewrite_contact = no``, a setting the phone store does not hold; once ccpbx owns the
configuration those test phones are gone (the first apply says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from pathlib import Path

from ccpbx.sandbox.asterisk import SIP_REALM, AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp

NEW_PHONE = "2001"
NEW_NUMBER = "+18005550133"


def config_toml(asterisk: AsteriskInstance, database_url: str, staging: Path) -> str:
    """``ccpbx.toml`` for this Asterisk: its AMI, SIP and folders as it sees them."""
    s, dirs = asterisk.settings, asterisk.dirs()
    root = asterisk.runtime.root or ""
    return f"""\
[database]
url = "{database_url}"
[ami]
host = "127.0.0.1"
port = {s.ami_port}
username = "{s.ami_username}"
secret = "{s.ami_secret}"
[agi]
host = "{s.agi_host}"
port = {s.agi_port}
[sip]
realm = "{SIP_REALM}"
bind = "127.0.0.1"
port = {s.sip_port}
# Phones, callers and the carrier all send from 127.0.0.1 here: phones by name first.
identify_order = "username,ip"
[asterisk]
root = "{root}"
conf_dir = "{dirs["etc"]}"
staging_dir = "{staging}"
modules_dir = "{dirs["modules"]}"
varlib_dir = "{dirs["varlib"]}"
data_dir = "{dirs["data"]}"
spool_dir = "{dirs["spool"]}"
run_dir = "{dirs["run"]}"
log_dir = "{dirs["log"]}"
rtp_start = {s.rtp_start}
rtp_end = {s.rtp_start + s.rtp_ports - 2}
"""


COMMAND_TIMEOUT_S = 120.0


async def admin(toml: Path, *args: str) -> str:
    """Run ``ccpbx --config TOML ARGS`` as the admin types it; echo it and what it
    printed, without the commands' JSON log lines (they go to stderr; the
    summaries are what an admin reads). Returns stdout; raises when it fails.

    The command runs in a session of its own, so a Ctrl-C meant for the demo does not
    cut an apply in half: a stopped demo lets the command finish (seconds), then
    cleans up."""
    argv = ["--config", str(toml), *args]
    print(f"$ ccpbx {shlex.join(argv)}", flush=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccpbx",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CCPBX_CONFIG": ""},
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT_S)
    except BaseException:
        # Stopped (or timed out): let the command end its own way, then go on stopping.
        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT_S))
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    lines = (out.decode() + err.decode()).strip().splitlines()
    shown = [line for line in lines if not line.startswith('{"')]
    if shown:
        print("  " + "\n  ".join(shown), flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ccpbx {shlex.join(args)} failed ({proc.returncode})")
    return out.decode()


def contacts(asterisk: AsteriskInstance, name: str) -> list[str]:
    """The ``pjsip show contacts`` lines of endpoint ``name``."""
    out = asterisk.cli("pjsip show contacts")
    return [
        line.strip()
        for line in out.splitlines()
        if line.split()[:1] == ["Contact:"] and line.split()[1].startswith(f"{name}/")
    ]


async def run_conf_demo(asterisk: AsteriskInstance, database_url: str, workdir: Path) -> bool:
    toml = workdir / "ccpbx.toml"
    toml.write_text(config_toml(asterisk, database_url, workdir / "conf-staging"))
    print(f"-- {toml}: the sandbox Asterisk is the target (AMI secret per run)")
    print(
        "  "
        + toml.read_text()
        .replace(asterisk.settings.ami_secret, "...")
        .strip()
        .replace("\n", "\n  ")
    )

    print("\n-- take over: the carrier becomes data, a first apply (the test agent phones go)")
    s = asterisk.settings
    await admin(
        toml,
        "trunk",
        "add",
        "carrier",
        "--host",
        "127.0.0.1",
        "--port",
        str(s.carrier_port),
        "--identify",
        "127.0.0.1/32",
    )
    await admin(toml, "conf", "apply", "-m", "ccpbx takes over the sandbox Asterisk")

    print("\n-- a desk phone and a number routed to the demo menu, then check, diff, apply")
    secret = (await admin(toml, "phone", "add", NEW_PHONE, "--label", "Front desk")).strip()
    await admin(toml, "number", "add", NEW_NUMBER, "--to", "ivr:demo")
    await admin(toml, "conf", "check")
    await admin(toml, "conf", "diff")
    await admin(toml, "conf", "apply", "-m", f"desk phone {NEW_PHONE}, number {NEW_NUMBER}")
    await admin(toml, "conf", "history")

    print(f"\n-- phone {NEW_PHONE} registers (SIPp, digest auth) with the secret shown once")
    phone = SippPhone(asterisk, Phone(NEW_PHONE, secret, "Front desk"))
    try:
        await asyncio.to_thread(phone.start)  # raises unless Asterisk answered 200
        print("$ asterisk -rx 'pjsip show contacts'")
        registered = contacts(asterisk, NEW_PHONE)
        for line in registered:
            print(f"  {line}")
    finally:
        phone.stop()

    print(f"\n-- a caller dials the new number {NEW_NUMBER} and presses 1 (the demo menu)")
    result = await asyncio.to_thread(
        run_sipp,
        asterisk,
        caller_scenario(
            "15550133", "New Number", steps=[Step.pause(1500), *Step.dtmf("1", gap_ms=500)]
        ),
        service=NEW_NUMBER.removeprefix("+"),
        timeout_s=40,
    )
    print(f"  call {'completed' if result.ok else 'FAILED'}")
    await admin(toml, "ivr", "calls", "--limit", "1")
    return bool(registered) and result.ok
