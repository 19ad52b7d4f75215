"""Liveness, status, metrics and the caller's identity."""

from __future__ import annotations

from aiohttp import web

from ccpbx import __version__
from ccpbx.http.keys import HEALTH, METRICS, REQUEST_TOKEN
from ccpbx.http.middleware import requires

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. Components are in /status."""
    return web.json_response({"status": "alive", "version": __version__})


@routes.get("/status")
async def status(request: web.Request) -> web.Response:
    snapshot = request.app[HEALTH].snapshot()
    return web.json_response(
        {**snapshot, "version": __version__}, status=200 if snapshot["status"] == "ok" else 503
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


@routes.get("/api/whoami")
@requires("agent")
async def whoami(request: web.Request) -> web.Response:
    token = request[REQUEST_TOKEN]
    return web.json_response({"name": token.name, "role": token.role, "subject": token.subject})
