"""Agent-panel API: an agent's screen pop, its wrap-up extension and manual calls.

``GET /api/agents/{agent}/screen-pop``: the pop of the agent's current call (offered or
connected), 404 ``no_call`` when it has none. ``POST /api/agents/{agent}/wrapup-extend``
``{"seconds": N}``: N more seconds of wrap-up (1-3600). ``POST
/api/agents/{agent}/call/dial`` ``{"number": "+1..."}``: a manual outbound call, checked
like a campaign call (:mod:`ccpbx.callcontrol.manual`). An agent token or session acts
only for its own agent; supervisors and admins for any. Wire it with
:func:`setup_agent_routes`.
"""

from __future__ import annotations

import math

from aiohttp import web

from ccpbx.callcontrol.manual import ManualDial
from ccpbx.errors import InvalidInput
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import requires
from ccpbx.http.requests import agent_in_path, json_body
from ccpbx.http.routes_acd import ACD
from ccpbx.queues.inbound_dispositions import InboundDispositions
from ccpbx.queues.screenpop import ScreenPops

SCREEN_POPS = web.AppKey("screen_pops", ScreenPops)
MANUAL_DIAL = web.AppKey("manual_dial", ManualDial)
# Read by the disposition route (routes_dialer) for calls that are not campaign calls.
INBOUND_DISPOSITIONS = web.AppKey("inbound_dispositions", InboundDispositions)
MAX_EXTEND_S = 3600.0

routes = web.RouteTableDef()


@routes.get("/api/agents/{agent}/screen-pop")
@requires("agent")
async def screen_pop(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    return web.json_response(await request.app[SCREEN_POPS].current(agent))


@routes.post("/api/agents/{agent}/wrapup-extend")
@requires("agent")
async def wrapup_extend(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    seconds = (await json_body(request)).get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 < seconds <= MAX_EXTEND_S
    ):
        raise InvalidInput(f"seconds must be a number in (0, {MAX_EXTEND_S:g}]", field="seconds")
    return web.json_response(await request.app[ACD].extend_wrapup(agent, float(seconds)))


@routes.post("/api/agents/{agent}/call/dial")
@requires("agent")
async def manual_dial(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    number = (await json_body(request)).get("number")
    token = request[REQUEST_TOKEN]
    actor = f"{token.role}:{token.subject or token.name}"
    return web.json_response(await request.app[MANUAL_DIAL].dial(agent, number, actor=actor))


def setup_agent_routes(
    app: web.Application, pops: ScreenPops, manual: ManualDial, inbound: InboundDispositions
) -> None:
    app[SCREEN_POPS] = pops
    app[MANUAL_DIAL] = manual
    app[INBOUND_DISPOSITIONS] = inbound
    app.add_routes(routes)
