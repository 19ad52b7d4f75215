"""The aiohttp application: middlewares, routes, and what they need."""

from __future__ import annotations

from aiohttp import web

from ccpbx.health import HealthRegistry
from ccpbx.http import routes_system
from ccpbx.http.keys import HEALTH, METRICS, VERIFY_TOKEN, TokenVerifier
from ccpbx.http.middleware import auth_middleware, error_middleware
from ccpbx.metrics import MetricsRegistry


def make_app(
    health: HealthRegistry, metrics: MetricsRegistry, verify_token: TokenVerifier
) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=1024 * 1024
    )
    app[HEALTH] = health
    app[METRICS] = metrics
    app[VERIFY_TOKEN] = verify_token
    app.add_routes(routes_system.routes)
    return app
