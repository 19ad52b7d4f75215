"""Helpers for the sign-in tests: a hand-moved clock, users, an app on loopback, a
browser that keeps its session cookie by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookies import Morsel, SimpleCookie
from ssl import SSLContext
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from ccpbx.ami.channels import ChannelView
from ccpbx.ami.client import AmiClient
from ccpbx.ami.settings import AmiSettings
from ccpbx.health import HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.metrics import MetricsRegistry
from ccpbx.queues.service import QueueService
from ccpbx.store.token_checks import TokenChecks
from ccpbx.users import accounts
from ccpbx.users.model import User
from ccpbx.users.service import SessionSettings, SignIn

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


async def add_user(
    pool: asyncpg.Pool, name: str, role: str, agent: str | None = None, password: str = PASSWORD
) -> User:
    if agent is not None:
        await pool.execute(
            "INSERT INTO acd_agents (agent, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            agent,
            f"Agent {agent}",
        )
    async with pool.acquire() as conn:
        return await accounts.add(
            conn,
            name,
            role=role,
            agent=agent,
            display_name=name.title(),
            password=password,
            min_length=12,
            actor="test",
            now=T0,
        )


@asynccontextmanager
async def serve(
    pool: asyncpg.Pool,
    clock: Clock,
    settings: SessionSettings | None = None,
    ssl: SSLContext | None = None,
) -> AsyncIterator[TestClient]:
    """The real app (ACD routes on a queue service that is not running) on loopback,
    with a client that keeps no cookies of its own."""
    ami = AmiClient(AmiSettings(host="127.0.0.1", username="x", secret="y", port=1))
    app = make_app(
        HealthRegistry(),
        MetricsRegistry(),
        TokenChecks(lambda: pool, ttl_s=0).verify,
        QueueService(ami, ChannelView(), pool=lambda: pool),
        SignIn(lambda: pool, settings or SessionSettings(), clock),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=ssl)  # the client then finds it started
    async with TestClient(server, cookie_jar=aiohttp.DummyCookieJar()) as client:
        yield client


def set_cookies(resp: aiohttp.ClientResponse) -> dict[str, Morsel[str]]:
    jar: SimpleCookie = SimpleCookie()
    for header in resp.headers.getall("Set-Cookie", []):
        jar.load(header)
    return dict(jar)


@dataclass
class Browser:
    """A signed-in browser: its cookie and the CSRF token the page got."""

    client: TestClient
    cookie: str
    csrf: str

    def headers(self, csrf: bool = True, **more: str) -> dict[str, str]:
        out = {"Cookie": self.cookie, **more}
        if csrf:
            out["X-CSRF-Token"] = self.csrf
        return out

    async def request(
        self, method: str, path: str, *, csrf: bool = True, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = self.headers(csrf, **kwargs.pop("headers", {}))
        async with self.client.request(
            method, path, headers=headers, allow_redirects=False, **kwargs
        ) as resp:
            is_json = resp.content_type == "application/json"
            return resp.status, await resp.json() if is_json else await resp.text()


async def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Browser:
    """Sign in with the form, as a person does, then read the CSRF token as a page does."""
    async with client.post(
        "/login", data={"name": name, "password": password}, allow_redirects=False
    ) as resp:
        assert resp.status == 303, await resp.text()
        morsel = next(iter(set_cookies(resp).values()))
    cookie = f"{morsel.key}={morsel.value}"
    async with client.get("/api/session", headers={"Cookie": cookie}) as resp:
        assert resp.status == 200, await resp.text()
        csrf = (await resp.json())["csrf_token"]
    return Browser(client, cookie, csrf)
