"""Console routes: /static/ is public and cached by version, pages need their role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from ccpbx.health import HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.metrics import MetricsRegistry
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import TokenRepository
from ccpbx.web import setup_web_routes
from ccpbx.web.assets import LONG_CACHE, REVALIDATE, StaticFiles


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    app = make_app(HealthRegistry(), MetricsRegistry(), TokenChecks(lambda: pool, ttl_s=0).verify)
    setup_web_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def bearer(pool: asyncpg.Pool, role: str) -> dict[str, str]:
    token, _ = await TokenRepository(pool).create(role, f"test {role}")
    return {"Authorization": f"Bearer {token}"}


async def test_static_is_public_and_versioned_urls_are_cached_long(client: TestClient) -> None:
    """A script loads without a token; with its content hash in the URL it is cached for a
    year, without it it is revalidated; vendored files are cached for a year."""
    url = StaticFiles().url("js/supervisor.js")
    resp = await client.get(url)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Cache-Control"] == LONG_CACHE
    plain = await client.get("/static/js/supervisor.js")
    assert plain.headers["Cache-Control"] == REVALIDATE
    vendored = await client.get("/static/vendor/uplot-1.6.32/dist/uPlot.min.css")
    assert vendored.status == 200
    assert vendored.headers["Cache-Control"] == LONG_CACHE


@pytest.mark.parametrize(
    "path", ["/static/../routes.py", "/static/%2e%2e/routes.py", "/static/nope.js"]
)
async def test_static_serves_nothing_outside_its_folder(client: TestClient, path: str) -> None:
    """A path that leaves static/ (or names no file) is a 404, never a file elsewhere."""
    raw = URL(f"http://{client.host}:{client.port}{path}", encoded=True)  # as sent, not normalised
    async with client.session.get(raw) as resp:
        assert resp.status == 404


async def test_supervisor_page_needs_the_supervisor_role(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """No token: 401; an agent token: 403; a supervisor token gets the wallboard shell,
    whose scripts and styles are all same-origin /static/ URLs."""
    assert (await client.get("/supervisor")).status == 401
    assert (await client.get("/supervisor", headers=await bearer(pool, "agent"))).status == 403
    resp = await client.get("/supervisor", headers=await bearer(pool, "supervisor"))
    assert resp.status == 200
    html = await resp.text()
    assert 'id="queues"' in html
    assert "/static/js/supervisor.js?v=" in html
    assert "/static/vendor/uplot-1.6.32/dist/uPlot.esm.js?v=" in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_agent_page_is_the_agents_own_or_the_one_a_supervisor_names(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """An agent token gets its own agent's panel (whatever ?agent= says); a supervisor
    names the agent to act for (?agent=1002), and without one gets a 400; no inline
    script, only same-origin /static/ ones."""
    assert (await client.get("/agent")).status == 401
    token, _ = await TokenRepository(pool).create("agent", "agent 1001", subject="1001")
    own = await client.get("/agent?agent=1002", headers={"Authorization": f"Bearer {token}"})
    assert own.status == 200
    html = await own.text()
    assert 'data-agent="1001"' in html
    assert 'data-acting="no"' in html
    assert "/static/js/agent.js?v=" in html
    assert "<script>" not in html
    supervisor = await bearer(pool, "supervisor")
    acting = await client.get("/agent?agent=1002", headers=supervisor)
    assert acting.status == 200
    html = await acting.text()
    assert 'data-agent="1002"' in html
    assert 'data-acting="yes"' in html
    assert (await client.get("/agent", headers=supervisor)).status == 400
