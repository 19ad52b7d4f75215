"""Numbers with business hours on the real Asterisk: the hours script reads the calendar
of the flow's active version at call time; the dialplan takes the open route or the
closed route (an IVR flow or an ACD queue), or the fallback without ccpbx.

The sandbox renders +18005559902 (open: ivr:hours_open, closed: ivr:hours_closed),
+18005559903 (closed: queue:hours_night) and +18005559904 (closed: voicemail:support),
all with hours hours_cal/office (tests/integration/conftest.py). The calendar is open
00:00-24:00 every day or has no hours at all, so no test depends on the wall clock.
"""

from __future__ import annotations

import asyncio

import asyncpg

from ccpbx.ami.protocol import AmiMessage
from ccpbx.asterisk import production
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.ivr import store as ivr_store
from ccpbx.ivr.model import WEEKDAYS
from ccpbx.ivr.validate import check_text
from ccpbx.pbx import numbers
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step

from .conftest import StartDaemon, eventually
from .test_conf_render_asterisk import RenderedSettings, _environ
from .test_conf_render_asterisk import instance as instance  # the rendered-config Asterisk
from .test_ivr_calls import activate, call, finished_calls
from .test_ivr_routing import played

ALL_WEEK = "{" + ", ".join(f'{d}: ["00:00-24:00"]' for d in WEEKDAYS) + "}"


def hours_flow(weekly: str, calendar: str = "office") -> str:
    """Flow hours_cal: only its calendar matters (no DID lists it)."""
    return f"""
flow: hours_cal
languages: [en]
sound_languages: [en]
start: bye
calendars:
  {calendar}: {{time_zone: Pacific/Auckland, weekly: {weekly}}}
prompts: {{bye: vm-goodbye}}
nodes:
  bye: {{kind: hangup, prompt: bye}}
"""


def branch_flow(name: str, sound: str) -> str:
    return f"""
flow: {name}
languages: [en]
sound_languages: [en]
start: bye
prompts: {{bye: {sound}}}
nodes:
  bye: {{kind: hangup, prompt: bye}}
"""


OPEN_FLOW = branch_flow("hours_open", "hello-world")
CLOSED_FLOW = branch_flow("hours_closed", "vm-goodbye")


def contexts_run(events: list[AmiMessage], uniqueid: str) -> list[str]:
    """The dialplan contexts Asterisk ran for one channel, in order, without repeats."""
    out: list[str] = []
    for e in events:
        if (
            e.get("Uniqueid") == uniqueid
            and (context := e.get("Context"))
            and (not out or out[-1] != context)
        ):
            out.append(context)
    return out


