"""IVR flows on the real Asterisk: SIPp callers press RFC 2833 keys through menus."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import uuid
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.ivr import store
from ccpbx.ivr.engine import Clock
from ccpbx.ivr.model import Flow
from ccpbx.ivr.prompts import build, generated_name, in_root, spoken_prompts
from ccpbx.ivr.runner import IvrRuntime
from ccpbx.ivr.validate import check_text
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.dtmf import Keypad
from ccpbx.sandbox.sipp import SippResult, Step, caller_scenario, run_sipp
from ccpbx.store.contacts import add_contact, create_list
from ccpbx.store.phones import Phone
from ccpbx.welcome import welcome

from .conftest import StartDaemon, eventually

SOUNDS_DIR = "/usr/share/asterisk/sounds"  # inside the sandbox root

MENU_FLOW = """
flow: dtmf_test
dids: ["18005550101"]
languages: [en]
sound_languages: [en]
start: main
prompts:
  beep: beep
  again: please-try-again
  bye: vm-goodbye
nodes:
  main:
    kind: menu
    prompt: beep
    choices: {"1": sub, "2": bye}
    timeout_ms: 3000
    retries: 2
    invalid_prompt: again
    timeout_prompt: again
    fallback: bye
  sub:
    kind: menu
    prompt: beep
    choices: {"1": bye, "2": account}
    timeout_ms: 2000
    retries: 2
    invalid_prompt: again
    timeout_prompt: again
    fallback: bye
  account:
    kind: input
    prompt: beep
    variable: account
    max_digits: 8
    min_digits: 6
    terminator: "#"
    pattern: "[0-9]{6}"
    timeout_ms: 3000
    retries: 1
    next: find
    fallback: bye
  find:
    kind: lookup
    by: variable
    variable: account
    found: vip
    not_found: bye
  vip:
    kind: queue
    queue: accounts
    priority: 10
    skills: [billing, dutch]
    target: "ccpbx-fallback-hangup,s,1"
  bye:
    kind: hangup
    prompt: bye
"""


SHORT_FLOW = """
flow: short
dids: ["18005550106"]
languages: [en]
sound_languages: [en]
start: bye
prompts: {bye: vm-goodbye}
nodes:
  bye: {kind: hangup, prompt: bye}
"""


def check(text: str) -> Flow:
    result = check_text(text)
    assert result.ok, [str(p) for p in result.problems]
    assert result.flow is not None
    return result.flow


async def activate(database_url: str, text: str) -> store.FlowVersion:
    conn = await asyncpg.connect(database_url)
    try:
        return await store.activate(conn, check(text), text, "test", "pytest")
    finally:
        await conn.close()


def build_prompts(asterisk: AsteriskInstance, flow: Flow) -> None:
    """Speak the flow's texts into the sandbox's sound folders (cached by hash)."""

    def run(argv: Any) -> None:
        subprocess.run(asterisk.runtime.command(list(argv)), check=True, capture_output=True)

    root = asterisk.runtime.root
    host_path = in_root(root) if root is not None else Path
    build(spoken_prompts(flow), SOUNDS_DIR, run=run, host_path=host_path)


async def start_ivr(
    start_daemon: StartDaemon, clock: Clock | None = None, **hooks: Any
) -> tuple[Daemon, IvrRuntime]:
    holder: list[Daemon] = []
    runtime = IvrRuntime(lambda: holder[0].database.pool, fallback=welcome)
    if clock is not None:
        runtime.clock = clock
    daemon = await start_daemon({"inbound": runtime.handle}, **hooks)
    holder.append(daemon)
    return daemon, runtime


async def call(
    asterisk: AsteriskInstance,
    did: str,
    steps: list[Step],
    caller: str = "15550123",
    wait_bye_ms: int = 15_000,
    timeout_s: float = 60,
) -> SippResult:
    scenario = caller_scenario(caller, "IVR Caller", steps=steps, wait_bye_ms=wait_bye_ms)
    return await asyncio.to_thread(run_sipp, asterisk, scenario, service=did, timeout_s=timeout_s)


async def finished_calls(database_url: str, count: int = 1) -> list[dict[str, Any]]:
    """The IVR calls recorded so far (waits until `count` have ended), with their steps."""
    conn = await asyncpg.connect(database_url)
    try:

        async def ended() -> list[asyncpg.Record]:
            rows = await conn.fetch(
                "SELECT * FROM ivr_calls WHERE outcome IS NOT NULL ORDER BY started_at"
            )
            return rows if len(rows) >= count else []

        rows = await eventually(ended, timeout=20)
        out = []
        for row in rows:
            out.append({**dict(row), "steps": await store.call_path(conn, row["id"])})
        return out
    finally:
        await conn.close()


def at(text: str) -> Callable[[], dt.datetime]:
    moment = dt.datetime.fromisoformat(text)
    return lambda: moment


async def test_dtmf_through_two_menus_invalid_key_timeout_and_account(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Keys 7 (invalid), 1, nothing (timeout), 2, then 123456#: the caller reaches the
    queue node for the contact with that account, and the recorded path says so."""
    conn = await asyncpg.connect(database_url)
    try:
        lst = await create_list(conn, "ivr")
        now = dt.datetime.now(dt.UTC)
        phone = Phone("+31201234567", ("Europe/Amsterdam",))
        await add_contact(conn, lst.id, [phone], name="Ada Lovelace", external_id="123456", now=now)
    finally:
        await conn.close()
    version = await activate(database_url, MENU_FLOW)
    events: list[AmiMessage] = []
    await start_ivr(start_daemon, events={"Newexten": events.append})
    keys = Keypad(asterisk)
    steps = [
        Step.pause(1500),
        *keys.press("7"),  # invalid in the main menu
        Step.pause(2100),
        *keys.press("1"),  # to the sub-menu; then no key: timeout
        Step.pause(4600),
        *keys.press("2"),  # to the account input
        Step.pause(1000),
        *keys.press("123456#", last=True),
    ]
    result = await call(asterisk, "18005550101", steps)
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    assert record["version_id"] == version.id
    assert (record["outcome"], record["end_node"]) == ("queued", "vip")
    path = record["steps"]
    assert [s["node"] for s in path] == ["main", "sub", "account", "find", "vip"]
    assert path[0]["detail"]["attempts"] == [
        {"digits": "7", "verdict": "invalid"},
        {"digits": "1", "verdict": "ok"},
    ]
    assert path[1]["detail"]["attempts"] == [
        {"digits": "", "verdict": "timeout"},
        {"digits": "2", "verdict": "ok"},
    ]
    assert (path[2]["digits"], path[2]["result"]) == ("123456", "accepted")
    assert path[3]["result"] == "found"
    assert [s["result"] for s in path[:2]] == ["choice 1", "choice 2"]
    assert all(s["left_at"] >= s["entered_at"] for s in path)
    variables = record["variables"]
    assert '"contact.name": "Ada Lovelace"' in variables
    # The caller went on to the queue's dialplan target.
    contexts = [e.get("Context") for e in events]
    assert "ccpbx-fallback-hangup" in contexts


