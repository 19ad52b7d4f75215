"""The agent's browser phone credentials: ``GET /api/agents/{agent}/softphone``.

Answers agent principals only (session or agent token), each for its own agent, with
``Cache-Control: no-store`` on every answer; see :mod:`ccpbx.pbx.softphones` for why
the password is derived and who may see it.
"""

from __future__ import annotations

from aiohttp import web

from ccpbx.errors import CcpbxError, Forbidden, NotFound
from ccpbx.http import admin
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import error_body, requires
from ccpbx.http.requests import agent_in_path
from ccpbx.pbx import softphones

routes = web.RouteTableDef()


async def _credentials(request: web.Request) -> dict[str, object]:
    token = request[REQUEST_TOKEN]
    if token.role != "agent":
        raise Forbidden("only the agent itself may read its browser phone's credentials")
    agent = agent_in_path(request)
    config = admin.config(request)
    sip = config.sip
    if not sip.softphone_key:
        raise NotFound(
            "browser phones are not configured: set [sip] softphone_key (and wss_port)",
            field="sip.softphone_key",
        )
    row = await admin.db(request).fetchrow(
        "SELECT display_name FROM users WHERE agent = $1 AND NOT disabled", agent
    )
    if row is None:
        raise NotFound(f"agent {agent} has no enabled user, so no browser phone", agent=agent)
    return softphones.credentials(
        sip.softphone_key,
        agent,
        display_name=row["display_name"],
        host=sip.domain or request.url.host or "localhost",
        wss_port=sip.wss_port,
        realm=sip.realm,
        domain=sip.domain,
    )


@routes.get("/api/agents/{agent}/softphone")
@requires("agent")
async def softphone(request: web.Request) -> web.Response:
    """The browser phone's WSS address, SIP identity and password (never cached)."""
    try:
        body = await _credentials(request)
    except CcpbxError as exc:
        return web.json_response(error_body(exc), status=exc.http_status, headers=admin.NO_STORE)
    return web.json_response(body, headers=admin.NO_STORE)


def setup_softphone_routes(app: web.Application) -> None:
    """Serve the route; the app must carry :func:`ccpbx.http.admin.provide`'s keys."""
    app.add_routes(routes)
