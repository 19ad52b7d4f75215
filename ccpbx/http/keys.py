"""Typed keys for what the HTTP app holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ccpbx.health import HealthRegistry
from ccpbx.metrics import MetricsRegistry
from ccpbx.store.tokens import ApiToken
from ccpbx.users.limits import SourceLimiter
from ccpbx.users.service import SignIn
from ccpbx.users.store import Session

TokenVerifier = Callable[[str], Awaitable[ApiToken]]

HEALTH = web.AppKey("health", HealthRegistry)
METRICS = web.AppKey("metrics", MetricsRegistry)
VERIFY_TOKEN: web.AppKey[TokenVerifier] = web.AppKey("verify_token")
# Failed bearer tokens per source address (429 past the limit).
TOKEN_FAILURES = web.AppKey("token_failures", SourceLimiter)
# Browser sign-in; absent when the app serves bearer tokens only.
SIGN_IN = web.AppKey("sign_in", SignIn)
# Set on each authenticated request: the bearer token, or for a browser session a token
# of the same shape (role; subject = the user's agent).
REQUEST_TOKEN = web.RequestKey("token", ApiToken)
# Set as well when the request came with a session cookie.
REQUEST_SESSION = web.RequestKey("session", Session)
