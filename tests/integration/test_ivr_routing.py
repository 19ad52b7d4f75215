"""IVR on the real Asterisk: languages, business hours at a fixed clock, callers who
hang up in the middle of a prompt or of an input."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from ccpbx.ami.protocol import AmiMessage
from ccpbx.ivr.prompts import generated_name
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step
from ccpbx.store.contacts import add_contact, create_list
from ccpbx.store.phones import Phone

from .conftest import StartDaemon, eventually
from .test_ivr_calls import (
    Keypad,
    activate,
    at,
    build_prompts,
    call,
    check,
    finished_calls,
    start_ivr,
)

HELLO_NL = "Hallo, welkom bij de klantenservice."
LANGUAGE_FLOW = f"""
flow: languages
dids: ["18005550102"]
languages: [en, es, nl]
sound_languages: [en, es]
start: pick
prompts:
  pick: {{sound: beep, text: {{nl: "Kies"}}}}
  hello: {{sound: hello-world, text: {{nl: "{HELLO_NL}"}}}}
  bye: {{sound: vm-goodbye, text: {{nl: "Tot ziens"}}}}
nodes:
  pick:
    kind: menu
    prompt: pick
    choices: {{"1": greet, "2": spanish, "3": dutch}}
    timeout_ms: 4000
    retries: 0
    fallback: greet
  spanish: {{kind: language, language: es, next: greet}}
  dutch: {{kind: language, language: nl, next: greet}}
  greet: {{kind: play, prompts: [hello], next: bye}}
  bye: {{kind: hangup, prompt: bye}}
"""

HOURS_FLOW = """
flow: hours
dids: ["18005550103"]
languages: [en]
sound_languages: [en]
start: hours
calendars:
  office:
    time_zone: America/New_York
    weekly: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
             thu: ["09:00-17:00"], fri: ["09:00-17:00"]}
    holidays: [2026-11-26]
prompts:
  open: hello-world
  closed: vm-goodbye
  holiday: queue-thankyou
nodes:
  hours:
    kind: condition
    rules:
      - {holiday: office, goto: holiday}
      - {open: office, goto: open}
    else: closed
  open: {kind: hangup, prompt: open}
  closed: {kind: hangup, prompt: closed}
  holiday: {kind: hangup, prompt: holiday}
"""

ABANDON_FLOW = """
flow: abandon
dids: ["18005550104"]
languages: [en]
sound_languages: [en]
start: menu
prompts:
  beep: beep
  long: pbx-invalid
nodes:
  menu:
    kind: menu
    prompt: beep
    choices: {"1": speech, "2": account}
    timeout_ms: 5000
    fallback: bye
  speech: {kind: play, prompts: [long, long, long], next: bye}
  account:
    kind: input
    prompt: beep
    variable: account
    max_digits: 8
    timeout_ms: 6000
    next: bye
    fallback: bye
  bye: {kind: hangup}