async def test_open_and_closed_follow_the_active_version_without_conf_apply(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Open all day: the call runs the open route's flow; the flow re-activated with no
    hours: the next call runs the closed route's flow; the calendar dropped by a newer
    version: open again. Proved by the contexts Asterisk ran and the files it played."""
    await activate(database_url, OPEN_FLOW)
    await activate(database_url, CLOSED_FLOW)
    await activate(database_url, hours_flow(ALL_WEEK))
    events: list[AmiMessage] = []
    await start_daemon(events={"Newexten": events.append})

    async def one_call(count: int) -> tuple[dict[str, object], list[str], list[tuple[str, str]]]:
        log_before = len(played(asterisk))
        result = await call(asterisk, "18005559902", [])
        assert result.ok, result.errors
        record = (await finished_calls(database_url, count))[-1]
        uniqueid = str(record["uniqueid"])
        await eventually(lambda: "ccpbx-inbound-" in " ".join(contexts_run(events, uniqueid)))
        return record, contexts_run(events, uniqueid), played(asterisk)[log_before:]

    record, contexts, files = await one_call(1)
    assert contexts == ["ccpbx-inbound", "ccpbx-inbound-open"], contexts
    assert record["flow"] == "hours_open"
    assert ("hello-world", "en") in files, files

    await activate(database_url, hours_flow("{}"))  # no hours on any day
    record, contexts, files = await one_call(2)
    assert contexts == ["ccpbx-inbound", "ccpbx-inbound-closed"], contexts
    assert record["flow"] == "hours_closed"
    assert ("vm-goodbye", "en") in files, files
    assert ("hello-world", "en") not in files, files

    await activate(database_url, hours_flow("{}", calendar="elsewhere"))  # office gone
    record, contexts, _ = await one_call(3)
    assert contexts == ["ccpbx-inbound", "ccpbx-inbound-open"], contexts
    assert record["flow"] == "hours_open"


async def test_closed_number_waits_in_the_closed_route_queue(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Closed (a calendar with no hours): the caller enters the closed route's ACD queue
    and waits there (Asterisk runs ccpbx-queue-wait for hours_night); no IVR runs."""
    from ccpbx.acd import QueueConfig
    from ccpbx.queues import QueueSpec

    await activate(database_url, OPEN_FLOW)
    await activate(database_url, hours_flow("{}"))
    events: list[AmiMessage] = []
    daemon = await start_daemon(events={"Newexten": events.append})
    await daemon.acd.wait_ready(20)
    await daemon.acd.configure_queue(QueueSpec(QueueConfig("hours_night"), {}, False))
    sipp = asyncio.create_task(call(asterisk, "18005559903", [], wait_bye_ms=8000))

    def waiting() -> list[dict[str, object]]:
        calls: list[dict[str, object]] = daemon.acd.queue_view("hours_night", waiting=True)["calls"]
        return calls

    await eventually(waiting)  # the ACD holds the caller in hours_night
    waits = [
        e
        for e in events
        if e.get("Context") == "ccpbx-queue-wait" and e.get("Extension") == "hours_night"
    ]
    assert waits, [(e.get("Context"), e.get("Extension")) for e in events]
    uniqueid = waits[0].get("Uniqueid") or ""
    assert contexts_run(events, uniqueid)[:3] == [
        "ccpbx-inbound",
        "ccpbx-inbound-closed",
        "ccpbx-queue-enter",
    ]
    result = await sipp
    assert result.ok, result.errors
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ivr_calls") == 0  # no flow ran
    finally:
        await conn.close()


async def test_closed_number_takes_a_message_in_the_closed_route_mailbox(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Closed to voicemail:support: Asterisk records the caller's message into mailbox
    support (a new message file in its INBOX), after running the closed branch."""
    await activate(database_url, OPEN_FLOW)
    await activate(database_url, hours_flow("{}"))
    events: list[AmiMessage] = []
    await start_daemon(events={"Newexten": events.append})
    inbox = asterisk.run_dir / "spool" / "voicemail" / "default" / "support" / "INBOX"
    before = len(list(inbox.glob("*.txt"))) if inbox.exists() else 0
    # Through the unavailable greeting, 4 s of talk after the beep, then hang up.
    steps = [Step.pause(9500), Step.talk(4000)]
    result = await call(asterisk, "18005559904", steps, caller="15550144", wait_bye_ms=1)
    assert result.ok, result.errors
    await eventually(lambda: inbox.exists() and len(list(inbox.glob("*.txt"))) == before + 1)
    message = sorted(inbox.glob("*.txt"))[-1].read_text()
    assert "15550144" in message
    recorded = next(e for e in events if e.get("Application") == "VoiceMail")
    assert (recorded.get("Context"), recorded.get("AppData")) == (
        "ccpbx-inbound-closed",
        "support@default,u",
    )


async def test_without_ccpbx_a_number_with_hours_goes_to_the_fallback(
    asterisk: AsteriskInstance,
) -> None:
    """No ccpbx listening: the hours script cannot answer, the call hears the fallback."""
    log_path = asterisk.log_dir / "messages.log"
    before = len(log_path.read_text(errors="replace"))
    result = await call(asterisk, "18005559902", [])
    assert result.ok, result.errors
    log = log_path.read_text(errors="replace")[before:]
    assert "/hours,hours_cal,office" in log, log[-2000:]
    assert "ccpbx fallback for" in log
    assert "@ccpbx-fallback:1] NoOp" in log
    assert "@ccpbx-inbound-open:" not in log  # neither branch ran
    assert "@ccpbx-inbound-closed:" not in log


async def test_conf_render_of_a_number_with_hours_loads_into_asterisk(
    instance: AsteriskInstance, database_url: str
) -> None:
    """A number added with --hours and --closed voicemail:sales, rendered the way `conf
    render` does from the database, loads: Asterisk shows the hours step and both branches."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        checked = check_text(hours_flow(ALL_WEEK))
        assert checked.flow is not None
        await ivr_store.activate(conn, checked.flow, hours_flow(ALL_WEEK), "test", "pytest")
        await numbers.add(
            conn,
            "+12125550100",
            "queue:sales",
            hours="hours_cal/office",
            closed="voicemail:sales",
        )
        records = await load_records(conn)
    finally:
        await conn.close()
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(
        load(None, _environ(instance, database_url)), records
    )
    instance.start()
    entry = instance.cli("dialplan show +12125550100@ccpbx-inbound")
    assert "AGI(${CCPBX_AGI}/hours,hours_cal,office)" in entry, entry
    opened = instance.cli("dialplan show +12125550100@ccpbx-inbound-open")
    assert "Goto(ccpbx-queue-enter,sales,1)" in opened, opened
    closed = instance.cli("dialplan show +12125550100@ccpbx-inbound-closed")
    assert "VoiceMail(sales@default,u)" in closed, closed
    assert "sales" in instance.cli("voicemail show users")
