"""Browser sign-in routes: the sign-in form, signing in and out, and "who am I".

``POST /login`` takes a form (the page) or JSON (scripts, the console's own code); on
success it sets the session cookie and sends the browser on to ``next`` (a path on this
site) or to the role's home page. The form answers in HTML, JSON in JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ccpbx.errors import CcpbxError, Forbidden, InvalidInput
from ccpbx.http.keys import REQUEST_SESSION, REQUEST_TOKEN, SIGN_IN
from ccpbx.http.middleware import requires
from ccpbx.http.requests import json_body
from ccpbx.http.sessions_cookie import (
    clear_session_cookie,
    client_address,
    home_for,
    read_session_id,
    safe_next,
    same_origin,
    set_session_cookie,
)
from ccpbx.users.service import SignIn
from ccpbx.users.store import Session

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)
# The form page loads nothing from anywhere; it posts only to this site and is never framed.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

routes = web.RouteTableDef()


def _sign_in(request: web.Request) -> SignIn:
    return request.app[SIGN_IN]


def _form_page(
    next_path: str | None, name: str = "", error: str | None = None, status: int = 200
) -> web.Response:
    html = _ENV.get_template("login.html").render(next=next_path or "", name=name, error=error)
    return web.Response(
        text=html, content_type="text/html", charset="utf-8", status=status, headers=_PAGE_HEADERS
    )


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    """The sign-in form."""
    return _form_page(safe_next(request.query.get("next")))


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _credentials(request: web.Request) -> dict[str, Any]:
    if _is_json(request):
        return await json_body(request)
    form = await request.post()
    return {k: form.get(k) for k in ("name", "password", "next")}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    """Sign in: the session cookie, then on to ``next`` or the role's home page."""
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(request):
        # Another site's page (or a sandboxed frame, Origin "null") posting the form would
        # sign the browser in as its own user.
        raise Forbidden("sign in from this site's own form", origin=origin)
    body = await _credentials(request)
    name, password, next_raw = body.get("name"), body.get("password"), body.get("next")
    next_path = safe_next(next_raw if isinstance(next_raw, str) else None)
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        if _is_json(request):
            raise InvalidInput("name and password are required (text)")
        return _form_page(next_path, error="Enter your user name and password.", status=400)
    try:
        session_id, session = await _sign_in(request).sign_in(
            name, password, client_address(request)
        )
    except CcpbxError as exc:
        if _is_json(request):
            raise
        return _form_page(next_path, name=name, error=exc.message, status=exc.http_status)
    target = next_path or home_for(session.user.role)
    response: web.StreamResponse
    if _is_json(request):
        response = web.json_response({**_who(session), "redirect": target})
    else:
        response = _see_other(target)
    set_session_cookie(response, request, session_id)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/logout")
@requires("agent")
async def logout(request: web.Request) -> web.StreamResponse:
    """Sign out: the session ends here and in the database."""
    session = request.get(REQUEST_SESSION)
    if session is None:
        raise InvalidInput("signing out ends a browser session; this request has a bearer token")
    session_id = read_session_id(request)
    assert session_id is not None
    await _sign_in(request).sign_out(session_id, session, client_address(request))
    response: web.StreamResponse = (
        web.json_response({"signed_out": True}) if _is_json(request) else _see_other("/login")
    )
    clear_session_cookie(response, request)
    return response


def _who(session: Session) -> dict[str, Any]:
    user = session.user
    return {
        "name": user.name,
        "display_name": user.display_name,
        "role": user.role,
        "agent": user.agent,
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at.isoformat(),
    }


@routes.get("/api/session")
@requires("agent")
async def who_am_i(request: web.Request) -> web.Response:
    """Who is signed in, the CSRF token to send back, and the idle timeout."""
    idle = int(_sign_in(request).settings.idle.total_seconds())
    session = request.get(REQUEST_SESSION)
    if session is None:  # a bearer token: the same shape, without a session
        token = request[REQUEST_TOKEN]
        body: dict[str, Any] = {
            "name": token.name,
            "display_name": token.name,
            "role": token.role,
            "agent": token.subject,
            "csrf_token": None,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        }
    else:
        body = _who(session)
    return web.json_response(
        {**body, "idle_timeout_s": idle}, headers={"Cache-Control": "no-store"}
    )
