"""Call-control API: an agent's actions on its current call (hold, transfer, three-way,
DTMF, mute, hang up), for the agent console and for ring-mode desk phones' apps.

``/api/agents/{agent}/call/...``: an agent token acts only for its own agent, a
supervisor (or admin) for any. No current call: 409 ``conflict``; a target the
agent's phone may not call: 403; a bad body: 400 naming the field.
"""

from __future__ import annotations

from aiohttp import web

from ccpbx.callcontrol.control import CallControl
from ccpbx.callcontrol.targets import parse_mode, parse_target
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import requires
from ccpbx.http.requests import agent_in_path, json_body

CALL_CONTROL = web.AppKey("call_control", CallControl)
PREFIX = "/api/agents/{agent}/call"

routes = web.RouteTableDef()


def _control(request: web.Request) -> CallControl:
    return request.app[CALL_CONTROL]


def _actor(request: web.Request) -> str:
    token = request[REQUEST_TOKEN]
    return f"{token.role}:{token.subject or token.name}"


@routes.get(PREFIX)
@requires("agent")
async def current(request: web.Request) -> web.Response:
    return web.json_response(_control(request).view(agent_in_path(request)))


@routes.post(f"{PREFIX}/hold")
@requires("agent")
async def hold(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).hold(agent, actor=_actor(request)))


@routes.post(f"{PREFIX}/unhold")
@requires("agent")
async def unhold(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).unhold(agent, actor=_actor(request)))


@routes.post(f"{PREFIX}/hangup")
@requires("agent")
async def hangup(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).hangup(agent, actor=_actor(request)))


@routes.post(f"{PREFIX}/dtmf")
@requires("agent")
async def dtmf(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    digits = (await json_body(request)).get("digits")
    result = await _control(request).dtmf(agent, digits, actor=_actor(request))
    return web.json_response(result)


@routes.post(f"{PREFIX}/mute")
@requires("agent")
async def mute(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).mute(agent, True, actor=_actor(request)))


@routes.post(f"{PREFIX}/unmute")
@requires("agent")
async def unmute(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).mute(agent, False, actor=_actor(request)))


@routes.post(f"{PREFIX}/transfer")
@requires("agent")
async def transfer(request: web.Request) -> web.Response:
    """Body: ``to`` (agent:N, queue:NAME or +E164), ``mode`` (blind, the default, or
    attended)."""
    agent = agent_in_path(request)
    body = await json_body(request)
    target, mode = parse_target(body.get("to")), parse_mode(body.get("mode"))
    result = await _control(request).transfer(agent, target, mode, actor=_actor(request))
    return web.json_response(result)


@routes.post(f"{PREFIX}/transfer/complete")
@requires("agent")
async def complete(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).complete(agent, actor=_actor(request)))


@routes.post(f"{PREFIX}/transfer/cancel")
@requires("agent")
async def cancel(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await _control(request).cancel(agent, actor=_actor(request)))


@routes.post(f"{PREFIX}/conference")
@requires("agent")
async def conference(request: web.Request) -> web.Response:
    """Body: ``to`` (agent:N or +E164), the third party."""
    agent = agent_in_path(request)
    target = parse_target((await json_body(request)).get("to"))
    result = await _control(request).conference(agent, target, actor=_actor(request))
    return web.json_response(result)


def setup_call_routes(app: web.Application, control: CallControl) -> None:
    app[CALL_CONTROL] = control
    app.add_routes(routes)
