"""ACD API: queues and their live statistics, agents and their state, agent actions,
supervisor listen/whisper/barge, recording control, and a websocket of live events.

An agent token (role ``agent``) acts only for its own agent: the token's subject is
the agent number. Supervisors and admins act for any agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

from aiohttp import WSMsgType, web

from ccpbx.acd import (
    AgentMode,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
    Strategy,
)
from ccpbx.errors import InvalidInput, NotFound
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import Handler, requires
from ccpbx.http.requests import agent_in_path, json_body
from ccpbx.queues import store
from ccpbx.queues.audience import visible_to
from ccpbx.queues.model import AgentRecord, QueueSpec, check_agent_id
from ccpbx.queues.service import QueueService

ACD = web.AppKey("acd", QueueService)
EVENTS_PATH = "/api/events"

routes = web.RouteTableDef()


@web.middleware
async def query_token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers cannot set headers on a websocket: ``/api/events?token=`` is accepted too."""
    token = request.query.get("token")
    if request.path == EVENTS_PATH and token and "Authorization" not in request.headers:
        headers = request.headers.copy()
        headers["Authorization"] = f"Bearer {token}"
        request = request.clone(headers=headers)
    return await handler(request)


def _service(request: web.Request) -> QueueService:
    return request.app[ACD]


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string", field=name)
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _text(body, name)


@routes.get("/api/queues")
@requires("agent")
async def list_queues(request: web.Request) -> web.Response:
    return web.json_response({"queues": _service(request).queues_view()})


@routes.get("/api/queues/{queue}")
@requires("agent")
async def get_queue(request: web.Request) -> web.Response:
    view = _service(request).queue_view(request.match_info["queue"], waiting=True)
    return web.json_response(view)


