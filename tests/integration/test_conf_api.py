"""The admin API deploys to a real Asterisk treated as production (the fixtures of
test_conf_apply.py): the real daemon serves the API, phones and numbers added over
HTTP go live with POST /api/conf/apply, a SIPp phone registers with the secret the API
returned, rollback takes them away again, and applies never interleave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from ccpbx.asterisk.verify import endpoints
from ccpbx.config import load
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store.tokens import TokenRepository

from . import test_conf_apply as conf_apply
from .conftest import eventually
from .figures import Figures
from .test_conf_apply import NUMBER, SECOND, Production

# The production Asterisk of test_conf_apply, one of this test's own.
instance = conf_apply.instance
live = conf_apply.live

ADMIN = "ops anna"


class Api:
    """The daemon's HTTP API with an admin token."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base = http, base
        self.auth = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, json=body, headers=self.auth
        ) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def daemon(live: Production) -> AsyncIterator[Daemon]:
    """The ccpbx daemon run against production, as installed beside it."""
    env = {
        **live.env,
        "CCPBX_HTTP_HOST": "127.0.0.1",
        "CCPBX_HTTP_PORT": "0",
        "CCPBX_DIALER_ENABLED": "false",
        "CCPBX_SIP_DOMAIN": "127.0.0.1",
    }
    daemon = Daemon(load(None, env))
    await daemon.start()
    try:
        await daemon.ami.wait_ready(15)
        assert await daemon.database.wait_ready(15)
        yield daemon
    finally:
        await daemon.stop()


@pytest.fixture
async def api(daemon: Daemon) -> AsyncIterator[Api]:
    token, _ = await TokenRepository(daemon.database.pool).create("admin", ADMIN)
    async with aiohttp.ClientSession() as http:
        yield Api(http, f"http://127.0.0.1:{daemon.http_port}", token)


async def _live_endpoints(daemon: Daemon) -> set[str]:
    return await endpoints(daemon.ami, 10.0)


async def test_api_deploys_a_phone_and_rolls_it_back(
    live: Production, daemon: Daemon, api: Api, figures: Figures
) -> None:
    """Over HTTP: a baseline apply, then a phone and a number are added, the diff shows
    them, check proves them, apply puts the endpoint live (AMI lists it) and the phone
    registers with the API's secret; history records both versions by the token's name;
    rollback to the baseline takes the endpoint and the route away again."""
    status, base = await api.call("POST", "/api/conf/apply", {"message": "baseline"})
    assert status == 200, base
    assert base["result"] == "applied"
    assert await _live_endpoints(daemon) == set()

    status, added = await api.call("POST", "/api/phones", {"name": "1001", "label": "Anna"})
    assert status == 201, added
    secret = added["secret"]
    assert added["account"]["port"] == live.asterisk.settings.sip_port
    status, body = await api.call("POST", "/api/numbers", {"number": NUMBER, "to": "queue:sales"})
    assert status == 201, body

    status, diff = await api.call("GET", "/api/conf/diff")
    assert status == 200
    states = {f["name"]: f["state"] for f in diff["files"]}
    assert states["pjsip.conf"] == states["extensions.conf"] == "changed"
    assert sorted(diff["changed"]) == ["extensions.conf", "pjsip.conf"]
    pjsip = next(f["diff"] for f in diff["files"] if f["name"] == "pjsip.conf")
    assert "+[1001]" in pjsip
    assert secret not in pjsip

    status, report = await api.call("POST", "/api/conf/check")
    assert status == 200
    assert (report["ok"], report["problems"]) == (True, [])
    assert report["expected"]["endpoints"] == ["1001"]
    assert await _live_endpoints(daemon) == set()  # a check touches nothing live

    started = time.monotonic()
    status, outcome = await api.call("POST", "/api/conf/apply", {"message": "first phone"})
    wall = time.monotonic() - started
    assert status == 200, outcome
    figures.checks("POST /api/conf/apply of a phone and a number (daemon, real Asterisk)")
    figures["apply wall s"] = wall
    figures["check s"] = outcome["check_s"]
    figures["write+reload+verify s"] = outcome["apply_s"]
    assert outcome["result"] == "applied"
    assert sorted(outcome["changed"]) == ["extensions.conf", "pjsip.conf"]
    assert "res_pjsip.so (reload)" in outcome["reloaded"]
    assert outcome["problems"] == []
    assert await _live_endpoints(daemon) == {"1001"}
    assert live.routes(NUMBER)
    phone = SippPhone(live.asterisk, Phone("1001", secret, rewrite_contact=False))
    phone.start()  # raises unless Asterisk answered the REGISTER with 200
    phone.stop()

    status, history = await api.call("GET", "/api/conf/history?limit=10")
    assert status == 200
    assert [(v["version"], v["by"], v["result"], v["message"]) for v in history["versions"]] == [
        (outcome["version"], ADMIN, "applied", "first phone"),
        (base["version"], ADMIN, "applied", "baseline"),
    ]
    assert history["current"] == outcome["version"]

    status, back = await api.call(
        "POST", f"/api/conf/rollback/{base['version']}", {"message": "undo"}
    )
    assert status == 200, back
    assert back["result"] == "applied"
    assert await _live_endpoints(daemon) == set()
    assert not live.routes(NUMBER)
    status, history = await api.call("GET", "/api/conf/history?limit=1")
    [latest] = history["versions"]
    assert (latest["by"], latest["rollback_of"], latest["message"]) == (
        ADMIN,
        base["version"],
        "undo",
    )
    pool = daemon.database.pool
    audit = await pool.fetch(
        "SELECT actor, action FROM audit_log WHERE object_type = 'asterisk_conf' ORDER BY id"
    )
    assert [(a["actor"], a["action"]) for a in audit] == [
        (ADMIN, "apply"),
        (ADMIN, "apply"),
        (ADMIN, "rollback"),
    ]


