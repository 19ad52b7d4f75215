"""Fault case 6: `ccpbx serve` is SIGKILLed with IVR, queue and campaign calls in flight."""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from ccpbx.acd import AgentMode, AgentState, CallStatus, Membership, QueueConfig
from ccpbx.ami import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.ami.settings import AmiSettings
from ccpbx.queues import AgentRecord, QueueSpec, store
from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.dtmf import Keypad
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.sandbox.sipp import SippResult, Step, caller_scenario, run_sipp
from ccpbx.store.tokens import TokenRepository

from .conftest import CHAOS, StartDaemon, asterisk_channels, eventually
from .figures import Figures
from .test_acd_support import desk_phones
from .test_dialer_restart import serve_until_healthy
from .test_ivr_calls import activate, call
from .test_service import write_config

MENU_DID = "18005550161"
QUEUE_DID = "18005550162"

# Callers who stay in the menu well past the kill: no key, long timeouts.
MENU_FLOW = f"""
flow: kill_menu
dids: ["{MENU_DID}"]
languages: [en]
sound_languages: [en]
start: main
prompts: {{beep: beep, bye: vm-goodbye}}
nodes:
  main:
    kind: menu
    prompt: beep
    choices: {{"2": bye}}
    timeout_ms: 20000
    retries: 4
    timeout_prompt: beep
    invalid_prompt: beep
    fallback: bye
  bye: {{kind: hangup, prompt: bye}}
"""

QUEUE_FLOW = f"""
flow: kill_sales
dids: ["{QUEUE_DID}"]
languages: [en]
sound_languages: [en]
start: wait
nodes:
  wait: {{kind: queue, queue: sales, target: "ccpbx-queue-enter,s,1"}}
"""


@dataclass(frozen=True)
class Size:
    """How many calls of each kind are in flight at the kill."""

    ivr: int
    talking: int
    waiting: int
    contacts: int
    campaign_agents: int
    campaign_up: int
    answer_pct: int = 55
    """Customers who answer; fewer make the predictive pacer dial more calls at once."""

    @property
    def sales_agents(self) -> tuple[str, ...]:
        return tuple(str(1001 + i) for i in range(self.talking))

    @property
    def outbound_agents(self) -> tuple[str, ...]:
        return tuple(str(1001 + self.talking + i) for i in range(self.campaign_agents))


class Observer:
    """Every AMI event Asterisk sent while the test ran, on a link of the test's own
    (it outlives both daemons), with the moment it arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, AmiMessage]] = []

    def __call__(self, event: AmiMessage) -> None:
        self.events.append((time.monotonic(), event))

    def uniqueids_of(self, caller: str) -> set[str]:
        """The channels a SIPp caller (by its number) made."""
        return {
            e.get("Uniqueid") or ""
            for _, e in self.events
            if e.name == "Newchannel" and e.get("CallerIDNum") == caller
        }

    def steps(self, uniqueid: str, after: float) -> list[tuple[str, str, str]]:
        """(context, application, data) of each dialplan step the channel ran after ``after``."""
        return [
            (e.get("Context") or "", e.get("Application") or "", e.get("AppData") or "")
            for t, e in self.events
            if t >= after and e.name == "Newexten" and e.get("Uniqueid") == uniqueid
        ]

    def hung_up(self, uniqueid: str) -> AmiMessage | None:
        return next(
            (e for _, e in self.events if e.name == "Hangup" and e.get("Uniqueid") == uniqueid),
            None,
        )


@pytest.fixture
async def observer(asterisk: AsteriskInstance) -> AsyncIterator[Observer]:
    """The test's own AMI link to the sandbox, recording every event."""
    s = asterisk.settings
    client = AmiClient(
        AmiSettings(host="127.0.0.1", port=s.ami_port, username=s.ami_username, secret=s.ami_secret)
    )
    seen = Observer()
    client.on_event("*", seen)
    async with client:
        await client.wait_ready(15)
        yield seen


