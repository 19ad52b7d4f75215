"""One place turns errors into HTTP, one place checks bearer tokens and roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from ccpbx.errors import CcpbxError, Forbidden, Unauthorized
from ccpbx.http.keys import REQUEST_TOKEN, VERIFY_TOKEN
from ccpbx.store.tokens import ROLES

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/health", "/status", "/metrics"})
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


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


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    api_token = await request.app[VERIFY_TOKEN](token.strip())
    request[REQUEST_TOKEN] = api_token
    if request.match_info.http_exception is not None:
        return await handler(request)  # unknown route or method: its own 404/405
    # A route that does not say which role it needs is for admins only.
    needed = getattr(request.match_info.handler, "ccpbx_role", "admin")
    if _ROLE_RANK[api_token.role] < _ROLE_RANK[needed]:
        raise Forbidden(
            f"this needs the {needed} role; the token has {api_token.role}",
            needed=needed,
            role=api_token.role,
        )
    return await handler(request)