async def _versions(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM conf_versions")
    finally:
        await conn.close()
    return count


async def _apply_lock_held(database_url: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return bool(
            await conn.fetchval(
                """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())"""
            )
        )
    finally:
        await conn.close()


async def test_applies_never_interleave(live: Production, daemon: Daemon, api: Api) -> None:
    """Two API applies at once: one applies, the other is refused at once with 409
    conf_apply_running and stores nothing. An API apply while a CLI apply runs is
    refused the same way, and the CLI's goes through."""
    status, _ = await api.call("POST", "/api/phones", {"name": "1001"})
    assert status == 201
    first, second = await asyncio.gather(
        api.call("POST", "/api/conf/apply", {"message": "one"}),
        api.call("POST", "/api/conf/apply", {"message": "two"}),
    )
    statuses = sorted([first[0], second[0]])
    assert statuses == [200, 409], (first, second)
    refused = first[1] if first[0] == 409 else second[1]
    won = "one" if first[0] == 200 else "two"
    assert refused["error_id"] == "conf_apply_running"
    assert await _versions(live.database_url) == 1
    assert await _live_endpoints(daemon) == {"1001"}

    status, _ = await api.call("POST", "/api/phones", {"name": "1002"})
    assert status == 201
    cli = asyncio.create_task(live.ccpbx("conf", "apply", "-m", "from the shell"))
    await eventually(lambda: _apply_lock_held(live.database_url), timeout=60)
    status, body = await api.call("POST", "/api/conf/apply", {"message": "meanwhile"})
    assert (status, body["error_id"]) == (409, "conf_apply_running")
    code, _, err, _ = await cli
    assert code == 0, err
    assert await _live_endpoints(daemon) == {"1001", "1002"}
    status, history = await api.call("GET", "/api/conf/history")
    assert [v["message"] for v in history["versions"]] == ["from the shell", won]


async def test_failed_reload_answers_409_rolled_back(
    live: Production, daemon: Daemon, api: Api
) -> None:
    """An apply whose reload fails (voicemail unloaded by hand) answers 409
    conf_rolled_back with the outcome and the file named; the previous files are back,
    the new number does not route, and history says rolled_back by the token's name."""
    status, body = await api.call("POST", "/api/numbers", {"number": NUMBER, "to": "queue:sales"})
    assert status == 201, body
    status, first = await api.call("POST", "/api/conf/apply", {"message": "v1"})
    assert status == 200, first
    before = live.disk()
    await daemon.database.pool.execute("INSERT INTO acd_queues (name) VALUES ('support')")
    status, body = await api.call("POST", "/api/numbers", {"number": SECOND, "to": "queue:support"})
    assert status == 201, body
    live.asterisk.cli("module unload app_voicemail.so")
    try:
        status, body = await api.call("POST", "/api/conf/apply", {"message": "second number"})
    finally:
        live.asterisk.cli("module load app_voicemail.so")
    assert status == 409, body
    assert body["error_id"] == "conf_rolled_back"
    outcome = body["details"]
    assert (outcome["result"], outcome["ok"]) == ("rolled_back", False)
    assert outcome["version"] == first["version"] + 1
    [problem] = outcome["problems"]
    assert problem["file"] == "voicemail.conf"
    assert "reload of app_voicemail.so failed" in problem["text"]
    assert "previous files put back" in outcome["detail"]
    assert live.disk() == before
    assert not live.routes(SECOND)
    assert live.routes(NUMBER)
    status, history = await api.call("GET", "/api/conf/history")
    assert [(v["result"], v["by"]) for v in history["versions"]] == [
        ("rolled_back", ADMIN),
        ("applied", ADMIN),
    ]
    assert history["current"] == first["version"]