"""


def played(asterisk: AsteriskInstance, channel_hint: str = "") -> list[tuple[str, str]]:
    """(file, language) of every file Asterisk played over AGI, from its verbose log."""
    out = []
    for line in (asterisk.log_dir / "messages.log").read_text(errors="replace").splitlines():
        if "res_agi.c" in line and "Playing '" in line and channel_hint in line:
            name = line.split("Playing '", 1)[1].split("'", 1)[0]
            lang = line.rsplit("(language '", 1)[1].split("'", 1)[0]
            out.append((name.rsplit(".", 1)[0], lang))
    return out


@pytest.mark.parametrize(
    ("key", "language", "hello"),
    [("2", "es", "hello-world"), ("3", "nl", generated_name(HELLO_NL, "nl"))],
    ids=["spanish", "dutch"],
)
async def test_caller_hears_prompts_in_the_chosen_language(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    database_url: str,
    key: str,
    language: str,
    hello: str,
) -> None:
    """After picking Spanish or Dutch, Asterisk plays that language's files: the
    Spanish recording, or the Dutch text spoken by espeak-ng (no Dutch recordings)."""
    flow = check(LANGUAGE_FLOW)
    build_prompts(asterisk, flow)
    await activate(database_url, LANGUAGE_FLOW)
    await start_ivr(start_daemon)
    keys = Keypad(asterisk)
    log_before = len(played(asterisk))
    result = await call(asterisk, "18005550102", [Step.pause(1200), *keys.press(key, last=True)])
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    assert (record["outcome"], record["language"]) == ("completed", language)
    greet = next(s for s in record["steps"] if s["node"] == "greet")
    assert greet["detail"]["files"] == [hello]
    files = played(asterisk)[log_before:]
    assert files[0] == ("beep", "en")
    assert (hello, language) in files, files
    bye = "vm-goodbye" if language == "es" else generated_name("Tot ziens", "nl")
    assert files[-1] == (bye, language), files


@pytest.mark.parametrize(
    ("moment", "node"),
    [
        ("2026-11-24T15:00:00+00:00", "open"),  # Tuesday 10:00 in New York
        ("2026-11-24T23:30:00+00:00", "closed"),  # Tuesday 18:30 in New York
        ("2026-11-26T15:00:00+00:00", "holiday"),  # Thanksgiving, 10:00 in New York
    ],
    ids=["inside_hours", "outside_hours", "holiday"],
)
async def test_business_hours_at_a_fixed_clock(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, moment: str, node: str
) -> None:
    """The runtime's clock decides the branch: open, closed after hours, holiday."""
    await activate(database_url, HOURS_FLOW)
    await start_ivr(start_daemon, clock=at(moment))
    result = await call(asterisk, "18005550103", [])
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    assert [s["node"] for s in record["steps"]] == ["hours", node]
    assert (record["outcome"], record["end_node"]) == ("completed", node)
    assert record["started_at"].isoformat() == moment


@pytest.mark.parametrize(
    ("steps", "node", "hangup_after_ms", "typed"),
    [
        ("1", "speech", 3000, None),  # in the middle of 13 s of prompts
        ("2", "account", 3500, "12"),  # after two of up to eight digits
    ],
    ids=["mid_prompt", "mid_input"],
)
async def test_caller_hangs_up_mid_node(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    database_url: str,
    steps: str,
    node: str,
    hangup_after_ms: int,
    typed: str | None,
) -> None:
    """A caller who hangs up in a prompt or an input leaves a path abandoned at that
    node; the handler raises nothing and the server counts a hang-up, not a failure."""
    await activate(database_url, ABANDON_FLOW)
    daemon, _ = await start_ivr(start_daemon)
    keys = Keypad(asterisk)
    presses = keys.press(steps) + (keys.press("12") if node == "account" else [])
    result = await call(
        asterisk, "18005550104", [Step.pause(1200), *presses], wait_bye_ms=hangup_after_ms
    )
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    assert (record["outcome"], record["end_node"]) == ("abandoned", node)
    last = record["steps"][-1]
    assert (last["node"], last["result"]) == (node, "abandoned")
    assert last["detail"].get("typed") == typed  # keys pressed before hanging up
    stats = await eventually(lambda: (s := daemon.agi.stats()).sessions_hangup == 1 and s)
    assert stats.handler_failures == 0
    assert stats.sessions_ok == 0


SERVICES_FLOW = """
flow: services
dids: ["18005550107"]
languages: [en]
sound_languages: [en]
start: who
calendars:
  office: {time_zone: Europe/Amsterdam, weekly: {mon: ["09:00-17:00"]}}
routes:
  phones: {dial: "PJSIP/{number}", pattern: "agent[0-9]{4}", timeout_s: 5}
prompts: {beep: beep, bye: vm-goodbye}
nodes:
  who: {kind: lookup, by: caller, found: menu, not_found: menu}
  menu: {kind: menu, prompt: beep, choices: {"1": operator}, timeout_ms: 4000, fallback: bye}
  operator: {kind: transfer, route: phones, number: agent1001, failed: when}
  when:
    kind: input
    prompt: beep
    variable: at
    max_digits: 4
    pattern: "([01][0-9]|2[0-3])[0-5][0-9]"
    timeout_ms: 4000
    next: callback
    fallback: bye
  callback: {kind: callback, time_variable: at, calendar: office, note: from the IVR, next: bye}
  bye: {kind: hangup, prompt: bye}
"""


