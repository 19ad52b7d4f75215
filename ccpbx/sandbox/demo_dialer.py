"""The outbound part of ``make demo``: an admin imports contacts and creates a predictive
campaign from the command line, the two agents (SIPp desk phones) join it, a supervisor
starts it through the API and watches its figures while a SIPp carrier plays the
customers (some answer, some are busy or congested, some never pick up)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.demo_acd import AGENT_PHONES
from ccpbx.sandbox.demo_api import api_client
from ccpbx.sandbox.demo_ivr import ccpbx
from ccpbx.sandbox.outbound import window_around_now
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store.tokens import TokenRepository

CONTACTS = 60


async def run_dialer_demo(
    asterisk: AsteriskInstance, daemon: Daemon, database_url: str, workdir: Path
) -> bool:
    contacts = workdir / "spring-contacts.csv"
    # The carrier answers, is busy, congested or rings out by the last two digits.
    numbers = [f"{7000 + i * 100 // CONTACTS:04d}" for i in range(CONTACTS)]
    lines = ["name,phone"] + [f"Customer {i},(212) 555-{n}" for i, n in enumerate(numbers)]
    contacts.write_text("\n".join(lines) + "\n")
    blocked = workdir / "do-not-call.csv"
    dnc = [f"+1212555{numbers[i]}" for i in (2, 11)]
    blocked.write_text("phone\n" + "\n".join(dnc) + "\n")
    print("-- the admin imports contacts and a do-not-call list, and creates the campaign")
    ccpbx(database_url, "contacts", "import", str(contacts), "--list", "spring", "--region", "US")
    ccpbx(database_url, "dnc", "import", str(blocked), "--source", "customer request")
    admin, _ = await TokenRepository(daemon.database.pool).create("admin", "demo dialer")
    async with api_client(daemon, admin) as call_api:
        # The campaign's agents are the members of an ACD queue, which must exist first.
        await call_api("PUT", "/api/queues/outbound", {"wrapup_s": 1, "record": False})
    window = window_around_now()
    ccpbx(
        database_url,
        *("campaign", "create", "spring", "--mode", "predictive", "--queue", "outbound"),
        *("--list", "spring", "--trunk", "carrier", "--caller-id", "+12125550000"),
        *("--window", str(window), "--ring-timeout", "15", "--retry", "busy=1800"),
    )
    phones = [SippPhone(asterisk, p) for p in AGENT_PHONES]
    try:
        return await _campaign(asterisk, daemon, admin, phones, set(dnc))
    finally:
        for phone in phones:
            phone.stop()


async def _campaign(
    asterisk: AsteriskInstance,
    daemon: Daemon,
    admin: str,
    phones: list[SippPhone],
    blocked: set[str],
) -> bool:
    async with api_client(daemon, admin) as call_api:
        print("-- the agents' phones register again; they join the campaign's queue too")
        for phone in phones:
            await asyncio.to_thread(phone.start)
        for profile in AGENT_PHONES:
            agent = profile.name
            await call_api("POST", f"/api/agents/{agent}/logout")
            await call_api(
                "PUT",
                f"/api/agents/{agent}",
                {
                    "name": profile.label,
                    "mode": "persistent",
                    "queues": {"sales": {"penalty": 0}, "outbound": {"penalty": 0}},
                },
            )
            await call_api(
                "POST", f"/api/agents/{agent}/login", {"endpoint": agent, "mode": "persistent"}
            )
        carrier = Carrier(asterisk, answer_pct=45, busy_pct=20, congestion_pct=10, talk_s=4.0)
        with carrier:
            print("-- the supervisor starts the campaign: POST /api/campaigns/spring/start")
            await call_api("POST", "/api/campaigns/spring/start")
            keys = ("placed", "in_flight", "answered", "connected", "abandoned", "unanswered")
            view: dict[str, Any] = {}
            for _ in range(120):
                await asyncio.sleep(2.0)
                view = await call_api("GET", "/api/campaigns/spring")
                print("  " + json.dumps({k: view[k] for k in keys}))
                left = await daemon.database.pool.fetchval(
                    """SELECT count(*) FROM campaign_leads l JOIN campaigns c
                         ON c.id = l.campaign_id
                       WHERE c.name = 'spring' AND (l.status = 'leased'
                             OR (l.status = 'ready' AND l.ready_at <= now()))"""
                )
                if left == 0 and view["in_flight"] == 0:
                    break
            agent = AGENT_PHONES[0].name
            if daemon.dialer is not None and daemon.dialer.attempt_of_agent(agent) is not None:
                print(f"-- agent {agent} gives the last call a disposition (API; or keys 1-6)")
                body = {"code": "sale"}
                done = await call_api("POST", f"/api/agents/{agent}/disposition", body)
                print("  " + json.dumps(done))
            await call_api("POST", "/api/campaigns/spring/pause")
            seen = carrier.numbers()
        rows = await daemon.database.pool.fetch(
            """SELECT a.outcome, count(*) AS n FROM call_attempts a JOIN campaigns c
                 ON c.id = a.campaign_id WHERE c.name = 'spring' GROUP BY a.outcome"""
        )
    outcomes = {r["outcome"]: r["n"] for r in rows}
    print(f"-- outcomes stored: {json.dumps(outcomes)}")
    print(
        f"  the carrier saw {len(seen)} numbers, none twice: {max(seen.values(), default=0) <= 1};"
        f" do-not-call numbers dialed: {sum(1 for n in seen if n in blocked)}"
    )
    rate = view["abandon_rate"]["today"]
    print(f"  abandon rate today {rate:.1%} (target {view['abandon_rate']['target']:.0%})")
    dials = Counter(seen)
    return (
        view.get("connected", 0) > 0
        and max(dials.values(), default=0) <= 1
        and not any(n in blocked for n in seen)
        and rate <= view["abandon_rate"]["target"]
    )
