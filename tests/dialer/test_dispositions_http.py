"""Dialer HTTP API served for real (loopback), with a DialerControl on the real store:
disposition codes, disposing of an agent's call or an attempt, campaign figures and
start/pause, roles and error ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from store.factories import T0, acd_agents, campaign_with_contacts

from ccpbx.health import HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.http.routes_dialer import setup_dialer_routes
from ccpbx.metrics import MetricsRegistry
from ccpbx.store import attempts, campaigns, leasing
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import TokenRepository

from .store_control import StoreControl

MIN = dt.timedelta(minutes=1)


@pytest.fixture
async def control(pool: asyncpg.Pool) -> StoreControl:
    return StoreControl(pool)


@pytest.fixture
async def client(pool: asyncpg.Pool, control: StoreControl) -> AsyncIterator[TestClient]:
    app = make_app(HealthRegistry(), MetricsRegistry(), TokenChecks(lambda: pool, ttl_s=0).verify)
    setup_dialer_routes(app, control, lambda: pool)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def auth(pool: asyncpg.Pool, role: str, subject: str | None = None) -> dict[str, str]:
    token, _ = await TokenRepository(pool).create(role, f"{role} {subject}", subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def ended_calls(pool: asyncpg.Pool, n: int) -> list[leasing.LeasedLead]:
    """A running campaign 'c1' with ``n`` answered and ended calls awaiting a disposition."""
    camp, _ = await campaign_with_contacts(pool, n)
    leads = await leasing.lease(pool, camp.id, n, T0, dialer_id="test")
    for lead in leads:
        await attempts.record_outcome(pool, lead.attempt_id, "answered", T0 + MIN)
    return leads


async def test_agents_list_the_codes_with_their_keys(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """GET /api/dispositions (agent role) gives each code, its key and what it does."""
    resp = await client.get("/api/dispositions", headers=await auth(pool, "agent", "1001"))
    assert resp.status == 200
    found = {d["code"]: d for d in (await resp.json())["dispositions"]}
    assert found["sale"] == {
        "code": "sale",
        "label": "Sale",
        "key": "1",
        "final": True,
        "callback": False,
        "dnc": False,
        "callback_delay_s": None,
    }
    assert (found["callback"]["key"], found["callback"]["callback_delay_s"]) == ("3", 7200)
    assert found["do_not_call"]["dnc"] is True


async def test_agent_disposes_of_own_call(
    client: TestClient, pool: asyncpg.Pool, control: StoreControl
) -> None:
    """An agent token disposes of its own call (written to the attempt); another agent's
    token gets 403; a supervisor may dispose for any agent."""
    first, second = await ended_calls(pool, 2)
    control.assign("1001", first.attempt_id)
    control.assign("1002", second.attempt_id)
    as_1001 = await auth(pool, "agent", "1001")
    resp = await client.post("/api/agents/1002/disposition", json={"code": "sale"}, headers=as_1001)
    assert resp.status == 403
    resp = await client.post("/api/agents/1001/disposition", json={"code": "sale"}, headers=as_1001)
    assert resp.status == 200
    body = await resp.json()
    assert (body["agent"], body["code"], body["attempt_id"]) == (
        "1001",
        "sale",
        str(first.attempt_id),
    )
    assert (await attempts.get_attempt(pool, first.attempt_id)).disposition == "sale"
    supervisor = await auth(pool, "supervisor")
    resp = await client.post(
        "/api/agents/1002/disposition", json={"code": "not_interested"}, headers=supervisor
    )
    assert resp.status == 200
    assert [(a, c) for a, c, _ in control.disposed] == [
        ("1001", "sale"),
        ("1002", "not_interested"),
    ]


async def test_callback_for_me_is_reserved_for_the_agent(
    client: TestClient, pool: asyncpg.Pool, control: StoreControl
) -> None:
    """callback_for "me" reserves the callback for the disposing agent, at the given time."""
    [lead] = await ended_calls(pool, 1)
    await acd_agents(pool, "1001")
    control.assign("1001", lead.attempt_id)
    due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=3)
    resp = await client.post(
        "/api/agents/1001/disposition",
        json={
            "code": "callback",
            "callback_at": due.isoformat(),
            "callback_for": "me",
            "note": "after 3",
        },
        headers=await auth(pool, "agent", "1001"),
    )
    assert resp.status == 200, await resp.text()
    row = await pool.fetchrow(
        "SELECT due_at, agent, note FROM callbacks WHERE contact_id = $1", lead.contact_id
    )
    assert (row["due_at"], row["agent"], row["note"]) == (due, "1001", "after 3")


@pytest.mark.parametrize(
    ("body", "status", "error_id"),
    [
        ({"code": "nope"}, 400, "unknown_disposition"),
        ({"code": "callback"}, 400, "callback_time_required"),
        ({"code": "callback", "callback_at": "tomorrow"}, 400, "invalid_input"),
        ({"code": "callback", "callback_at": "2030-01-01T10:00:00"}, 400, "invalid_input"),
        ({"code": "callback", "callback_at": "2020-01-01T10:00:00Z"}, 400, "invalid_input"),
        ({"code": "sale", "callback_for": "someone"}, 400, "invalid_input"),
        ({}, 400, "invalid_input"),
    ],
)
async def test_bad_disposition_requests(
    client: TestClient,
    pool: asyncpg.Pool,
    control: StoreControl,
    body: dict[str, str],
    status: int,
    error_id: str,
) -> None:
    """Each bad request gets a 4xx with a stable error_id and the attempt stays undisposed."""
    [lead] = await ended_calls(pool, 1)
    control.assign("1001", lead.attempt_id)
    resp = await client.post(
        "/api/agents/1001/disposition", json=body, headers=await auth(pool, "agent", "1001")
    )
    assert (resp.status, (await resp.json())["error_id"]) == (status, error_id)
    assert (await attempts.get_attempt(pool, lead.attempt_id)).disposition is None


async def test_no_call_to_dispose(client: TestClient, pool: asyncpg.Pool) -> None:
    """An agent with no call (or wrap-up) gets 409 no_call_to_dispose."""
    resp = await client.post(
        "/api/agents/1001/disposition",
        json={"code": "sale"},
        headers=await auth(pool, "agent", "1001"),
    )
    assert resp.status == 409
    assert (await resp.json())["error_id"] == "no_call_to_dispose"


async def test_supervisor_disposes_of_an_attempt(client: TestClient, pool: asyncpg.Pool) -> None:
    """POST /api/attempts/{id}/disposition is for supervisors; a callback may be given to
    a named agent; unknown or malformed attempt ids are 404."""
    [lead] = await ended_calls(pool, 1)
    await acd_agents(pool, "1002")
    url = f"/api/attempts/{lead.attempt_id}/disposition"
    resp = await client.post(url, json={"code": "sale"}, headers=await auth(pool, "agent", "1001"))
    assert resp.status == 403
    supervisor = await auth(pool, "supervisor")
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    body = {"code": "callback", "callback_at": due, "callback_for": "1002"}
    resp = await client.post(url, json=body, headers=supervisor)
    assert resp.status == 200, await resp.text()
    assert await pool.fetchval("SELECT agent FROM callbacks") == "1002"
    for bad in ("not-a-uuid", "7d7d7d7d-0000-4000-8000-000000000000"):
        resp = await client.post(
            f"/api/attempts/{bad}/disposition", json={"code": "sale"}, headers=supervisor
        )
        assert (resp.status, (await resp.json())["error_id"]) == (404, "not_found")


async def test_campaign_figures_start_and_pause(
    client: TestClient, pool: asyncpg.Pool, control: StoreControl
) -> None:
    """Supervisors read campaign figures and pause/start campaigns (the status is stored);
    agents may not; an unknown campaign is 404."""
    await ended_calls(pool, 2)
    await control.refresh()
    supervisor = await auth(pool, "supervisor")
    resp = await client.get("/api/campaigns", headers=await auth(pool, "agent", "1001"))
    assert resp.status == 403
    resp = await client.get("/api/campaigns", headers=supervisor)
    assert [c["name"] for c in (await resp.json())["campaigns"]] == ["c1"]
    resp = await client.post("/api/campaigns/c1/pause", headers=supervisor)
    assert (resp.status, (await resp.json())["status"]) == (200, "paused")
    assert (await campaigns.get_campaign(pool, "c1")).status == "paused"
    resp = await client.post("/api/campaigns/c1/start", headers=supervisor)
    assert (await resp.json())["status"] == "running"
    resp = await client.get("/api/campaigns/c1", headers=supervisor)
    assert (await resp.json())["leased"] == 0
    resp = await client.get("/api/campaigns/nope", headers=supervisor)
    assert (resp.status, (await resp.json())["error_id"]) == (404, "not_found")
