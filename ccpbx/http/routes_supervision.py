"""Supervision API: pause reasons and agents' help requests.

- ``GET /api/pause-reasons`` (agent): the configured reasons ``{code, label, digits}``;
- ``POST /api/agents/{agent}/help {"note"}`` (agent, for itself): an open request, with
  the queue and call of the agent's current call if any; one open request per agent;
- ``GET /api/help`` (supervisor): the open requests, newest first;
- ``POST /api/help/{id}/answer {"how": listen|whisper|barge, "endpoint"}`` (supervisor):
  the supervisor's phone is called into ChanSpy on the agent's call, and the request
  is marked answered by that supervisor;
- ``POST /api/help/{id}/close`` (supervisor, or the agent for its own request).

Each change is published on ``/api/events`` as ``help_requested``, ``help_answered``
or ``help_closed`` with the request's fields.
"""

from __future__ import annotations

from aiohttp import web

from ccpbx.errors import InvalidInput
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import requires
from ccpbx.http.requests import agent_in_path, json_body
from ccpbx.queues.help import HelpDesk, check_how, check_note
from ccpbx.queues.reasons import PauseReasons

HELP = web.AppKey("help_desk", HelpDesk)
PAUSE_REASONS = web.AppKey("pause_reasons", PauseReasons)

routes = web.RouteTableDef()


def _desk(request: web.Request) -> HelpDesk:
    return request.app[HELP]


def _actor(request: web.Request) -> str:
    token = request[REQUEST_TOKEN]
    return f"{token.role}:{token.subject or token.name}"


def _request_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("a help request id is a positive number", field="id")
    return int(text)


@routes.get("/api/pause-reasons")
@requires("agent")
async def pause_reasons(request: web.Request) -> web.Response:
    return web.json_response({"reasons": request.app[PAUSE_REASONS].view()})


@routes.post("/api/agents/{agent}/help")
@requires("agent")
async def ask_for_help(request: web.Request) -> web.Response:
    agent = agent_in_path(request)
    note = check_note((await json_body(request)).get("note"))
    raised = await _desk(request).raise_request(agent, note, actor=_actor(request))
    return web.json_response(raised.view(), status=201)


@routes.get("/api/help")
@requires("supervisor")
async def open_requests(request: web.Request) -> web.Response:
    found = await _desk(request).open_requests()
    return web.json_response({"requests": [r.view() for r in found]})


@routes.post("/api/help/{id}/answer")
@requires("supervisor")
async def answer(request: web.Request) -> web.Response:
    body = await json_body(request)
    how = check_how(body.get("how"))
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidInput("endpoint (the supervisor's phone) is required", field="endpoint")
    result = await _desk(request).answer(_request_id(request), how, endpoint, by=_actor(request))
    return web.json_response(result)


@routes.post("/api/help/{id}/close")
@requires("agent")
async def close(request: web.Request) -> web.Response:
    token = request[REQUEST_TOKEN]
    own = token.subject if token.role == "agent" else None
    if token.role == "agent" and not own:
        raise InvalidInput("this agent token names no agent")
    closed = await _desk(request).close(_request_id(request), by=_actor(request), agent=own)
    return web.json_response(closed.view())


def setup_supervision_routes(app: web.Application, desk: HelpDesk, reasons: PauseReasons) -> None:
    app[HELP] = desk
    app[PAUSE_REASONS] = reasons
    app.add_routes(routes)
