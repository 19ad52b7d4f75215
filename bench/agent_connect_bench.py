"""Persistent-mode connect time on the real sandbox Asterisk.

An agent's SIPp desk phone registers and is connected once into its conference.
Callers wait in music on hold; each time the caller talking to the agent hangs up
(the agent is free), ccpbx puts the next waiting caller through. Measured, per
call, with Asterisk's own event timestamps: from the previous caller leaving the
agent's conference (ConfbridgeLeave) to the next caller joining it
(ConfbridgeJoin). Also the redirect round trip seen by ccpbx.

    .venv/bin/python bench/agent_connect_bench.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from targets import check

from ccpbx import logs
from ccpbx.ami import AmiClient, AmiMessage, AmiSettings
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.root import ensure_runtime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(calls: int) -> None:
    phone_def = Phone("1001", "pw-bench-1001", rewrite_contact=False)
    asterisk = AsteriskInstance(
        ensure_runtime(), f"bench-connect-{int(time.time())}", AsteriskSettings(phones=[phone_def])
    )
    asterisk.start()
    phone = SippPhone(asterisk, phone_def)
    try:
        phone.start()
        s = asterisk.settings
        settings = AmiSettings(
            host="127.0.0.1", port=s.ami_port, username=s.ami_username, secret=s.ami_secret
        )
        async with AmiClient(settings) as ami:
            events: dict[str, AmiMessage] = {}
            holding: asyncio.Queue[AmiMessage] = asyncio.Queue()
            left: asyncio.Queue[str] = asyncio.Queue()

            def track(event: AmiMessage) -> None:
                if event.name == "Newexten" and event.get("Application") == "MusicOnHold":
                    holding.put_nowait(event)
                elif event.name in ("ConfbridgeJoin", "ConfbridgeLeave"):
                    events[f"{event.name}:{event.get('Uniqueid')}"] = event
                    if event.name == "ConfbridgeLeave":
                        left.put_nowait(event.get("Uniqueid") or "")

            ami.on_event("*", track)
            await ami.wait_ready(10)
            agents = PersistentAgentConnections(ami)
            await agents.open("1001", "1001")
            redirect_s: list[float] = []
            free_to_connected_ms: list[float] = []
            previous: AmiMessage | None = None
            for n in range(calls):
                await ami.action(
                    "Originate",
                    Channel=f"Local/{7000 + n}@ccpbx-queue-hold",
                    Application="Wait",
                    Data="600",
                    Async="true",
                    timeout=10,
                )
                caller = await asyncio.wait_for(holding.get(), 10)
                if previous is not None:
                    # The agent becomes free: the caller talking to them hangs up.
                    await ami.action("Hangup", Channel=previous["Channel"], timeout=5)
                    while await asyncio.wait_for(left.get(), 10) != previous["Uniqueid"]:
                        pass
                redirect_s.append(
                    await agents.put_through("1001", caller["Channel"], caller["Uniqueid"])
                )
                if previous is not None:
                    freed = float(events[f"ConfbridgeLeave:{previous['Uniqueid']}"]["Timestamp"])
                    joined = float(events[f"ConfbridgeJoin:{caller['Uniqueid']}"]["Timestamp"])
                    free_to_connected_ms.append((joined - freed) * 1000)
                previous = caller
            print(f"\ncalls put through: {calls}; agent phone rang {phone.invites()} time(s)")
            ms = [x * 1000 for x in redirect_s]
            print(
                f"redirect -> joined (ccpbx view): p50 {statistics.median(ms):.1f} ms, "
                f"p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms"
            )
            f = free_to_connected_ms
            print(
                f"agent free -> next caller connected (Asterisk timestamps): p50 "
                f"{statistics.median(f):.1f} ms, p99 {pct(f, 0.99):.1f} ms, max {max(f):.1f} ms"
            )
            check("agent free -> next caller connected p99", pct(f, 0.99), "<", 300, "ms")
    finally:
        phone.stop()
        asterisk.stop()
        asterisk.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    logs.configure("warning", "console")
    asyncio.run(run(args.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
