"""The IVR part of ``make demo``: an admin's menu file, checked, activated, called
with real key presses, changed, rolled back, all with the ``ccpbx`` commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp

DEMO_DID = "18005550111"

MENU = """\
# A two-level menu an admin writes: sales, or support with an account number.
flow: demo
dids: ["{did}"]
languages: [en]
default_language: en
sound_languages: [en]
start: main

prompts:
  main: {{sound: {main_sound}}}
  account: {{sound: vm-enter-num-to-call}}
  thanks: {{sound: auth-thankyou}}
  invalid: {{sound: pbx-invalid}}
  bye: {{sound: vm-goodbye}}

nodes:
  main:
    kind: menu
    prompt: main
    choices: {{"1": sales, "2": account}}
    timeout_ms: 3000
    retries: 1
    invalid_prompt: invalid
    fallback: bye
  sales:
    kind: play
    prompts: [thanks]
    next: bye
  account:
    kind: input
    prompt: account
    variable: account
    max_digits: 4
    min_digits: 4
    terminator: "#"
    pattern: "[0-9]{{4}}"
    retries: 1
    invalid_prompt: invalid
    next: thanks
    fallback: bye
  thanks:
    kind: play
    prompts: [thanks]
    next: bye
  bye:
    kind: hangup
    prompt: bye
"""


def ccpbx(database_url: str, *args: str) -> str:
    """Run a ``ccpbx`` command as an admin would; echo it and what it printed."""
    print(f"$ ccpbx {' '.join(args)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DATABASE_URL": database_url, "CCPBX_LOG_LEVEL": "warning"},
    )
    output = (result.stdout + result.stderr).strip()
    if output:
        print("  " + output.replace("\n", "\n  "))
    if result.returncode != 0:
        raise RuntimeError(f"ccpbx {args[0]} {args[1]} failed ({result.returncode})")
    return result.stdout


async def call(asterisk: AsteriskInstance, keys: str) -> bool:
    steps = [Step.pause(1500), *Step.dtmf(keys, gap_ms=500)] if keys else []
    result = await asyncio.to_thread(
        run_sipp,
        asterisk,
        caller_scenario("15550123", "Demo Caller", steps=steps),
        service=DEMO_DID,
        timeout_s=40,
    )
    print(
        f"  SIPp caller pressed {keys or 'nothing'}: call {'completed' if result.ok else 'FAILED'}"
    )
    return result.ok


async def run_ivr_demo(asterisk: AsteriskInstance, database_url: str, workdir: Path) -> bool:
    menu = workdir / "demo-menu.yaml"
    menu.write_text(MENU.format(did=DEMO_DID, main_sound="hello-world"))
    root = ["--sounds-dir", "/usr/share/asterisk/sounds"]
    if asterisk.runtime.root is not None:
        root += ["--root", str(asterisk.runtime.root)]
    ccpbx(database_url, "ivr", "check", str(menu), *root)
    ccpbx(database_url, "ivr", "activate", str(menu), "--by", "demo-admin", *root)
    print("\n-- a caller presses 2 (support), then account 4711 and #")
    ok = await call(asterisk, "24711#")
    ccpbx(database_url, "ivr", "calls", "--limit", "1")

    print("\n-- the admin changes the greeting and activates version 2, then rolls back")
    menu.write_text(MENU.format(did=DEMO_DID, main_sound="vm-press"))
    ccpbx(database_url, "ivr", "activate", str(menu), "--by", "demo-admin", *root)
    ccpbx(database_url, "ivr", "rollback", "demo", "--by", "demo-admin")
    ccpbx(database_url, "ivr", "history", "demo")
    print("\n-- the next caller presses 1 (sales) and runs version 1 again")
    ok = await call(asterisk, "1") and ok
    ccpbx(database_url, "ivr", "calls", "--limit", "2")
    return ok
