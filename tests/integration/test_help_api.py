"""Help requests, pause reasons and the window figures by API on the real daemon, with
real Asterisk and SIPp phones: an agent on a queue call asks for help, the supervisor
answers by whisper (ChanSpy with ``w`` on the agent's channel from the supervisor's
phone) and closes it; every step reaches the event websocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from ccpbx.acd import AgentState
from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_api import phones, tokens
from .test_acd_support import add_agent, add_queue, waiting_caller

__all__ = ["phones"]  # the fixture, imported for this module's tests


async def test_help_request_answered_by_whisper_then_closed(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: dict[str, SippPhone]
) -> None:
    """Agent 1001, talking to a caller of queue care, asks for help (its token cannot ask
    for 1002); the request names the queue and the call; a supervisor lists it, answers
    it by whisper from phone 1006 (ChanSpy ``qwE`` on the agent's channel) and closes it;
    help_requested, help_answered and help_closed reach the websocket in that order."""
    spies: list[AmiMessage] = []
    daemon = await start_daemon(events={"ChanSpyStart": spies.append})
    await add_queue(daemon, "care")
    await add_agent(daemon, "1001", ["care"])
    tok = await tokens(daemon)
    acd = daemon.acd
    await acd.login("1001", "1001")
    call = await waiting_caller(daemon.ami, "care")
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    base = f"http://127.0.0.1:{daemon.http_port}"

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tok[who]}"}

    seen: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{base}/api/events?token={tok['supervisor']}")
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"

        async def follow() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    item = msg.json()
                    if str(item.get("type", "")).startswith("help_"):
                        seen.append(item)

        reader = asyncio.create_task(follow())
        try:
            async with http.post(
                f"{base}/api/agents/1002/help", json={"note": "x"}, headers=auth("agent")
            ) as resp:
                assert resp.status == 403
            async with http.post(
                f"{base}/api/agents/1001/help",
                json={"note": "caller asks for a manager"},
                headers=auth("agent"),
            ) as resp:
                raised = await resp.json()
                assert resp.status == 201, raised
            assert (raised["agent"], raised["queue"], raised["call_id"]) == ("1001", "care", call)
            async with http.get(f"{base}/api/help", headers=auth("agent")) as resp:
                assert resp.status == 403
            async with http.get(f"{base}/api/help", headers=auth("supervisor")) as resp:
                listed = (await resp.json())["requests"]
            assert [(r["id"], r["note"]) for r in listed] == [
                (raised["id"], "caller asks for a manager")
            ]

            async with http.post(
                f"{base}/api/help/{raised['id']}/answer",
                json={"how": "whisper", "endpoint": "1006"},
                headers=auth("supervisor"),
            ) as resp:
                answered = await resp.json()
                assert resp.status == 200, answered
            agent_channel = acd.agent_channel("1001")
            assert agent_channel.startswith("PJSIP/1001-")
            assert (answered["answered_how"], answered["answered_by"]) == (
                "whisper",
                "supervisor:sup",
            )
            assert answered["spy"]["channel"] == agent_channel
            spy = await eventually(lambda: spies and spies[0])
            assert spy.get("SpyeeChannel") == agent_channel
            assert spy.get("SpyerChannel", "").startswith("PJSIP/1006-")

            def spy_app() -> str | None:
                for line in asterisk.cli("core show channels concise").splitlines():
                    fields = line.split("!")
                    if fields[0].startswith("PJSIP/1006-") and fields[5] == "ChanSpy":
                        return fields[6]
                return None

            assert await eventually(spy_app) == f"{agent_channel},qwE"

            async with http.post(
                f"{base}/api/help/{raised['id']}/close", headers=auth("supervisor")
            ) as resp:
                assert resp.status == 200
            async with http.get(f"{base}/api/help", headers=auth("supervisor")) as resp:
                assert (await resp.json())["requests"] == []
            await eventually(lambda: len(seen) >= 3)
        finally:
            await ws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert [(e["type"], e["id"]) for e in seen] == [
        ("help_requested", raised["id"]),
        ("help_answered", raised["id"]),
        ("help_closed", raised["id"]),
    ]
    assert seen[1]["answered_how"] == "whisper"


async def test_pause_reasons_and_window_figures_by_api(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: dict[str, SippPhone]
) -> None:
    """The agent reads the configured pause reasons; an unknown one is a 400 naming
    ``reason``, a listed one pauses; after one answered call the queue shows it in
    today's and the last 30 minutes' figures alongside the totals."""
    daemon = await start_daemon()
    await add_queue(daemon, "care")
    await add_agent(daemon, "1001", ["care"])
    tok = await tokens(daemon)
    acd = daemon.acd
    await acd.login("1001", "1001")
    await waiting_caller(daemon.ami, "care")
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    base = f"http://127.0.0.1:{daemon.http_port}"
    headers = {"Authorization": f"Bearer {tok['agent']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{base}/api/pause-reasons") as resp:
            reasons = (await resp.json())["reasons"]
        assert [r["code"] for r in reasons][:2] == ["break", "lunch"]
        assert reasons[1] == {"code": "lunch", "label": "Lunch", "digits": "2"}
        async with http.post(f"{base}/api/agents/1001/pause", json={"reason": "coffee"}) as resp:
            body = await resp.json()
            assert resp.status == 400
        assert body["details"]["field"] == "reason"
        async with http.post(f"{base}/api/agents/1001/pause", json={"reason": "lunch"}) as resp:
            assert resp.status == 200  # on a call: paused when its wrap-up ends
            assert (await resp.json())["pending_pause"] == "lunch"
        async with http.get(f"{base}/api/queues/care") as resp:
            queue = await resp.json()
    for window in ("total", "today", "last_30m"):
        assert (queue[window]["offered"], queue[window]["answered"]) == (1, 1), window
        assert queue[window]["abandon_rate"] == 0.0
    assert queue["today_start"] <= queue["at"]
