"""One place turns errors into HTTP, one place checks who is asking and their role.

A request is authenticated by a bearer token or by a browser session cookie; both give
``request[REQUEST_TOKEN]`` (role, and for an agent the agent number as subject), so
``requires`` and ``agent_in_path`` treat them alike. A session request that changes
state needs the session's CSRF token; one that opens a websocket must come from this
site (Origin). Pages (paths outside /api/) send someone not signed in to /login.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from ccpbx.errors import CcpbxError, Forbidden, TooManyRequests, Unauthorized, Unavailable
from ccpbx.http.keys import REQUEST_SESSION, REQUEST_TOKEN, SIGN_IN, TOKEN_FAILURES, VERIFY_TOKEN
from ccpbx.http.sessions_cookie import client_address, login_url, read_session_id, same_origin
from ccpbx.store.tokens import ROLES, ApiToken
from ccpbx.users.store import Session

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/health", "/status", "/metrics", "/login"})
PUBLIC_PREFIXES = ("/static/",)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_UNAVAILABLE_S = 5  # a component is down: clients try again after this long
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_SELF_AUDITED = frozenset({"/logout"})  # its handler writes its own audit entry
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class CsrfRefused(Forbidden):
    error_id = "csrf_failed"


class OriginRefused(Forbidden):
    error_id = "origin_refused"


def requires(role: str) -> Callable[[Handler], Handler]:
    """Mark a handler as needing at least ``role`` (agent < supervisor < admin)."""
    if role not in _ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def mark(handler: Handler) -> Handler:
        handler.ccpbx_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def error_body(error: CcpbxError) -> dict[str, Any]:
    return error.to_dict()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CcpbxError as exc:
        headers = (
            {"WWW-Authenticate": 'Bearer realm="ccpbx"'} if isinstance(exc, Unauthorized) else None
        )
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after_s)}
        elif isinstance(exc, Unavailable):
            headers = {"Retry-After": str(RETRY_UNAVAILABLE_S)}
        return web.json_response(error_body(exc), status=exc.http_status, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        body = {
            "error_id": exc.reason.lower().replace(" ", "_"),
            "message": exc.reason,
            "details": {},
        }
        return web.json_response(body, status=exc.status)
    except Exception:
        log.exception("http_handler_failed", path=request.path, method=request.method)
        body = {"error_id": "internal_error", "message": "internal error", "details": {}}
        return web.json_response(body, status=500)


def _session_principal(session: Session) -> ApiToken:
    """A session's user as the token shape routes read: role, and the agent as subject."""
    user = session.user
    return ApiToken(
        id=user.id,
        name=user.name,
        role=user.role,
        subject=user.agent,
        created_at=session.created_at,
        expires_at=session.expires_at,
        revoked_at=None,
    )


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def _watched(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A websocket opened with a session: its connection is dropped once the session
    ends (signed out, idle, past its lifetime, its user disabled)."""
    sign_in = request.app[SIGN_IN]
    session_id = read_session_id(request)
    assert session_id is not None

    async def watch() -> None:
        while True:
            await asyncio.sleep(sign_in.settings.recheck_s)
            try:
                alive = await sign_in.alive(session_id)
            except (OSError, asyncpg.PostgresError, CcpbxError):
                continue  # the database is away: keep the link, ask again later
            if not alive:
                log.info("session_websocket_dropped", user=request[REQUEST_TOKEN].name)
                if request.transport is not None:
                    request.transport.close()
                return

    watcher = asyncio.create_task(watch(), name="session-websocket-watch")
    try:
        return await _authorized(request, handler)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def _is_page(path: str) -> bool:
    return not path.startswith("/api/")


async def _check_csrf(request: web.Request, session: Session) -> None:
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in _FORM_TYPES:
        supplied = (await request.post()).get(CSRF_FIELD)  # type: ignore[assignment]
    if not isinstance(supplied, str) or not hmac.compare_digest(
        supplied.encode(), session.csrf_token.encode()
    ):
        raise CsrfRefused(
            f"a signed-in request that changes something needs the session's CSRF token"
            f" ({CSRF_HEADER} header or {CSRF_FIELD} form field; GET /api/session gives it)"
        )


async def _checked_token(request: web.Request, token: str) -> ApiToken:
    """The token's principal; a source address with too many failed tokens within a
    minute is refused (429, Retry-After) before any check, so guessing costs ccpbx
    (and the calls it serves) nothing more."""
    limiter = request.app[TOKEN_FAILURES]
    source = client_address(request) or ""
    now = dt.datetime.now(dt.UTC)
    if limiter.blocked(source, now):
        raise TooManyRequests(
            "too many failed tokens from this address: wait a minute",
            retry_after_s=int(limiter.window.total_seconds()),
        )
    try:
        return await request.app[VERIFY_TOKEN](token)
    except Unauthorized:
        limiter.failed(source, now)
        raise


async def _authenticate(request: web.Request) -> ApiToken:
    """The bearer token, else the session cookie; Unauthorized (or, for a page, a
    redirect to the sign-in form) when there is neither."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        return await _checked_token(request, token.strip())
    sign_in = request.app.get(SIGN_IN)
    session_id = read_session_id(request) if sign_in is not None else None
    session = await sign_in.resume(session_id) if sign_in and session_id else None
    if session is None:
        if sign_in is not None and _is_page(request.path):
            raise web.HTTPSeeOther(login_url(request))
        if session_id:
            raise Unauthorized("the session has ended (signed out or idle too long): sign in")
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    request[REQUEST_SESSION] = session
    if _is_websocket(request) and not same_origin(request):
        # A page on another site may open a websocket with the browser's cookie.
        raise OriginRefused(
            "a websocket opened with a session cookie must come from this site's pages",
            origin=request.headers.get("Origin"),
        )
    return _session_principal(session)


async def optional_principal(request: web.Request) -> ApiToken | None:
    """Who asks on a public path, if they say so (a token or session that does not
    check out counts as nobody: public paths answer everyone)."""
    try:
        return await _authenticate(request)
    except (CcpbxError, web.HTTPException):
        return None


async def _authorized(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler, once the caller's role is enough for it."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # unknown route or method: its own 404/405
    # A route that does not say which role it needs is for admins only.
    needed = getattr(request.match_info.handler, "ccpbx_role", "admin")
    role = request[REQUEST_TOKEN].role
    if _ROLE_RANK[role] < _ROLE_RANK[needed]:
        raise Forbidden(
            f"this needs the {needed} role; the token has {role}", needed=needed, role=role
        )
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    request[REQUEST_TOKEN] = await _authenticate(request)
    session = request.get(REQUEST_SESSION)
    if session is not None and _is_websocket(request):
        return await _watched(request, handler)
    if session is None or request.method not in STATE_CHANGING:
        return await _authorized(request, handler)
    if request.path in _SELF_AUDITED:
        await _check_csrf(request, session)
        return await _authorized(request, handler)
    # A state-changing call through a session is audited, refused or not.
    status = 500
    try:
        await _check_csrf(request, session)
        response = await _authorized(request, handler)
        status = response.status
        return response
    except (CcpbxError, web.HTTPException) as exc:
        status = exc.http_status if isinstance(exc, CcpbxError) else exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        await request.app[SIGN_IN].audit_request(
            session, request.method, route, request.path, status
        )
