"""A browser session on the real daemon, with real Asterisk: an agent signed in with
the form logs its own agent in, pauses and unpauses it, follows the event websocket
with its cookie, and is refused another agent's actions."""

from __future__ import annotations

import aiohttp

from ccpbx.acd import AgentMode, AgentState
from ccpbx.users import accounts

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue

PW = "correct horse battery"


async def test_agent_session_drives_its_own_agent(start_daemon: StartDaemon) -> None:
    """Signed in through /login, agent 1001's user logs 1001 in, pauses and unpauses it
    (with the CSRF token) and sees its events on the websocket; 1002's pause is 403 and
    leaves 1002 alone; the session's actions, refused ones too, are in the audit log."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    await add_queue(daemon, "sales")
    for agent in ("1001", "1002"):
        await add_agent(daemon, agent, ["sales"], mode=AgentMode.RING)
    async with daemon.database.pool.acquire() as conn:
        await accounts.add(
            conn,
            "anna",
            role="agent",
            agent="1001",
            display_name="Anna",
            password=PW,
            min_length=12,
            actor="test",
            now=daemon.sign_in.clock(),
        )
    base = f"http://127.0.0.1:{daemon.http_port}"
    jar = aiohttp.CookieJar(unsafe=True)  # a browser's: keeps the cookie for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.post(f"{base}/login", data={"name": "anna", "password": PW}) as resp:
            # Followed to /agent, a page this branch does not serve: signed in all the same.
            assert resp.history[0].status == 303
            assert resp.history[0].headers["Location"] == "/agent"
        async with browser.get(f"{base}/api/session") as resp:
            session = await resp.json()
        assert (session["name"], session["agent"]) == ("anna", "1001")
        csrf = {"X-CSRF-Token": session["csrf_token"]}
        ws = await browser.ws_connect(f"{base}/api/events", origin=base)
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"

        async with browser.post(
            f"{base}/api/agents/1001/login", json={"endpoint": "1001"}, headers=csrf
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with browser.post(
            f"{base}/api/agents/1001/pause", json={"reason": "lunch"}, headers=csrf
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["pause_reason"] == "lunch"
        async with browser.post(f"{base}/api/agents/1001/unpause", json={}) as resp:
            assert resp.status == 403  # no CSRF token
            assert (await resp.json())["error_id"] == "csrf_failed"
        async with browser.post(
            f"{base}/api/agents/1002/login", json={"endpoint": "1002"}, headers=csrf
        ) as resp:
            assert resp.status == 403
        other = daemon.acd.state.agents.get("1002")
        assert other is None or other.state is AgentState.LOGGED_OUT
        async with browser.post(f"{base}/api/agents/1001/unpause", headers=csrf) as resp:
            assert resp.status == 200, await resp.text()
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.AVAILABLE)

        kinds = []
        while "agent_unpaused" not in kinds:
            item = await ws.receive_json(timeout=10)
            if item.get("type") == "acd":
                kinds.append(item["kind"])
        assert kinds[:3] == ["agent_logged_in", "agent_paused", "agent_unpaused"]
        await ws.close()
    rows = await daemon.database.pool.fetch(
        "SELECT actor, action, object_id, details->>'status' AS status FROM audit_log"
        " WHERE object_type = 'http' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("anna", "http.post", "/api/agents/1001/login", "200"),
        ("anna", "http.post", "/api/agents/1001/pause", "200"),
        ("anna", "http.post", "/api/agents/1001/unpause", "403"),
        ("anna", "http.post", "/api/agents/1002/login", "403"),
        ("anna", "http.post", "/api/agents/1001/unpause", "200"),
    ]