@routes.put("/api/queues/{queue}")
@requires("admin")
async def put_queue(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = request.match_info["queue"]
    try:
        overflow = body.get("overflow")
        config = QueueConfig(
            name=name,
            strategy=Strategy(body.get("strategy", "longest_idle")),
            wrapup_s=float(body.get("wrapup_s", 10)),
            ring_timeout_s=float(body.get("ring_timeout_s", 15)),
            max_wait_s=float(body["max_wait_s"]) if body.get("max_wait_s") else None,
            overflow=(
                OverflowTarget(OverflowKind(overflow["kind"]), str(overflow.get("target", "")))
                if overflow
                else None
            ),
            relaxation=tuple(
                RelaxationStep(
                    after_s=float(step["after_s"]),
                    skill=str(step["skill"]) if step.get("skill") is not None else None,
                    min_level=int(step["min_level"]) if step.get("min_level") is not None else None,
                    optional=bool(step.get("optional", False)),
                )
                for step in body.get("relaxation", [])
            ),
            service_level_s=float(body.get("service_level_s", 20)),
            short_abandon_s=float(body.get("short_abandon_s", 5)),
        )
        required = {str(k): int(v) for k, v in dict(body.get("required", {})).items()}
        spec = QueueSpec(
            config,
            required,
            bool(body.get("record", True)),
            announce_every_s=float(body.get("announce_every_s", 0)),
            announce_position=bool(body.get("announce_position", True)),
            announce_wait=bool(body.get("announce_wait", True)),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidInput(f"bad queue definition: {exc}") from exc
    await _service(request).configure_queue(spec)
    return web.json_response(_service(request).queue_view(name))


@routes.get("/api/agents")
@requires("agent")
async def list_agents(request: web.Request) -> web.Response:
    service = _service(request)
    agents = service.agents_view()
    for item in agents:
        item["stats"] = _agent_stats(service, item["agent"])
    return web.json_response({"agents": agents})


def _agent_stats(service: QueueService, agent: str) -> dict[str, Any]:
    counts = service.stats.agent_counts(agent)
    return {
        "offered": counts.offered,
        "answered": counts.answered,
        "no_answer": counts.no_answer,
        "handled": counts.handled,
        "aht_s": counts.aht_s,
    }


@routes.put("/api/agents/{agent}")
@requires("admin")
async def put_agent(request: web.Request) -> web.Response:
    body = await json_body(request)
    agent = check_agent_id(request.match_info["agent"])
    try:
        record = AgentRecord(
            agent=agent,
            name=str(body.get("name", "")),
            skills={str(k): int(v) for k, v in dict(body.get("skills", {})).items()},
            queues={
                str(q): Membership(int(m.get("penalty", 0)), int(m.get("position", 0)))
                for q, m in dict(body.get("queues", {})).items()
            },
            mode=AgentMode(body.get("mode", "ring")),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"bad agent definition: {exc}") from exc
    pool = _service(request).pool
    if pool is None:
        raise InvalidInput("no database configured for agent profiles")
    pin = body.get("pin")
    if pin is None:
        with contextlib.suppress(NotFound):
            old = await store.load_agent(pool(), agent)
            record = dataclasses.replace(record, pin_salt=old.pin_salt, pin_hash=old.pin_hash)
    saved = await store.save_agent(pool(), record, pin=str(pin) if pin is not None else None)
    return web.json_response({"agent": saved.agent, "name": saved.name, "mode": saved.mode.value})


@routes.post("/api/agents/{agent}/login")
@requires("agent")
async def login(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    body = await json_body(request)
    endpoint = _text(body, "endpoint")
    mode_text = _optional_text(body, "mode")
    try:
        mode = AgentMode(mode_text) if mode_text else None
    except ValueError as exc:
        raise InvalidInput("mode must be ring or persistent", field="mode") from exc
    paused = _optional_text(body, "paused")
    view = await _service(request).login(agent, endpoint, mode=mode, paused=paused)
    return web.json_response(view)


@routes.post("/api/agents/{agent}/logout")
@requires("agent")
async def logout(request: web.Request) -> web.Response:
    return web.json_response(await _service(request).logout(agent_in_path(request)))


@routes.post("/api/agents/{agent}/pause")
@requires("agent")
async def pause(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    reason = _text(await json_body(request), "reason")
    return web.json_response(await _service(request).pause(agent, reason))


@routes.post("/api/agents/{agent}/unpause")
@requires("agent")
async def unpause(request: web.Request) -> web.Response:
    return web.json_response(await _service(request).unpause(agent_in_path(request)))


@routes.post("/api/agents/{agent}/wrapup-done")
@requires("agent")
async def wrapup_done(request: web.Request) -> web.Response:
    return web.json_response(await _service(request).end_wrapup(agent_in_path(request)))


@routes.post("/api/agents/{agent}/spy")
@requires("supervisor")
async def spy(request: web.Request) -> web.Response:
    """Call the supervisor's own phone (``endpoint``) into listen, whisper or barge."""
    agent = check_agent_id(request.match_info["agent"])
    body = await json_body(request)
    endpoint, how = _text(body, "endpoint"), _text(body, "how")
    return web.json_response(await _service(request).spy(endpoint, agent, how))


@routes.post("/api/calls/{call_id}/recording")
@requires("supervisor")
async def recording(request: web.Request) -> web.Response:
    body = await json_body(request)
    paused = body.get("paused")
    if not isinstance(paused, bool):
        raise InvalidInput("paused must be true or false", field="paused")
    result = await _service(request).set_recording(request.match_info["call_id"], paused)
    return web.json_response(result)


@routes.get(EVENTS_PATH)
@requires("agent")
async def events(request: web.Request) -> web.WebSocketResponse:
    """Live ACD events; first a snapshot of queues and agents. An agent's socket gets
    its own agent's private events only (see :mod:`ccpbx.queues.audience`)."""
    service = _service(request)
    principal = request[REQUEST_TOKEN]
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    feed = service.subscribe()
    await ws.send_json(
        {"type": "snapshot", "queues": service.queues_view(), "agents": service.agents_view()}
    )

    async def drain_client() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        feed.close()

    reader = asyncio.create_task(drain_client(), name="acd-ws-reader")
    try:
        async for item in feed:
            if visible_to(item, principal.role, principal.subject):
                await ws.send_json(item)
        if feed.overflowed:
            await ws.close(code=1013, message=b"too slow: events dropped")
    finally:
        service.feed.unsubscribe(feed)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await ws.close()
    return ws