SMALL = Size(ivr=4, talking=2, waiting=3, contacts=30, campaign_agents=3, campaign_up=3)
FULL = Size(
    ivr=10, talking=4, waiting=6, contacts=120, campaign_agents=8, campaign_up=14, answer_pct=30
)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "size", [pytest.param(SMALL, id="small"), pytest.param(FULL, id="full", marks=CHAOS)]
)
async def test_killed_with_ivr_queue_and_campaign_calls(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    database_url: str,
    tmp_path: Path,
    figures: Figures,
    observer: Observer,
    size: Size,
) -> None:
    """ccpbx is SIGKILLed with callers in an IVR menu, callers talking to agents, callers
    waiting in a queue and a predictive campaign dialing: the talking callers stay in
    their agents' conferences and the new ccpbx shows them on those calls; the waiting
    callers are found in the same order and put through as agents free up; the IVR
    callers go to the fallback and hang up, new IVR calls work; the carrier never sees
    a number twice and every attempt is settled."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    http_port = free_tcp_port()
    config = tmp_path / "ccpbx.toml"
    write_config(config, asterisk, database_url, http_port)
    config.write_text(
        config.read_text()
        + '[dialer]\nabandon_prompt = "please-try-call-later"\n'
        + 'machine_prompt = "please-try-call-later"\n'
    )
    await activate(database_url, MENU_FLOW)
    await activate(database_url, QUEUE_FLOW)
    numbers = [(f"+1212557{i:04d}", NEW_YORK) for i in range(size.contacts)]
    sipp: list[asyncio.Future[SippResult]] = []

    # One thread per SIPp caller: more callers are up at once than the default pool has.
    threads = ThreadPoolExecutor(max_workers=size.ivr + size.talking + size.waiting + 2)

    def caller(number: str, did: str) -> None:
        scenario = caller_scenario(number, "Caller", wait_bye_ms=590_000)
        run = functools.partial(run_sipp, asterisk, scenario, service=did, timeout_s=600)
        sipp.append(asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(threads, run)))

    proc: asyncio.subprocess.Process | None = None
    try:
        campaign = await seed_campaign(pool, "mixed", numbers, wrapup_s=0.3)
        await store.save_queue(pool, QueueSpec(QueueConfig("sales", wrapup_s=0.5), {}, False))
        for agent in size.sales_agents:
            await store.save_agent(
                pool,
                AgentRecord(
                    agent, f"Agent {agent}", {}, {"sales": Membership()}, AgentMode.PERSISTENT
                ),
                pin="1234",
            )
        for agent in size.outbound_agents:
            await store.save_agent(
                pool,
                AgentRecord(
                    agent, f"Agent {agent}", {}, {"outbound": Membership()}, AgentMode.PERSISTENT
                ),
                pin="1234",
            )
        token, _ = await TokenRepository(pool).create("admin", "kill test")
        agents = (*size.sales_agents, *size.outbound_agents)
        with (
            Carrier(
                asterisk, answer_pct=size.answer_pct, busy_pct=15, congestion_pct=5, talk_s=3.0
            ) as carrier,
            desk_phones(asterisk, agents),
        ):
            proc = await serve_until_healthy(config, http_port, tmp_path / "serve.log")
            base = f"http://127.0.0.1:{http_port}"
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:

                async def get(path: str) -> Any:
                    async with http.get(f"{base}{path}") as r:
                        assert r.status == 200, await r.text()
                        return await r.json()

                async def on_call() -> dict[str, str]:
                    listed = (await get("/api/agents"))["agents"]
                    return {
                        a["agent"]: a["call_id"]
                        for a in listed
                        if a["agent"] in size.sales_agents and a["state"] == "on_call"
                    }

                async def waiting_ids() -> list[str]:
                    return [c["call_id"] for c in (await get("/api/queues/sales"))["calls"]]

                for agent in agents:
                    body = {"endpoint": agent, "mode": "persistent"}
                    async with http.post(f"{base}/api/agents/{agent}/login", json=body) as r:
                        assert r.status == 200, await r.text()
                # Callers talking to the sales agents, then callers waiting for them.
                for n in range(size.talking):
                    caller(f"1555020{n:02d}", QUEUE_DID)
                    await eventually(
                        lambda n=n: _len_at_least(on_call(), n + 1), timeout=30, interval=0.2
                    )
                talking_by_agent = await on_call()
                for n in range(size.waiting):
                    caller(f"1555030{n:02d}", QUEUE_DID)
                    await eventually(
                        lambda n=n: _len_at_least(waiting_ids(), n + 1), timeout=30, interval=0.2
                    )
                waiting = await waiting_ids()
                # Callers inside the menu (its script runs in the killed process).
                ivr_numbers = [f"1555040{n:02d}" for n in range(size.ivr)]
                for number in ivr_numbers:
                    caller(number, MENU_DID)

                async def in_menu() -> bool:
                    open_calls = await pool.fetchval(
                        "SELECT count(*) FROM ivr_calls WHERE flow = 'kill_menu'"
                        " AND outcome IS NULL"
                    )
                    return bool(open_calls == size.ivr)

                await eventually(in_menu, timeout=30, interval=0.2)
                async with http.post(f"{base}/api/campaigns/mixed/start") as r:
                    assert r.status == 200, await r.text()
                await eventually(
                    lambda: len(carrier.active()) >= size.campaign_up, timeout=60, interval=0.05
                )
                # Everything still where it was a moment ago, then the kill.
                assert await on_call() == talking_by_agent
                assert await waiting_ids() == waiting
            proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            async with asyncio.timeout(10):
                await proc.wait()
            campaign_up = len(carrier.active())
            open_at_kill = await pool.fetchval(
                "SELECT count(*) FROM call_attempts WHERE outcome IS NULL"
            )
            talking = sorted(talking_by_agent.values())

            # Without ccpbx: IVR callers take the fallback and are hung up, talking callers
            # stay in their agents' conferences.
            ivr_ids = {n: observer.uniqueids_of(n) for n in ivr_numbers}
            assert all(len(ids) == 1 for ids in ivr_ids.values()), ivr_ids
            ivr_calls = [next(iter(ids)) for ids in ivr_ids.values()]

            def ivr_all_ended() -> bool:
                return all(observer.hung_up(u) is not None for u in ivr_calls)

            await eventually(ivr_all_ended, timeout=30, interval=0.2)
            for uniqueid in ivr_calls:
                steps = observer.steps(uniqueid, killed_at)
                assert ("ccpbx-fallback", "Playback", "ss-noservice") in steps, steps
                hangup = observer.hung_up(uniqueid)
                assert hangup is not None
                assert hangup.get("Context") == "ccpbx-fallback-hangup", hangup.get("Context")
            # No channel is left in a script whose server died.
            concise = asterisk.cli("core show channels concise").splitlines()
            assert [c for c in concise if c.count("!") >= 13 and c.split("!")[5] == "AGI"] == []
            live = {u for u, _ in asterisk_channels(asterisk)}
            assert set(talking) <= live
            assert set(waiting) <= live
            rooms = {a: asterisk.cli(f"confbridge list ccpbx-agent-{a}") for a in talking_by_agent}

            # A new ccpbx takes over.
            restarted_at = time.monotonic()
            daemon = await start_daemon()
            acd = daemon.acd
            await acd.wait_ready(30)
            recovered_s = time.monotonic() - killed_at
            restart_s = time.monotonic() - restarted_at
            assert set(talking) <= set(acd.recovered["talking"])
            assert {a: acd.state.agents[a].call_id for a in talking_by_agent} == talking_by_agent
            assert all(acd.state.calls[c].status is CallStatus.CONNECTED for c in talking)
            for agent, call_id in talking_by_agent.items():
                leg = acd.persistent.leg(agent)
                assert leg is not None
                assert call_id in leg.callers
                assert acd.legs[call_id].channel in rooms[agent], rooms[agent]
            assert [c.call_id for c in acd.state.waiting("sales")] == waiting

            # The IVR calls the killed process left open are ended as failed.
            async def interrupted() -> list[str]:
                rows = await pool.fetch(
                    "SELECT outcome FROM ivr_calls WHERE uniqueid = ANY($1::text[])", ivr_calls
                )
                return [r["outcome"] for r in rows]

            await eventually(lambda: _all_set(interrupted()), timeout=30, interval=0.2)
            assert await interrupted() == ["failed"] * size.ivr

            # New IVR calls work: key 2 in the menu says goodbye.
            keys = Keypad(asterisk)
            fresh = await call(
                asterisk,
                MENU_DID,
                [Step.pause(1500), *keys.press("2", last=True)],
                caller="155504999",
                wait_bye_ms=15_000,
            )
            assert fresh.ok, fresh.errors
            ended = await eventually(
                lambda: pool.fetchval(
                    "SELECT end_node FROM ivr_calls WHERE caller = '155504999'"
                    " AND outcome IS NOT NULL"
                )
            )
            assert ended == "bye"

            # The campaign runs to its end with every attempt settled.
            async def finished() -> bool:
                left = await pool.fetchval(
                    """SELECT (SELECT count(*) FROM call_attempts WHERE outcome IS NULL)
                            + (SELECT count(*) FROM campaign_leads
                               WHERE status IN ('ready', 'leased') AND ready_at <= now())"""
                )
                return left == 0

            await eventually(finished, timeout=400, interval=1.0)
            settled_s = time.monotonic() - killed_at
            assert daemon.dialer is not None
            await daemon.dialer.pause_campaign("mixed")

            # Agents free up: each waiting caller is put through, in the order they waited.
            put_through: list[str] = []
            for ending in [*talking, *waiting][: len(waiting)]:
                agent = next(a for a, s in acd.state.agents.items() if s.call_id == ending)
                await daemon.ami.action("Hangup", Channel=acd.legs[ending].channel, timeout=5)
                nxt = waiting[len(put_through)]
                await eventually(lambda a=agent, c=nxt: acd.state.agents[a].call_id == c, 20)
                leg = acd.persistent.leg(agent)
                assert leg is not None
                await eventually(lambda c=nxt, lg=leg: c in lg.callers)
                put_through.append(nxt)
            assert put_through == waiting
            assert acd.state.waiting("sales") == []
            for call_id in [*talking, *waiting]:
                if call_id in acd.legs:
                    await daemon.ami.action(
                        "Hangup", Channel=acd.legs[call_id].channel, timeout=5, check=False
                    )
            results = await asyncio.wait_for(asyncio.gather(*sipp), 60)
            await eventually(
                lambda: all(
                    acd.state.agents[a].state in (AgentState.AVAILABLE, AgentState.WRAP_UP)
                    for a in size.sales_agents
                )
            )
            seen = carrier.numbers()
            overlaps = carrier.overlaps()
        rows = await pool.fetch(
            """SELECT e164, state, outcome, dialing_at IS NOT NULL AS dialed
               FROM call_attempts WHERE campaign_id = $1""",
            campaign.id,
        )
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        if not all(f.done() for f in sipp):  # a failure: end the callers' calls
            asterisk.cli("channel request hangup all")
        threads.shutdown(wait=True, cancel_futures=True)
        await pool.close()
    assert [r.errors for r in results if not r.ok] == []
    assert open_at_kill > 0
    assert campaign_up >= size.campaign_up
    assert max(seen.values()) == 1
    assert overlaps == []
    dialed = Counter(r["e164"] for r in rows if r["dialed"])
    assert max(dialed.values()) == 1
    assert set(seen) <= set(dialed)
    assert all(r["outcome"] is not None for r in rows)
    reconciled = [r for r in rows if r["state"] == "reconciled"]
    figures.checks(
        "ccpbx SIGKILLed mid IVR, queue and campaign calls: talking kept, waiting in order,"
        " IVR to fallback, no number twice"
    )
    figures["IVR at kill"] = size.ivr
    figures["talking"] = len(talking)
    figures["waiting"] = len(waiting)
    figures["campaign calls up"] = campaign_up
    figures["open attempts"] = open_at_kill
    figures["recovered talking"] = len(set(talking) & set(acd.recovered["talking"]))
    figures["recovered waiting"] = len(set(waiting) & set(acd.recovered["waiting"]))
    figures["reconciled"] = len(reconciled)
    figures["s kill to ACD recovered"] = recovered_s
    figures["s new daemon to ACD recovered"] = restart_s
    figures["s to settle campaign"] = settled_s


async def _all_set(values: Any) -> bool:
    found = await values
    return bool(found) and None not in found


async def _len_at_least(values: Any, count: int) -> bool:
    return len(await values) >= count
