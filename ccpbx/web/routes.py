"""Console pages: server-rendered Jinja2 shells whose JavaScript then talks only to the
public API (``/api/...``) and the event websocket, with the same auth as any client.

A page is an ordinary route marked with the role it needs; ``/static/`` is public
(nothing secret is in it) so that a sign-in page can load its stylesheet too.
"""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from ccpbx.http.admin import ADMIN_CONFIG
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.http.middleware import requires
from ccpbx.queues.model import check_agent_id
from ccpbx.web.assets import STATIC_PREFIX, StaticFiles, vendored_packages

TEMPLATES_DIR = StaticFiles().root.parent / "templates"
STATIC = web.AppKey("web_static", StaticFiles)
TEMPLATES = web.AppKey("web_templates", jinja2.Environment)

routes = web.RouteTableDef()


def templates(static: StaticFiles) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = {p.name: p.version for p in vendored_packages()}

    def vendor(name: str, file: str) -> str:
        """A vendored package's file, at the version the manifest pins."""
        return static.url(f"vendor/{name}-{versions[name]}/{file}")

    env.globals["static"] = static.url
    env.globals["vendor"] = vendor
    return env


def render(
    request: web.Request, name: str, *, connect_also: str = "", **context: Any
) -> web.Response:
    """The page ``name``; ``connect_also`` adds an origin its scripts may connect to
    (the browser phone's Asterisk websocket)."""
    html = request.app[TEMPLATES].get_template(name).render(**context)
    connect = f"'self' {connect_also}".strip()
    return web.Response(
        text=html,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            # Same-origin scripts, styles, fetches and websocket only: no CDN, no inline code.
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self';"
                f" img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@routes.get("/supervisor")
@requires("supervisor")
async def supervisor_page(request: web.Request) -> web.Response:
    """The supervisor wallboard: queues, agents, campaigns, live."""
    token = request.get(REQUEST_TOKEN)
    return render(
        request,
        "supervisor.html",
        title="Wallboard",
        who=token.name if token is not None else "",
        role=token.role if token is not None else "",
    )


@routes.get("/agent")
@requires("agent")
async def agent_page(request: web.Request) -> web.Response:
    """The agent panel. An agent sees its own; a supervisor or admin opens
    ``/agent?agent=N`` and acts for agent N (as the API lets it)."""
    token = request[REQUEST_TOKEN]
    if token.role == "agent":
        agent = token.subject or ""
        acting = False
    else:
        agent = check_agent_id(request.query.get("agent", ""))
        acting = True
    return render(
        request,
        "agent.html",
        title="Agent",
        who=token.name,
        role=token.role,
        agent=agent,
        acting=acting,
    )


@routes.get("/phone")
@requires("agent")
async def phone_page(request: web.Request) -> web.Response:
    """The agent's browser phone on its own: registration, ringing, answer, hang up."""
    token = request.get(REQUEST_TOKEN)
    sip = request.app[ADMIN_CONFIG]().sip if ADMIN_CONFIG in request.app else None
    wss = ""
    if sip is not None and sip.wss_port:
        wss = f"wss://{sip.domain or request.url.host or 'localhost'}:{sip.wss_port}"
    return render(
        request,
        "phone.html",
        connect_also=wss,
        title="Phone",
        who=token.name if token is not None else "",
        role=token.role if token is not None else "",
        agent=(token.subject or "") if token is not None and token.role == "agent" else "",
    )


def setup_web_routes(app: web.Application, static: StaticFiles | None = None) -> None:
    """Add the console's pages and ``/static/`` to ``app``."""
    files = static or StaticFiles()
    app[STATIC] = files
    app[TEMPLATES] = templates(files)
    app.router.add_get(STATIC_PREFIX + "{path:.+}", files.handle)
    app.add_routes(routes)
