"""The aiohttp application: middlewares, routes, and what they need."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from aiohttp import web

from ccpbx.health import HealthRegistry
from ccpbx.http import routes_system
from ccpbx.http.keys import (
    HEALTH,
    METRICS,
    SIGN_IN,
    TOKEN_FAILURES,
    VERIFY_TOKEN,
    TokenVerifier,
)
from ccpbx.http.middleware import auth_middleware, error_middleware
from ccpbx.metrics import MetricsRegistry
from ccpbx.users.limits import SourceLimiter

if TYPE_CHECKING:
    from ccpbx.queues.service import QueueService
    from ccpbx.users.service import SignIn


def make_app(
    health: HealthRegistry,
    metrics: MetricsRegistry,
    verify_token: TokenVerifier,
    acd: QueueService | None = None,
    sign_in: SignIn | None = None,
    token_failures_per_minute: int = 20,
) -> web.Application:
    """The app; with ``sign_in``, browsers sign in too (/login, /logout, /api/session).
    A source address past ``token_failures_per_minute`` failed bearer tokens gets 429."""
    middlewares = [error_middleware, auth_middleware]
    if acd is not None:
        from ccpbx.http import routes_acd

        middlewares.insert(1, routes_acd.query_token_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=1024 * 1024)
    app[HEALTH] = health
    app[METRICS] = metrics
    app[VERIFY_TOKEN] = verify_token
    app[TOKEN_FAILURES] = SourceLimiter(token_failures_per_minute, dt.timedelta(minutes=1))
    app.add_routes(routes_system.routes)
    if sign_in is not None:
        from ccpbx.http import sessions

        app[SIGN_IN] = sign_in
        app.add_routes(sessions.routes)
    if acd is not None:
        app[routes_acd.ACD] = acd
        app.add_routes(routes_acd.routes)
    return app