@pytest.mark.parametrize("did", ["18005550199"])
async def test_did_without_flow_gets_the_welcome_greeting(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, did: str
) -> None:
    """A DID no active flow serves is answered by the welcome handler, not by silence."""
    await activate(database_url, MENU_FLOW)
    await start_ivr(start_daemon)
    result = await call(asterisk, did, [])
    assert result.ok, result.errors
    log = (asterisk.log_dir / "messages.log").read_text(errors="replace")
    assert "hello-world" in log
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ivr_calls") == 0
    finally:
        await conn.close()


async def test_daemon_default_handlers_run_the_active_flow(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """`ccpbx serve` (default handlers) answers a mapped DID with its active flow and
    records which version the call ran; after a rollback the next call runs the old one."""
    first = await activate(database_url, SHORT_FLOW)
    second = await activate(database_url, SHORT_FLOW.replace("bye: vm-goodbye", "bye: beep"))
    await start_daemon()  # handlers=None: the daemon's own
    result = await call(asterisk, "18005550106", [])
    assert result.ok, result.errors
    conn = await asyncpg.connect(database_url)
    try:
        assert (await store.rollback(conn, "short")).id == first.id
    finally:
        await conn.close()
    result = await call(asterisk, "18005550106", [])
    assert result.ok, result.errors
    records = await finished_calls(database_url, count=2)
    assert [r["version_id"] for r in records] == [second.id, first.id]
    assert {(r["outcome"], r["end_node"]) for r in records} == {("completed", "bye")}


async def test_number_routed_to_a_flow_runs_it(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """A number routed with `ccpbx number add +18005559901 --to ivr:short` (the sandbox
    renders it) runs flow "short" although the flow's own DID list does not name it."""
    version = await activate(database_url, SHORT_FLOW)
    await start_daemon()
    result = await call(asterisk, "18005559901", [])
    assert result.ok, result.errors
    [record] = await finished_calls(database_url)
    assert (record["flow"], record["version_id"], record["did"]) == (
        "short",
        version.id,
        "18005559901",
    )
    assert (record["outcome"], record["end_node"]) == ("completed", "bye")


def ccpbx_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prompts_build_command_speaks_texts_without_recordings(
    asterisk: AsteriskInstance, tmp_path: Path
) -> None:
    """`ivr check --sounds-dir` names the Dutch prompt not yet spoken and a mistyped
    recording; `prompts build` speaks the text once, as 8 kHz mono 16-bit wav where
    Asterisk reads sounds; then the check passes and a second build makes nothing."""
    text = f"Tot ziens en een fijne dag, nummer {uuid.uuid4().int % 10**6}"
    flow = SHORT_FLOW.replace("\nlanguages: [en]\n", "\nlanguages: [en, nl]\n").replace(
        "prompts: {bye: vm-goodbye}",
        f'prompts: {{bye: {{sound: vm-goodbye, text: {{nl: "{text}"}}}}}}',
    )
    good, typo = tmp_path / "dutch.yaml", tmp_path / "typo.yaml"
    good.write_text(flow)
    typo.write_text(flow.replace("sound: vm-goodbye", "sound: vm-goodby"))
    root = ["--root", str(asterisk.runtime.root)] if asterisk.runtime.root else []
    sounds = ["--sounds-dir", SOUNDS_DIR, *root]
    name = generated_name(text, "nl")
    wav_path = asterisk.runtime.host_path(f"{SOUNDS_DIR}/nl/{name}.wav")
    try:
        before = ccpbx_cli("ivr", "check", str(good), str(typo), *sounds)
        assert before.returncode == 1
        assert f"prompt bye: nl: {SOUNDS_DIR}/nl/{name} not found (run ccpbx prompts build)" in (
            before.stderr
        )
        assert f"prompt bye: en: {SOUNDS_DIR}/en/vm-goodby not found (no such recording)" in (
            before.stderr
        )
        first = ccpbx_cli("prompts", "build", str(good), *sounds)
        assert first.returncode == 0, first.stderr
        assert "1 prompt(s) made, 0 already present" in first.stdout
        with wave.open(str(wav_path)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 8000  # over a second of speech
        after = ccpbx_cli("ivr", "check", str(good), *sounds)
        assert after.returncode == 0, after.stderr
        again = ccpbx_cli("prompts", "build", str(good), *sounds)
        assert "0 prompt(s) made, 1 already present" in again.stdout
    finally:
        wav_path.unlink(missing_ok=True)
