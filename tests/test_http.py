"""HTTP API: public health endpoints, bearer tokens with roles, one error format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ccpbx.errors import NotFound
from ccpbx.health import ComponentStatus, HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.http.middleware import requires
from ccpbx.metrics import MetricsRegistry, Sample
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import TokenRepository

STATE = web.AppKey("state", dict)


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    health = HealthRegistry()
    state = {"ami_up": True}
    health.register(
        "ami",
        lambda: ComponentStatus("ami", state["ami_up"], "connected" if state["ami_up"] else "down"),
    )
    metrics = MetricsRegistry()
    metrics.register(
        lambda: [Sample("ccpbx_test_total", "counter", "a test counter", 3, (("node", 'a"b'),))]
    )
    app = make_app(health, metrics, TokenChecks(lambda: pool, ttl_s=0).verify)

    @requires("supervisor")
    async def supervised(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def missing(request: web.Request) -> web.Response:
        raise NotFound("no such queue", queue="q9")

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app.router.add_get("/api/supervised", supervised)
    app.router.add_get("/api/missing", requires("agent")(missing))
    app.router.add_get("/api/broken", requires("agent")(broken))
    app[STATE] = state
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def test_health_needs_no_token(client: TestClient) -> None:
    """/health answers without a token."""
    resp = await client.get("/health")
    assert resp.status == 200
    assert (await resp.json())["status"] == "alive"


async def test_status_reports_each_component(client: TestClient) -> None:
    """/status is 200 with every component up, 503 naming the one that is down."""
    resp = await client.get("/status")
    assert resp.status == 200
    assert (await resp.json())["components"]["ami"]["up"] is True
    client.app[STATE]["ami_up"] = False
    resp = await client.get("/status")
    body = await resp.json()
    assert resp.status == 503
    assert body["status"] == "degraded"
    assert body["components"]["ami"] == {"up": False, "state": "down"}


async def test_metrics_text_format(client: TestClient) -> None:
    """/metrics is Prometheus text with HELP, TYPE and escaped labels."""
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert "# TYPE ccpbx_test_total counter" in text
    assert 'ccpbx_test_total{node="a\\"b"} 3' in text


async def test_api_needs_a_bearer_token(client: TestClient) -> None:
    """Any other route without a token is 401 with a stable error id."""
    resp = await client.get("/api/whoami")
    assert resp.status == 401
    assert (await resp.json())["error_id"] == "unauthorized"
    resp = await client.get("/api/whoami", headers={"Authorization": "Bearer ccpbx_wrong"})
    assert resp.status == 401


async def test_roles_are_enforced(client: TestClient, pool: asyncpg.Pool) -> None:
    """An agent token may not use a supervisor route; a supervisor or admin token may."""
    tokens = TokenRepository(pool)
    agent, _ = await tokens.create("agent", "phone 1001", subject="1001")
    supervisor, _ = await tokens.create("supervisor", "floor lead")
    resp = await client.get("/api/whoami", headers={"Authorization": f"Bearer {agent}"})
    assert await resp.json() == {"name": "phone 1001", "role": "agent", "subject": "1001"}
    resp = await client.get("/api/supervised", headers={"Authorization": f"Bearer {agent}"})
    assert resp.status == 403
    assert (await resp.json())["details"] == {"needed": "supervisor", "role": "agent"}
    resp = await client.get("/api/supervised", headers={"Authorization": f"Bearer {supervisor}"})
    assert resp.status == 200


async def test_revoked_token_is_refused(client: TestClient, pool: asyncpg.Pool) -> None:
    """A revoked token stops working at once; tokens are stored only as hashes."""
    tokens = TokenRepository(pool)
    token, record = await tokens.create("admin", "ops")
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM api_tokens WHERE token_hash::text LIKE $1", f"%{token}%"
        )
        == 0
    )
    assert (
        await client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
    ).status == 200
    assert await tokens.revoke(record.id)
    assert (
        await client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
    ).status == 401


async def test_errors_have_one_shape(client: TestClient, pool: asyncpg.Pool) -> None:
    """Domain errors, unknown routes and crashes all answer with error_id, message, details."""
    token, _ = await TokenRepository(pool).create("agent", "a")
    auth = {"Authorization": f"Bearer {token}"}
    resp = await client.get("/api/missing", headers=auth)
    assert resp.status == 404
    assert await resp.json() == {
        "error_id": "not_found",
        "message": "no such queue",
        "details": {"queue": "q9"},
    }
    resp = await client.get("/api/broken", headers=auth)
    assert resp.status == 500
    assert (await resp.json())["error_id"] == "internal_error"
    resp = await client.get("/api/nothing-here", headers=auth)
    assert resp.status == 404
    assert set(await resp.json()) == {"error_id", "message", "details"}


async def test_bad_role_is_refused(pool: asyncpg.Pool) -> None:
    """Issuing a token for a role that does not exist is a clear input error."""
    from ccpbx.errors import InvalidInput

    with pytest.raises(InvalidInput, match="role must be one of"):
        await TokenRepository(pool).create("root", "x")


async def test_an_address_guessing_tokens_is_refused_for_a_minute(pool: asyncpg.Pool) -> None:
    """After 3 failed tokens from one address within a minute (the limit set to 3), the
    next request gets 429 with Retry-After, even with a good token, and no token check
    reaches the database; other routes' public paths still answer."""
    checks = TokenChecks(lambda: pool, ttl_s=0)
    good, _ = await TokenRepository(pool).create("admin", "ops")
    app = make_app(HealthRegistry(), MetricsRegistry(), checks.verify, token_failures_per_minute=3)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        bad = {"Authorization": "Bearer ccpbx_" + "x" * 43}
        for _ in range(3):
            assert (await client.get("/api/whoami", headers=bad)).status == 401
        reads = checks.reads
        refused = await client.get("/api/whoami", headers={"Authorization": f"Bearer {good}"})
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "60"
        assert (await refused.json())["error_id"] == "too_many_requests"
        assert checks.reads == reads
        assert (await client.get("/health")).status == 200


