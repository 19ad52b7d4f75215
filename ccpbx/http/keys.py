"""Typed keys for what the HTTP app holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ccpbx.health import HealthRegistry
from ccpbx.metrics import MetricsRegistry
from ccpbx.store.tokens import ApiToken

TokenVerifier = Callable[[str], Awaitable[ApiToken]]

HEALTH = web.AppKey("health", HealthRegistry)
METRICS = web.AppKey("metrics", MetricsRegistry)
VERIFY_TOKEN: web.AppKey[TokenVerifier] = web.AppKey("verify_token")
# Set on each authenticated request.
REQUEST_TOKEN = web.RequestKey("token", ApiToken)
