"""Dialer API: campaigns (live figures, start, pause) and dispositions.

Roles, as a contact center runs its floor: agents read the disposition codes and
dispose of their own calls; supervisors watch, start and pause campaigns and may
dispose of any agent's call or any attempt (admins configure campaigns, through
the store's CLI). An agent token (role ``agent``) acts only for its own agent:
the token's subject is the agent number.

Wire it with :func:`setup_dialer_routes` (``app`` from :func:`ccpbx.http.app.make_app`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web

from ccpbx.dialer.control import DialerControl
from ccpbx.dialer.dispositions import (
    CallbackTimeRequired,
    NoCallToDispose,
    PoolSource,
    dispose_attempt,
    disposition,
)
from ccpbx.errors import InvalidInput, NotFound
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import requires
from ccpbx.http.requests import agent_in_path, json_body
from ccpbx.http.routes_agent import INBOUND_DISPOSITIONS
from ccpbx.queues.model import check_agent_id
from ccpbx.store.campaigns import list_dispositions

DIALER = web.AppKey("dialer", DialerControl)
DIALER_POOL: web.AppKey[Callable[[], asyncpg.Pool]] = web.AppKey("dialer_pool")

routes = web.RouteTableDef()


def setup_dialer_routes(app: web.Application, control: DialerControl, pool: PoolSource) -> None:
    """Serve the dialer API from ``app``: ``control`` is the campaign runner, ``pool`` the
    database pool (or a callable giving it, e.g. ``lambda: database.pool``)."""
    app[DIALER] = control
    app[DIALER_POOL] = (lambda: pool) if isinstance(pool, asyncpg.Pool) else pool
    app.add_routes(routes)


def _control(request: web.Request) -> DialerControl:
    return request.app[DIALER]


def _db(request: web.Request) -> asyncpg.Pool:
    return request.app[DIALER_POOL]()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Verdict:
    """A disposition request body: code, callback time and owner, note."""

    def __init__(self, body: dict[str, Any]) -> None:
        code = body.get("code")
        if not isinstance(code, str) or not code:
            raise InvalidInput("code must be a non-empty string", field="code")
        self.code = code
        raw = body.get("callback_at")
        self.callback_at: dt.datetime | None = None
        if raw is not None:
            try:
                self.callback_at = dt.datetime.fromisoformat(str(raw))
            except ValueError as exc:
                raise InvalidInput(
                    "callback_at must be an ISO 8601 date and time", field="callback_at"
                ) from exc
            if self.callback_at.tzinfo is None:
                raise InvalidInput(
                    "callback_at needs a time zone offset (e.g. +02:00 or Z)", field="callback_at"
                )
        self.callback_for = body.get("callback_for", "anyone")
        if not isinstance(self.callback_for, str) or not self.callback_for:
            raise InvalidInput("callback_for must be a string", field="callback_for")
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > 2000:
            raise InvalidInput("note must be a string of at most 2000 characters", field="note")
        self.note = note

    async def check(self, db: asyncpg.Pool) -> None:
        """Through the API a callback needs its time (only the keypad uses the default)."""
        disp = await disposition(db, self.code)
        if disp.is_callback and self.callback_at is None:
            raise CallbackTimeRequired(
                f"disposition {self.code!r} needs callback_at", field="callback_at"
            )


# -- dispositions ------------------------------------------------------------------
@routes.get("/api/dispositions")
@requires("agent")
async def get_dispositions(request: web.Request) -> web.Response:
    """The disposition codes and the keys that give them on the phone."""
    items = await list_dispositions(_db(request))
    return web.json_response(
        {
            "dispositions": [
                {
                    "code": d.code,
                    "label": d.label,
                    "key": d.dtmf_key,
                    "final": d.is_final,
                    "callback": d.is_callback,
                    "dnc": d.add_to_dnc,
                    "callback_delay_s": d.callback_delay_s if d.is_callback else None,
                }
                for d in items
            ]
        }
    )


@routes.post("/api/agents/{agent}/disposition")
@requires("agent")
async def dispose_agent_call(request: web.Request) -> web.Response:
    """Dispose of the call the agent is on or wrapping up (a campaign call's attempt,
    else an inbound call's record: see :mod:`ccpbx.queues.inbound_dispositions`).

    ``callback_for``: ``"me"`` reserves the callback for this agent, ``"anyone"``
    (default) lets any agent take it.
    """
    agent = agent_in_path(request)
    verdict = _Verdict(await json_body(request))
    if verdict.callback_for not in ("me", "anyone"):
        raise InvalidInput('callback_for must be "me" or "anyone"', field="callback_for")
    await verdict.check(_db(request))
    control = _control(request)
    if control.attempt_of_agent(agent) is None:
        inbound = request.app.get(INBOUND_DISPOSITIONS)
        if inbound is None:
            raise NoCallToDispose(f"agent {agent} has no call to dispose", agent=agent)
        # Not a campaign call: the inbound call's record takes the code and note.
        token = request[REQUEST_TOKEN]
        actor = f"{token.role}:{token.subject or token.name}"
        result = await inbound.dispose(agent, verdict.code, note=verdict.note, actor=actor)
        return web.json_response(result)
    result = await control.dispose(
        agent,
        verdict.code,
        callback_at=verdict.callback_at,
        callback_for_agent=verdict.callback_for == "me",
        note=verdict.note,
    )
    return web.json_response(result)


@routes.post("/api/attempts/{attempt_id}/disposition")
@requires("supervisor")
async def dispose_attempt_route(request: web.Request) -> web.Response:
    """Dispose of any ended attempt; ``callback_for`` is ``"anyone"`` or an agent number."""
    try:
        attempt_id = uuid.UUID(request.match_info["attempt_id"])
    except ValueError as exc:
        raise NotFound("no such attempt", attempt_id=request.match_info["attempt_id"]) from exc
    verdict = _Verdict(await json_body(request))
    db = _db(request)
    await verdict.check(db)
    agent = None
    if verdict.callback_for != "anyone":
        agent = check_agent_id(verdict.callback_for)
    disposed = await dispose_attempt(
        db,
        attempt_id,
        verdict.code,
        _now(),
        callback_at=verdict.callback_at,
        callback_agent=agent,
        note=verdict.note,
    )
    return web.json_response(disposed.as_dict())


# -- previews ----------------------------------------------------------------------
@routes.get("/api/agents/{agent}/preview")
@requires("agent")
async def get_preview(request: web.Request) -> web.Response:
    """The contact a preview campaign reserved the agent for (404 when none)."""
    agent = agent_in_path(request)
    found = _control(request).preview(agent)
    if found is None:
        raise NotFound(f"agent {agent} has no preview", agent=agent)
    return web.json_response(found)


@routes.post("/api/agents/{agent}/preview")
@requires("agent")
async def act_on_preview(request: web.Request) -> web.Response:
    """``{"action": "dial"}`` places the call (it reaches this agent) or
    ``{"action": "skip"}`` gives the contact back without dialing."""
    agent = agent_in_path(request)
    action = (await json_body(request)).get("action")
    if action not in ("dial", "skip"):
        raise InvalidInput('action must be "dial" or "skip"', field="action")
    return web.json_response(await _control(request).preview_action(agent, action))


# -- campaigns ---------------------------------------------------------------------
@routes.get("/api/campaigns")
@requires("supervisor")
async def list_campaigns(request: web.Request) -> web.Response:
    return web.json_response({"campaigns": _control(request).campaigns_view()})


@routes.get("/api/campaigns/{name}")
@requires("supervisor")
async def get_campaign(request: web.Request) -> web.Response:
    return web.json_response(_control(request).campaign_view(request.match_info["name"]))


@routes.post("/api/campaigns/{name}/start")
@requires("supervisor")
async def start_campaign(request: web.Request) -> web.Response:
    return web.json_response(await _control(request).start_campaign(request.match_info["name"]))


@routes.post("/api/campaigns/{name}/pause")
@requires("supervisor")
async def pause_campaign(request: web.Request) -> web.Response:
    return web.json_response(await _control(request).pause_campaign(request.match_info["name"]))