async def test_known_caller_transfer_fails_then_leaves_a_callback_request(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """The caller is found by number (name on the channel for the screen pop); the
    transfer to an unregistered phone fails; the caller keys 1430 and a callback
    request for 14:30 Amsterdam time the next day is recorded for the dialer."""
    conn = await asyncpg.connect(database_url)
    try:
        lst = await create_list(conn, "callers")
        contact = await add_contact(
            conn,
            lst.id,
            [Phone("+15550123", ("America/New_York",))],
            name="Grace Hopper",
            now=dt.datetime.now(dt.UTC),
        )
    finally:
        await conn.close()
    await activate(database_url, SERVICES_FLOW)
    events: list[AmiMessage] = []
    monday_evening = "2026-11-23T19:00:00+00:00"  # 20:00 in Amsterdam
    await start_ivr(start_daemon, clock=at(monday_evening), events={"VarSet": events.append})
    keys = Keypad(asterisk)
    steps = [Step.pause(1200), *keys.press("1"), Step.pause(1500), *keys.press("1430", last=True)]
    result = await call(asterisk, "18005550107", steps, caller="15550123")
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    path = record["steps"]
    assert [s["node"] for s in path] == ["who", "menu", "operator", "when", "callback", "bye"]
    assert path[0]["result"] == "found"
    assert path[2]["detail"]["dial_status"] == "CHANUNAVAIL"
    assert path[2]["result"] == "transfer chanunavail"
    conn = await asyncpg.connect(database_url)
    try:
        request = await conn.fetchrow("SELECT * FROM ivr_callback_requests")
    finally:
        await conn.close()
    assert request["e164"] == "+15550123"
    assert request["contact_id"] == contact.id
    assert request["call_id"] == record["id"]
    assert request["due_at"] == dt.datetime(2026, 11, 24, 13, 30, tzinfo=dt.UTC)
    pops = {e.get("Variable"): e.get("Value") for e in events}
    assert pops.get("CCPBX_CONTACT_NAME") == "Grace Hopper"
    assert pops.get("CCPBX_CONTACT_ID") == str(contact.id)


ACD_FLOW = """
flow: to_acd
dids: ["18005550108"]
languages: [en]
sound_languages: [en]
start: hold
prompts: {hold: queue-thankyou}
nodes:
  hold:
    kind: queue
    queue: accounts
    priority: 7
    skills: [billing]
    prompt: hold
    target: "ccpbx-queue-enter,s,1"
"""


async def test_queue_node_hands_the_caller_to_the_acd(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """The queue node's dialplan target is the ACD's queue entry: the caller waits in
    the ACD queue with the flow's priority, and the IVR path ends as queued."""
    from ccpbx.acd import QueueConfig
    from ccpbx.queues import QueueSpec

    await activate(database_url, ACD_FLOW)
    daemon = await start_daemon()  # the daemon's own handlers: IVR and ACD scripts
    await daemon.acd.wait_ready(20)
    await daemon.acd.configure_queue(QueueSpec(QueueConfig("accounts"), {}, False))
    sipp = asyncio.create_task(call(asterisk, "18005550108", [], wait_bye_ms=8000))

    def waiting() -> list[dict[str, object]]:
        calls: list[dict[str, object]] = daemon.acd.queue_view("accounts", waiting=True)["calls"]
        return calls

    (queued,) = await eventually(waiting)
    assert queued["priority"] == 7
    result = await sipp
    assert result.ok, result.errors
    (record,) = await finished_calls(database_url)
    assert (record["outcome"], record["end_node"]) == ("queued", "hold")
    assert record["steps"][0]["detail"]["target"] == "ccpbx-queue-enter,s,1"