async def test_status_details_are_for_admins_only(pool: asyncpg.Pool) -> None:
    """/status shows everyone each component's up and state; the details (here the AMI
    host and last error) only to an admin token, not to an agent token or a bad one."""
    health = HealthRegistry()
    health.register(
        "ami",
        lambda: ComponentStatus("ami", False, "down", {"host": "10.1.2.3:5038", "error": "x"}),
    )
    app = make_app(health, MetricsRegistry(), TokenChecks(lambda: pool, ttl_s=0).verify)
    admin, _ = await TokenRepository(pool).create("admin", "ops")
    agent, _ = await TokenRepository(pool).create("agent", "a", subject="1001")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        seen = {}
        for who, token in (
            ("nobody", None),
            ("agent", agent),
            ("bad", "ccpbx_no"),
            ("admin", admin),
        ):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            resp = await client.get("/status", headers=headers)
            assert resp.status == 503
            seen[who] = (await resp.json())["components"]["ami"]
    short = {"up": False, "state": "down"}
    assert seen == {
        "nobody": short,
        "agent": short,
        "bad": short,
        "admin": {**short, "host": "10.1.2.3:5038", "error": "x"},
    }


async def test_a_database_outage_answers_503_not_500(database_url: str) -> None:
    """With PostgreSQL unreachable mid-outage (the pool's link cut, no new connection
    possible), a request whose token must be read gets 503 with Retry-After, not 500."""
    from urllib.parse import urlsplit, urlunsplit

    from ccpbx.sandbox.faultproxy import FaultProxy

    parts = urlsplit(database_url)
    proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    pool = await asyncpg.create_pool(
        urlunsplit(parts._replace(netloc=netloc)), min_size=1, max_size=1
    )
    try:
        token, _ = await TokenRepository(pool).create("admin", "ops")
        app = make_app(
            HealthRegistry(), MetricsRegistry(), TokenChecks(lambda: pool, ttl_s=0).verify
        )
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/api/whoami", headers=headers)).status == 200
            proxy.cut()
            await proxy.stop()
            down = await client.get("/api/whoami", headers=headers)
            assert down.status == 503, await down.text()
            assert down.headers["Retry-After"] == "5"
            assert (await down.json())["error_id"] == "unavailable"
    finally:
        pool.terminate()
