"""The session cookie and what guards it: its flags, the sign-in redirect target, the
Origin of a websocket. No database here."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from aiohttp import web

from ccpbx.http.keys import SIGN_IN

PLAIN_NAME = "ccpbx_session"
# With Secure, the __Host- prefix makes the browser refuse a cookie set by a sub-domain or
# for another path, or one set without Secure.
SECURE_NAME = "__Host-ccpbx_session"


def is_secure(request: web.Request) -> bool:
    """Cookies are Secure on a TLS request, or always behind a TLS proxy (config)."""
    sign_in = request.app.get(SIGN_IN)
    return request.secure or (sign_in is not None and sign_in.settings.secure_cookies)


def cookie_name(request: web.Request) -> str:
    return SECURE_NAME if is_secure(request) else PLAIN_NAME


def read_session_id(request: web.Request) -> str | None:
    return request.cookies.get(cookie_name(request)) or None


def set_session_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    """A browser-session cookie (no Max-Age: closing the browser ends it too)."""
    response.set_cookie(
        cookie_name(request),
        value,
        path="/",
        httponly=True,
        secure=is_secure(request),
        samesite="Strict",
    )


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.set_cookie(
        cookie_name(request),
        "",
        path="/",
        max_age=0,
        httponly=True,
        secure=is_secure(request),
        samesite="Strict",
    )


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (no scheme, no host, no ``//`` or
    backslash a browser would read as another host); None otherwise."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/logout")):
        return None
    return target


def home_for(role: str) -> str:
    return "/agent" if role == "agent" else "/supervisor"


def login_url(request: web.Request) -> str:
    return "/login?" + urlencode({"next": request.path_qs})


def same_origin(request: web.Request) -> bool:
    """Does the request's Origin name this host (as the browser reached it)?"""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def client_address(request: web.Request) -> str | None:
    """The address sign-in and token limits count: the peer, or behind a trusted proxy
    the last address its X-Forwarded-For names that is not itself a trusted proxy."""
    sign_in = request.app.get(SIGN_IN)
    trusted = sign_in.settings.trusted_proxies if sign_in is not None else frozenset()
    address = request.remote
    if address not in trusted:
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted:
            return hop[:64]
    return address
