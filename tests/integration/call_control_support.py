"""Helpers of the call-control tests (no tests here): the API as an agent or supervisor
calls it, AMI events as Asterisk sent them, conference and bridge membership as
Asterisk reports it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.store.tokens import TokenRepository

WATCHED = ("MusicOnHoldStart", "MusicOnHoldStop", "DTMFEnd", "ConfbridgeJoin", "Newexten")


@dataclass
class Events:
    """AMI events of the watched kinds, in arrival order."""

    seen: list[AmiMessage] = field(default_factory=list)

    def on(self, event: AmiMessage) -> None:
        self.seen.append(event)

    def of(self, name: str, uniqueid: str, since: int = 0) -> list[AmiMessage]:
        return [e for e in self.seen[since:] if e.name == name and e.get("Uniqueid") == uniqueid]

    def mark(self) -> int:
        return len(self.seen)


def watch(daemon: Daemon) -> Events:
    events = Events()
    for name in WATCHED:
        daemon.ami.on_event(name, events.on)
    return events


async def conference_members(daemon: Daemon, agent: str) -> dict[str, dict[str, str]]:
    """Uniqueid -> ConfbridgeList entry of each member of the agent's conference."""
    result = await daemon.ami.action(
        "ConfbridgeList", Conference=f"ccpbx-agent-{agent}", timeout=5, check=False
    )
    return {
        e.get("Uniqueid") or "": {k: e.get(k) or "" for k in ("Channel", "Muted", "MarkedUser")}
        for e in result.events
        if e.name == "ConfbridgeList"
    }


def bridged_with(daemon: Daemon, uniqueid: str, prefix: str) -> bool:
    """Asterisk's view (BridgeEnter/Leave): the channel shares a bridge with one whose
    name starts with ``prefix``."""
    snap = daemon.channels.snapshot()
    me = next((c for c in snap if c["uniqueid"] == uniqueid), None)
    return bool(
        me
        and me["bridge_id"]
        and any(
            c["channel"].startswith(prefix) and c["bridge_id"] == me["bridge_id"]
            for c in snap
            if c["uniqueid"] != uniqueid
        )
    )


Post = Callable[..., Any]


@dataclass
class Api:
    http: aiohttp.ClientSession
    base: str
    tokens: dict[str, str]

    async def post(
        self, who: str, agent: str, action: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST /api/agents/{agent}/call/{action} with ``who``'s token."""
        async with self.http.post(
            f"{self.base}/api/agents/{agent}/call/{action}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        ) as resp:
            return resp.status, await resp.json()


@asynccontextmanager
async def api(daemon: Daemon, agents: tuple[str, ...]) -> AsyncIterator[Api]:
    """The daemon's API with an agent token per agent (named by the agent) and a
    supervisor token ("supervisor")."""
    repo = TokenRepository(daemon.database.pool)
    tokens = {}
    for agent in agents:
        tokens[agent], _ = await repo.create("agent", f"agent {agent}", subject=agent)
    tokens["supervisor"], _ = await repo.create("supervisor", "sup")
    async with aiohttp.ClientSession() as http:
        yield Api(http, f"http://127.0.0.1:{daemon.http_port}", tokens)


async def audit_actions(daemon: Daemon, call_id: str) -> list[tuple[str, str]]:
    """(action, actor) of the audit log entries about a call, oldest first."""
    rows = await daemon.database.pool.fetch(
        "SELECT action, actor FROM audit_log WHERE object_id = $1 ORDER BY id", call_id
    )
    return [(r["action"], r["actor"]) for r in rows]


async def pushed(ws: aiohttp.ClientWebSocketResponse, action: str, timeout: float = 10.0) -> Any:
    """The next ``call_control`` message of ``action`` the event websocket pushes."""
    async with asyncio.timeout(timeout):
        while True:
            item = await ws.receive_json()
            if item.get("type") == "call_control" and item.get("action") == action:
                return item
