"""ACD HTTP API and live events on the real daemon, with real Asterisk and SIPp phones:
agent actions with role checks, queue and agent statistics, the event websocket,
supervisor whisper (ChanSpy) and recording control (MixMonitor)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from ccpbx.acd import AgentState
from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store.tokens import TokenRepository

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, waiting_caller


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[dict[str, SippPhone]]:
    """Agent phone 1001 and supervisor phone 1006, registered, answering."""
    started: dict[str, SippPhone] = {}
    try:
        for n in ("1001", "1006"):
            phone = SippPhone(asterisk, Phone(n, f"pw-{n}-secret", rewrite_contact=False))
            phone.start()
            started[n] = phone
        yield started
    finally:
        for phone in started.values():
            phone.stop()


async def tokens(daemon: Daemon) -> dict[str, str]:
    repo = TokenRepository(daemon.database.pool)
    agent, _ = await repo.create("agent", "agent 1001", subject="1001")
    other, _ = await repo.create("agent", "agent 1002", subject="1002")
    supervisor, _ = await repo.create("supervisor", "sup")
    return {"agent": agent, "other": other, "supervisor": supervisor}


async def test_agent_api_stats_and_event_websocket(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: dict[str, SippPhone]
) -> None:
    """An agent token logs its own agent in (another agent's is refused), the websocket
    (token in the query) streams a snapshot then the agent's and the call's events, and
    queue statistics count the answered call with its wait."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    tok = await tokens(daemon)
    admin, _ = await TokenRepository(daemon.database.pool).create("admin", "ops")
    tok["admin"] = admin
    base = f"http://127.0.0.1:{daemon.http_port}"

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tok[name]}"}

    async with aiohttp.ClientSession() as http:
        # Queue and agent profiles by API (admin only).
        queue_body = {"wrapup_s": 0.5, "record": False, "strategy": "longest_idle"}
        async with http.put(
            f"{base}/api/queues/sales", json=queue_body, headers=auth("supervisor")
        ) as resp:
            assert resp.status == 403
        async with http.put(
            f"{base}/api/queues/sales", json=queue_body, headers=auth("admin")
        ) as resp:
            assert resp.status == 200, await resp.text()
        for agent in ("1001", "1002"):
            profile = {
                "name": f"Agent {agent}",
                "pin": "1357",
                "mode": "persistent",
                "queues": {"sales": {"penalty": 0}},
            }
            async with http.put(
                f"{base}/api/agents/{agent}", json=profile, headers=auth("admin")
            ) as resp:
                assert resp.status == 200, await resp.text()
        stored = await daemon.database.pool.fetchval(
            "SELECT wrapup_s FROM acd_queues WHERE name = 'sales'"
        )
        assert stored == 0.5

        ws = await http.ws_connect(f"{base}/api/events?token={tok['agent']}")
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        assert [q["queue"] for q in snapshot["queues"]] == ["sales"]

        async with http.post(
            f"{base}/api/agents/1001/login", json={"endpoint": "1002"}, headers=auth("other")
        ) as resp:
            assert resp.status == 403
            assert (await resp.json())["error_id"] == "forbidden"
        async with http.post(
            f"{base}/api/agents/1001/login",
            json={"endpoint": "1001", "mode": "persistent"},
            headers=auth("agent"),
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["state"] == "available"
        async with http.post(
            f"{base}/api/agents/1001/pause", json={"reason": "lunch"}, headers=auth("agent")
        ) as resp:
            assert (await resp.json())["pause_reason"] == "lunch"
        async with http.post(f"{base}/api/agents/1001/unpause", headers=auth("supervisor")) as resp:
            assert (await resp.json())["state"] == "available"

        call = await waiting_caller(daemon.ami, "sales")
        kinds = await _until(ws, "call_answered")
        assert kinds[:3] == ["agent_logged_in", "agent_paused", "agent_unpaused"]
        assert kinds[-3:] == ["call_enqueued", "call_offered", "call_answered"]

        async with http.get(f"{base}/api/queues/sales", headers=auth("agent")) as resp:
            queue = await resp.json()
        assert queue["total"]["offered"] == 1
        assert queue["total"]["answered"] == 1
        assert queue["total"]["asa_s"] < 1.0
        assert queue["agents"] == {"on_call": 1}
        assert queue["waiting"] == 0

        await daemon.ami.action("Hangup", Channel=daemon.acd.legs[call].channel, timeout=5)
        await _until(ws, "wrapup_ended")
        async with http.get(f"{base}/api/queues", headers=auth("agent")) as resp:
            (listed,) = (await resp.json())["queues"]
        assert listed["total"]["handled"] == 1
        assert listed["total"]["service_level"] == 1.0
        async with http.get(f"{base}/api/agents", headers=auth("agent")) as resp:
            (agent,) = (await resp.json())["agents"]
        assert agent["agent"] == "1001"
        assert agent["state"] == "available"
        assert agent["stats"]["handled"] == 1
        async with http.post(f"{base}/api/agents/1001/logout", headers=auth("agent")) as resp:
            assert (await resp.json())["state"] == "logged_out"
        await ws.close()


async def _until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[str]:
    kinds: list[str] = []
    while not kinds or kinds[-1] != kind:
        item = await ws.receive_json(timeout=10)
        if item.get("type") == "acd":  # not the screen pops and other pushes
            kinds.append(item["kind"])
    return kinds


async def test_supervisor_whisper_and_recording_pause(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: dict[str, SippPhone]
) -> None:
    """A recorded queue call is recorded with MixMonitor under its call id; a supervisor
    mutes and resumes the recording, then whispers from phone 1006: ChanSpy runs on the
    supervisor's channel with options ``qwE`` on the agent's channel only (the agent hears
    the supervisor, the caller does not)."""
    ami_events: list[AmiMessage] = []
    daemon = await start_daemon(events={"*": ami_events.append})
    await add_queue(daemon, "care", record=True)
    await add_agent(daemon, "1001", ["care"])
    tok = await tokens(daemon)
    acd = daemon.acd
    await acd.login("1001", "1001")
    call = await waiting_caller(daemon.ami, "care")
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    caller_channel = acd.legs[call].channel

    def event(name: str, **match: str) -> Any:
        return next(
            (
                e
                for e in ami_events
                if e.name == name and all(e.get(k) == v for k, v in match.items())
            ),
            None,
        )

    started = await eventually(lambda: event("MixMonitorStart", Channel=caller_channel))
    assert started is not None
    assert acd.legs[call].recording == f"ccpbx-{call}.wav"

    base = f"http://127.0.0.1:{daemon.http_port}"
    headers = {"Authorization": f"Bearer {tok['supervisor']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/calls/{call}/recording", json={"paused": True}) as resp:
            assert resp.status == 200, await resp.text()
        await eventually(lambda: event("MixMonitorMute", Channel=caller_channel, State="1"))
        async with http.post(f"{base}/api/calls/{call}/recording", json={"paused": False}) as resp:
            assert resp.status == 200
        await eventually(lambda: event("MixMonitorMute", Channel=caller_channel, State="0"))

        agent_channel = acd.agent_channel("1001")
        assert agent_channel.startswith("PJSIP/1001-")
        async with http.post(
            f"{base}/api/agents/1001/spy", json={"endpoint": "1006", "how": "whisper"}
        ) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert body["options"] == "qwE"
        assert body["channel"] == agent_channel

        spy = await eventually(lambda: event("ChanSpyStart"))
        assert spy.get("SpyeeChannel") == agent_channel
        assert spy.get("SpyerChannel", "").startswith("PJSIP/1006-")
        assert phones["1006"].invites() == 1

        def spy_app() -> str | None:
            for line in asterisk.cli("core show channels concise").splitlines():
                fields = line.split("!")
                if fields[0].startswith("PJSIP/1006-") and fields[5] == "ChanSpy":
                    return fields[6]
            return None

        assert await eventually(spy_app) == f"{agent_channel},qwE"
        # Only the agent's channel is spied on; the caller's channel is not.
        assert not any(
            e.name == "ChanSpyStart" and e.get("SpyeeChannel") == caller_channel for e in ami_events
        )

        async with http.post(
            f"{base}/api/agents/1001/spy",
            json={"endpoint": "1006", "how": "shout"},
        ) as resp:
            assert resp.status == 400
    await asyncio.sleep(0)


async def test_queue_rules_by_api(start_daemon: StartDaemon) -> None:
    """PUT /api/queues takes overflow, skill relaxation and announcement settings and
    shows them back; an overflow to an unknown queue, a voicemail overflow without a
    mailbox and announcements more often than every 5 s are refused with 400."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    admin, _ = await TokenRepository(daemon.database.pool).create("admin", "ops")
    base = f"http://127.0.0.1:{daemon.http_port}/api/queues"
    headers = {"Authorization": f"Bearer {admin}"}
    sales = {
        "record": False,
        "max_wait_s": 90,
        "overflow": {"kind": "queue", "target": "care"},
        "relaxation": [{"after_s": 30, "skill": "french", "min_level": 1}],
        "required": {"french": 3},
        "announce_every_s": 30,
        "announce_wait": False,
    }
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{base}/sales", json=sales, headers=headers) as resp:
            assert resp.status == 400, await resp.text()  # "care" does not exist yet
        async with http.put(f"{base}/care", json={"record": False}, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        async with http.put(f"{base}/sales", json=sales, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            view = await resp.json()
        assert view["overflow"] == {"kind": "queue", "target": "care"}
        assert (view["max_wait_s"], view["announce_every_s"]) == (90, 30)
        assert (view["announce_position"], view["announce_wait"]) == (True, False)
        config = daemon.acd.state.queue("sales")
        assert [(s.after_s, s.skill, s.min_level) for s in config.relaxation] == [(30, "french", 1)]
        for bad in (
            {"max_wait_s": 60, "overflow": {"kind": "voicemail", "target": ""}},
            {"announce_every_s": 2},
            {"relaxation": [{"after_s": 5}]},
        ):
            async with http.put(f"{base}/care", json=bad, headers=headers) as resp:
                assert resp.status == 400, (bad, await resp.text())
