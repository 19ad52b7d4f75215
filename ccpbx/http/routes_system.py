"""Liveness, status, metrics and the caller's identity."""

from __future__ import annotations

from aiohttp import web

from ccpbx import __version__
from ccpbx.http.keys import HEALTH, METRICS, REQUEST_TOKEN
from ccpbx.http.middleware import optional_principal, requires

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. Components are in /status."""
    return web.json_response({"status": "alive", "version": __version__})


@routes.get("/status")
async def status(request: web.Request) -> web.Response:
    """Each component's state for everyone (monitoring needs no token); the details
    (addresses, counts, last errors) only for an admin token or session."""
    snapshot = request.app[HEALTH].snapshot()
    code = 200 if snapshot["status"] == "ok" else 503
    who = await optional_principal(request)
    if who is None or who.role != "admin":
        snapshot = {
            "status": snapshot["status"],
            "components": {
                name: {"up": part["up"], "state": part["state"]}
                for name, part in snapshot["components"].items()
            },
        }
    return web.json_response({**snapshot, "version": __version__}, status=code)


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
