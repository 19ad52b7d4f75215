"""The IVR's voicemail node on real Asterisk: the caller's message lands in the mailbox."""

from __future__ import annotations

from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step

from .conftest import StartDaemon, eventually
from .test_ivr_calls import activate, call, finished_calls, start_ivr

FLOW = """
flow: messages
dids: ["18005550177"]
languages: [en]
default_language: en
sound_languages: [en]
start: leave
prompts:
  thanks: {sound: auth-thankyou}
nodes:
  leave:
    kind: voicemail
    mailbox: "support@default"
"""


async def test_caller_leaves_a_voicemail(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """A flow's voicemail node records the caller into the mailbox it names; the path
    ends at that node."""
    await activate(database_url, FLOW)
    events: list[AmiMessage] = []
    await start_ivr(start_daemon, events={"VarSet": events.append})
    inbox = asterisk.run_dir / "spool" / "voicemail" / "default" / "support" / "INBOX"
    before = len(list(inbox.glob("*.txt"))) if inbox.exists() else 0
    # Wait through the greeting, talk for 4 s after the beep, then hang up as callers do.
    result = await call(asterisk, "18005550177", [Step.pause(9500), Step.talk(4000)], wait_bye_ms=1)
    assert result.ok, result.errors
    await eventually(lambda: inbox.exists() and len(list(inbox.glob("*.txt"))) == before + 1)
    message = sorted(inbox.glob("*.txt"))[-1].read_text()
    assert "callerid=" in message
    assert "15550123" in message
    [record] = await finished_calls(database_url)
    assert record["end_node"] == "leave"
