"""The queue part of ``make demo``: two agents on SIPp desk phones log in (persistent
mode), three customers call a sales line, wait, and are put through; the queue's
live figures come from the API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.demo_api import api_client
from ccpbx.sandbox.demo_ivr import ccpbx
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import caller_scenario, run_sipp
from ccpbx.store.tokens import TokenRepository

SALES_DID = "18005550122"
AGENT_PHONES = [
    Phone("1001", "pw-demo-1001", "Agent Anna", rewrite_contact=False),
    Phone("1002", "pw-demo-1002", "Agent Bram", rewrite_contact=False),
]

SALES_LINE = f"""\
flow: sales_line
dids: ["{SALES_DID}"]
languages: [en]
default_language: en
sound_languages: [en]
start: hello
prompts: {{thanks: {{sound: queue-thankyou}}}}
nodes:
  hello: {{kind: play, prompts: [thanks], next: line}}
  line: {{kind: queue, queue: sales, target: "ccpbx-queue-enter,s,1"}}
"""


async def _call(asterisk: AsteriskInstance, caller: str, talk_ms: int) -> bool:
    scenario = caller_scenario(caller, f"Customer {caller[-2:]}", wait_bye_ms=talk_ms)
    result = await asyncio.to_thread(run_sipp, asterisk, scenario, service=SALES_DID, timeout_s=60)
    return result.ok


async def run_acd_demo(
    asterisk: AsteriskInstance, daemon: Daemon, database_url: str, workdir: Path
) -> bool:
    line = workdir / "sales-line.yaml"
    line.write_text(SALES_LINE)
    ccpbx(database_url, "ivr", "activate", str(line), "--by", "demo-admin")
    admin, _ = await TokenRepository(daemon.database.pool).create("admin", "demo")
    phones = [SippPhone(asterisk, p) for p in AGENT_PHONES]
    try:
        async with api_client(daemon, admin) as call_api:
            print("-- queue 'sales' (longest idle, 2 s wrap-up) and two agents, by the admin API")
            await call_api(
                "PUT",
                "/api/queues/sales",
                {"strategy": "longest_idle", "wrapup_s": 2, "record": False},
            )
            for profile in AGENT_PHONES:
                await call_api(
                    "PUT",
                    f"/api/agents/{profile.name}",
                    {
                        "name": profile.label,
                        "pin": "1357",
                        "mode": "persistent",
                        "queues": {"sales": {"penalty": 0}},
                    },
                )
            print("-- the agents' desk phones register (SIPp, digest auth) and log in")
            for phone in phones:
                await asyncio.to_thread(phone.start)
                agent = await call_api(
                    "POST",
                    f"/api/agents/{phone.phone.name}/login",
                    {"endpoint": phone.phone.name, "mode": "persistent"},
                )
                print(f"  agent {phone.phone.name} ({phone.phone.label}): {agent['state']}")
            print("-- three customers call the sales line; two talk 8 s, the third waits")
            first = asyncio.gather(
                _call(asterisk, "15550201", 8000), _call(asterisk, "15550202", 8000)
            )
            await asyncio.sleep(1.5)
            third = asyncio.ensure_future(_call(asterisk, "15550203", 16000))
            await asyncio.sleep(4.5)
            queue = await call_api("GET", "/api/queues/sales")
            print(f"  while they talk: waiting {queue['waiting']}, agents {queue['agents']}")
            results = [*await first, await third]
            queue = await call_api("GET", "/api/queues/sales")
            print("-- GET /api/queues/sales (totals)")
            keys = ("offered", "answered", "abandoned", "service_level", "asa_s", "aht_s")
            print("  " + json.dumps({k: queue["total"][k] for k in keys}))
            print(f"  agents now: {queue['agents']}")
            rang = [phone.invites() for phone in phones]
            print(f"  agent phones rang {rang} time(s): once at login, never per call")
            return all(results) and queue["total"]["answered"] == 3 and rang == [1, 1]
    finally:
        for phone in phones:
            phone.stop()
