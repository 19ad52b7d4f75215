"""Admin API for phones, trunks, numbers and the Asterisk configuration: the real app,
the store functions the CLI uses, real PostgreSQL (no Asterisk: see
tests/integration/test_conf_api.py for apply against one)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ccpbx.asterisk import versions
from ccpbx.asterisk.apply import Outcome
from ccpbx.asterisk.expect import expectations
from ccpbx.asterisk.verify import Problem
from ccpbx.config import load
from ccpbx.errors import CcpbxError
from ccpbx.health import HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.http.routes_conf import answer, setup_conf_routes
from ccpbx.http.routes_pbx import setup_pbx_routes
from ccpbx.metrics import MetricsRegistry
from ccpbx.pbx import model, provision
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import TokenRepository

REALM = "pbx.example"
AMI_SECRET = "ami-secret-7f3a"
ADMIN = "ops anna"


@pytest.fixture
async def client(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[TestClient]:
    config = load(
        None,
        {
            "DATABASE_URL": database_url,
            "CCPBX_AMI_SECRET": AMI_SECRET,
            "CCPBX_AGI_HOST": "127.0.0.1",
            "CCPBX_SIP_REALM": REALM,
            "CCPBX_SIP_DOMAIN": "pbx.example.com",
            "CCPBX_SIP_BIND": "192.0.2.10",
            "CCPBX_ASTERISK_CONF_DIR": str(tmp_path / "etc-asterisk"),
            "CCPBX_ASTERISK_STAGING_DIR": str(tmp_path / "staged"),
        },
    )
    (tmp_path / "etc-asterisk").mkdir()
    app = make_app(HealthRegistry(), MetricsRegistry(), TokenChecks(lambda: pool, ttl_s=0).verify)
    setup_pbx_routes(app, pool, config)
    setup_conf_routes(app, lambda: pool, lambda: config)
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def _auth(pool: asyncpg.Pool, role: str = "admin", name: str = ADMIN) -> dict[str, str]:
    subject = "1001" if role == "agent" else None
    token, _ = await TokenRepository(pool).create(role, name, subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def _audit(pool: asyncpg.Pool, object_type: str) -> list[tuple[str, str, str]]:
    rows = await pool.fetch(
        "SELECT actor, action, object_id FROM audit_log WHERE object_type = $1 ORDER BY id",
        object_type,
    )
    return [(r["actor"], r["action"], r["object_id"]) for r in rows]


async def _stored_cred(pool: asyncpg.Pool, name: str) -> str:
    cred: str = await pool.fetchval("SELECT md5_cred FROM pbx_phones WHERE name = $1", name)
    return cred


async def test_phone_secret_is_returned_once_and_never_again(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """POST /api/phones returns the generated secret (no-store) with the softphone
    account; list, get and provision never show it nor the digest; reset-secret gives a
    new one once; delete removes; the audit log names the token."""
    auth = await _auth(pool)
    resp = await client.post(
        "/api/phones", json={"name": "1001", "label": "Anna", "max_calls": 3}, headers=auth
    )
    assert resp.status == 201, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    secret = body["secret"]
    assert await _stored_cred(pool, "1001") == model.md5_cred("1001", REALM, secret)
    assert body["phone"] == {
        "name": "1001",
        "label": "Anna",
        "transport": "udp",
        "webrtc": False,
        "class_of_service": "national",
        "max_calls": 3,
        "realm": REALM,
    }
    account = body["account"]
    assert account["password"] == secret
    assert (account["domain"], account["port"], account["transport"]) == (
        "pbx.example.com",
        5060,
        "udp",
    )
    assert account["uri"] == f"sip:1001:{secret}@pbx.example.com:5060;transport=udp"

    cred = await _stored_cred(pool, "1001")
    for path in ("/api/phones", "/api/phones/1001", "/api/phones/1001/provision"):
        resp = await client.get(path, headers=auth)
        assert resp.status == 200, path
        text = await resp.text()
        assert secret not in text, path
        assert cred not in text, path
        assert "md5_cred" not in text, path
    listed = await (await client.get("/api/phones", headers=auth)).json()
    assert [p["name"] for p in listed["phones"]] == ["1001"]
    provisioned = await (await client.get("/api/phones/1001/provision", headers=auth)).json()
    assert provisioned["account"]["password"] is None
    assert provisioned["account"]["uri"] == "sip:1001@pbx.example.com:5060;transport=udp"
    resp = await client.get("/api/phones/1001/provision?format=png", headers=auth)
    assert resp.status == 200
    assert resp.content_type == "image/png"
    png = await resp.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The QR code holds the account URI without a password (segno's output is stable).
    assert png == provision.qr_png("sip:1001@pbx.example.com:5060;transport=udp")

    resp = await client.post("/api/phones/1001/reset-secret", headers=auth)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    fresh = (await resp.json())["secret"]
    assert fresh != secret
    assert await _stored_cred(pool, "1001") == model.md5_cred("1001", REALM, fresh)

    resp = await client.delete("/api/phones/1001", headers=auth)
    assert resp.status == 200
    assert (await resp.json())["phone"]["name"] == "1001"
    assert (await client.get("/api/phones/1001", headers=auth)).status == 404
    assert await _audit(pool, "phone") == [
        (ADMIN, "phone.add", "1001"),
        (ADMIN, "phone.reset_secret", "1001"),
        (ADMIN, "phone.remove", "1001"),
    ]


async def test_webrtc_phone_gets_the_wss_account_or_says_why_not(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """A WebRTC phone is stored on wss; with no WSS transport configured its fresh secret
    still comes back, the account is null and account_problem names the key to set."""
    auth = await _auth(pool)
    resp = await client.post("/api/phones", json={"name": "web1", "webrtc": True}, headers=auth)
    assert resp.status == 201
    body = await resp.json()
    assert body["phone"]["transport"] == "wss"
    assert body["account"] is None
    assert "[sip] wss_port" in body["account_problem"]
    assert await _stored_cred(pool, "web1") == model.md5_cred("web1", REALM, body["secret"])


async def test_trunks_never_show_their_secret(client: TestClient, pool: asyncpg.Pool) -> None:
    """A registering trunk is added with its secret, which no response holds; removing it
    works; both are audited under the token's name."""
    auth = await _auth(pool)
    trunk = {
        "name": "voip",
        "host": "sip.voip.example",
        "register": True,
        "username": "4420",
        "secret": "tr-pw-9x",
        "codecs": ["alaw"],
        "max_channels": 30,
    }
    resp = await client.post("/api/trunks", json=trunk, headers=auth)
    assert resp.status == 201, await resp.text()
    assert "tr-pw-9x" not in await resp.text()
    body = (await resp.json())["trunk"]
    assert (body["codecs"], body["max_channels"], body["register"]) == (["alaw"], 30, True)
    assert await pool.fetchval("SELECT secret FROM pbx_trunks WHERE name = 'voip'") == "tr-pw-9x"
    resp = await client.post(
        "/api/trunks",
        json={"name": "acme", "host": "203.0.113.5", "identify": ["203.0.113.0/24"]},
        headers=auth,
    )
    assert resp.status == 201
    for path in ("/api/trunks", "/api/trunks/voip"):
        text = await (await client.get(path, headers=auth)).text()
        assert "tr-pw-9x" not in text
        assert '"secret"' not in text
    listed = await (await client.get("/api/trunks", headers=auth)).json()
    assert [t["name"] for t in listed["trunks"]] == ["acme", "voip"]
    assert [t["identify"] for t in listed["trunks"]] == [["203.0.113.0/24"], []]
    assert (await client.delete("/api/trunks/voip", headers=auth)).status == 200
    assert await _audit(pool, "trunk") == [
        (ADMIN, "trunk.add", "voip"),
        (ADMIN, "trunk.add", "acme"),
        (ADMIN, "trunk.remove", "voip"),
    ]


async def test_numbers_route_and_are_removed_by_encoded_number(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """A number is routed to a queue, listed, and removed with its + URL-encoded or not."""
    auth = await _auth(pool)
    for number in ("+12125550100", "+12125550111"):
        resp = await client.post(
            "/api/numbers", json={"number": number, "to": "queue:sales"}, headers=auth
        )
        assert resp.status == 201, await resp.text()
    listed = await (await client.get("/api/numbers", headers=auth)).json()
    assert listed["numbers"] == [
        {"number": "+12125550100", "route": "queue:sales"},
        {"number": "+12125550111", "route": "queue:sales"},
    ]
    assert (await client.delete("/api/numbers/%2B12125550100", headers=auth)).status == 200
    assert (await client.delete("/api/numbers/+12125550111", headers=auth)).status == 200
    assert (await (await client.get("/api/numbers", headers=auth)).json())["numbers"] == []
    assert await _audit(pool, "number") == [
        (ADMIN, "number.add", "+12125550100"),
        (ADMIN, "number.add", "+12125550111"),
        (ADMIN, "number.remove", "+12125550100"),
        (ADMIN, "number.remove", "+12125550111"),
    ]


ADMIN_ROUTES = [
    ("GET", "/api/phones"),
    ("POST", "/api/phones"),
    ("GET", "/api/phones/1001"),
    ("DELETE", "/api/phones/1001"),
    ("POST", "/api/phones/1001/reset-secret"),
    ("GET", "/api/phones/1001/provision"),
    ("GET", "/api/trunks"),
    ("POST", "/api/trunks"),
    ("GET", "/api/trunks/acme"),
    ("DELETE", "/api/trunks/acme"),
    ("GET", "/api/numbers"),
    ("POST", "/api/numbers"),
    ("DELETE", "/api/numbers/%2B12125550100"),
    ("POST", "/api/conf/render"),
    ("GET", "/api/conf/diff"),
    ("POST", "/api/conf/check"),
    ("POST", "/api/conf/apply"),
    ("GET", "/api/conf/history"),
    ("POST", "/api/conf/rollback/1"),
]


async def test_supervisor_and_agent_tokens_are_forbidden(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """Every admin route answers 403 forbidden to a supervisor and an agent token, and
    nothing is changed."""
    for role in ("supervisor", "agent"):
        auth = await _auth(pool, role, f"a {role}")
        for method, path in ADMIN_ROUTES:
            resp = await client.request(method, path, json={"name": "1001"}, headers=auth)
            assert resp.status == 403, (role, method, path)
            body = await resp.json()
            assert body["error_id"] == "forbidden"
            assert body["details"] == {"needed": "admin", "role": role}
    assert await pool.fetchval("SELECT count(*) FROM pbx_phones") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0


BAD_BODIES = [
    ("/api/phones", {"name": "Anna Desk"}, "name"),
    ("/api/phones", {}, "name"),
    ("/api/phones", {"name": 1001}, "name"),
    ("/api/phones", {"name": "1001", "max_calls": "3"}, "max_calls"),
    ("/api/phones", {"name": "1001", "max_calls": True}, "max_calls"),
    ("/api/phones", {"name": "1001", "max_calls": 0}, "max_calls"),
    ("/api/phones", {"name": "1001", "transport": "sctp"}, "transport"),
    ("/api/phones", {"name": "1001", "class_of_service": "world"}, "class_of_service"),
    ("/api/phones", {"name": "1001", "label": "a;b"}, "label"),
    ("/api/phones", {"name": "1001", "webrtc": "yes"}, "webrtc"),
    ("/api/phones", {"name": "1001", "secret": "mine"}, "secret"),
    ("/api/trunks", {"name": "acme", "host": "203.0.113.5"}, "identify"),
    ("/api/trunks", {"name": "acme"}, "host"),
    ("/api/trunks", {"name": "acme", "host": "h", "identify": ["x"]}, "identify"),
    ("/api/trunks", {"name": "acme", "host": "h", "identify": "10.0.0.1"}, "identify"),
    ("/api/trunks", {"name": "acme", "host": "h", "identify": ["10.0.0.1"], "port": 0}, "port"),
    ("/api/trunks", {"name": "acme", "host": "h", "register": True}, "username"),
    ("/api/trunks", {"name": "Acme", "host": "h", "identify": ["10.0.0.1"]}, "name"),
    ("/api/numbers", {"number": "2125550100", "to": "queue:sales"}, "number"),
    ("/api/numbers", {"number": "+12125550100", "to": "sales"}, "to"),
    ("/api/numbers", {"number": "+12125550100"}, "to"),
    ("/api/conf/apply", {"message": 5}, "message"),
]


async def test_invalid_bodies_name_the_field(client: TestClient, pool: asyncpg.Pool) -> None:
    """A wrong, missing or unknown field is 400 invalid_input naming the field; a body
    that is not a JSON object is 400 too; nothing is stored."""
    auth = await _auth(pool)
    for path, body, field in BAD_BODIES:
        resp = await client.post(path, json=body, headers=auth)
        assert resp.status == 400, (path, body, await resp.text())
        answer_ = await resp.json()
        assert answer_["error_id"] == "invalid_input", (path, body)
        assert answer_["details"].get("field") == field, (path, body, answer_)
    for raw in ("not json", "[1, 2]"):
        resp = await client.post("/api/phones", data=raw, headers=auth)
        assert resp.status == 400
        assert (await resp.json())["error_id"] == "invalid_input"
    resp = await client.get("/api/conf/history?limit=0", headers=auth)
    assert (resp.status, (await resp.json())["details"]) == (400, {"field": "limit"})
    resp = await client.post("/api/conf/rollback/latest", headers=auth)
    assert (resp.status, (await resp.json())["details"]) == (400, {"field": "version"})
    await client.post("/api/phones", json={"name": "1001"}, headers=auth)
    resp = await client.get("/api/phones/1001/provision?format=gif", headers=auth)
    assert (resp.status, (await resp.json())["details"]) == (400, {"field": "format"})
    assert await pool.fetchval("SELECT count(*) FROM pbx_trunks") == 0
    assert await pool.fetchval("SELECT count(*) FROM pbx_numbers") == 0


async def test_duplicates_conflict_and_unknown_names_are_not_found(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """Adding a phone, trunk or number twice (or a trunk named like a phone) is 409;
    reading, resetting or removing what does not exist is 404, as is a route to an
    unknown queue."""
    auth = await _auth(pool)
    phone = {"name": "1001"}
    trunk = {"name": "acme", "host": "203.0.113.5", "identify": ["203.0.113.5"]}
    number = {"number": "+12125550100", "to": "queue:sales"}
    for path, body in (("/api/phones", phone), ("/api/trunks", trunk), ("/api/numbers", number)):
        assert (await client.post(path, json=body, headers=auth)).status == 201
        resp = await client.post(path, json=body, headers=auth)
        assert resp.status == 409, path
        assert (await resp.json())["error_id"] == "conflict"
    await client.post("/api/phones", json={"name": "shared"}, headers=auth)
    resp = await client.post("/api/trunks", json={**trunk, "name": "shared"}, headers=auth)
    assert resp.status == 409
    assert "already a phone" in (await resp.json())["message"]
    for method, path in (
        ("GET", "/api/phones/9999"),
        ("DELETE", "/api/phones/9999"),
        ("POST", "/api/phones/9999/reset-secret"),
        ("GET", "/api/phones/9999/provision"),
        ("GET", "/api/trunks/nope"),
        ("DELETE", "/api/trunks/nope"),
        ("DELETE", "/api/numbers/%2B12125550199"),
        ("POST", "/api/conf/rollback/99"),
    ):
        resp = await client.request(method, path, headers=auth)
        assert resp.status == 404, (method, path)
        assert (await resp.json())["error_id"] == "not_found"
    resp = await client.post(
        "/api/numbers", json={"number": "+12125550122", "to": "queue:nosuch"}, headers=auth
    )
    assert resp.status == 404


async def test_conf_render_diff_and_history(client: TestClient, pool: asyncpg.Pool) -> None:
    """Render writes the staging folder and counts what it rendered; diff shows the new
    phone per managed file with every secret value redacted; history starts empty."""
    auth = await _auth(pool)
    added = await (await client.post("/api/phones", json={"name": "1001"}, headers=auth)).json()
    await client.post(
        "/api/numbers", json={"number": "+12125550100", "to": "queue:sales"}, headers=auth
    )
    await client.post(
        "/api/trunks",
        json={
            "name": "voip",
            "host": "sip.voip.example",
            "register": True,
            "username": "4420",
            "secret": "tr-pw-9x",
        },
        headers=auth,
    )
    resp = await client.post("/api/conf/render", headers=auth)
    assert resp.status == 200, await resp.text()
    rendered = await resp.json()
    assert rendered["counts"] == {
        "files": len(rendered["files"]),
        "phones": 1,
        "trunks": 1,
        "numbers": 1,
        "queues": 1,
    }
    assert "pjsip.conf" in rendered["files"]
    assert (Path(rendered["staging"]) / "pjsip.conf").exists()

    resp = await client.get("/api/conf/diff", headers=auth)
    assert resp.status == 200
    diff = await resp.json()
    by_name = {f["name"]: f for f in diff["files"]}
    assert set(by_name) == set(rendered["files"])
    assert {f["state"] for f in diff["files"]} == {"new"}
    assert sorted(diff["changed"]) == sorted(rendered["files"])
    pjsip = by_name["pjsip.conf"]["diff"]
    assert "+[1001]" in pjsip
    assert "+password_digest = <redacted>" in pjsip
    assert "+password = <redacted>" in pjsip
    assert "+secret = <redacted>" in by_name["manager.conf"]["diff"]
    text = json.dumps(diff)
    cred = await _stored_cred(pool, "1001")
    for secret in (cred, added["secret"], "tr-pw-9x", AMI_SECRET):
        assert secret not in text

    resp = await client.get("/api/conf/history", headers=auth)
    assert await resp.json() == {"current": None, "versions": []}


async def test_renders_at_once_do_not_trip_over_each_other(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    """Several renders at once (each writes the staging folder from its own thread) all
    succeed, and no temporary file is left behind."""
    auth = await _auth(pool)
    await client.post("/api/phones", json={"name": "1001"}, headers=auth)
    for _ in range(3):
        answers = await asyncio.gather(
            *(client.post("/api/conf/render", headers=auth) for _ in range(6))
        )
        assert [a.status for a in answers] == [200] * 6
    rendered = await answers[0].json()
    staged = await asyncio.to_thread(os.listdir, rendered["staging"])
    assert sorted(staged) == sorted(rendered["files"])


async def test_apply_and_rollback_are_refused_while_another_runs(
    client: TestClient, pool: asyncpg.Pool, database_url: str
) -> None:
    """While another apply (here: a CLI's, holding the lock) runs, POST apply and
    rollback are 409 conf_apply_running at once and store no version; a rollback to a
    version that did not apply is 400."""
    auth = await _auth(pool)
    files = {"pjsip.conf": "; managed\n"}
    applied = await versions.record(
        pool, versions.Attempt(files, expectations(files, []), "applied", "cli-bob")
    )
    failed = await versions.record(
        pool, versions.Attempt(files, expectations(files, []), "check_failed", "cli-bob")
    )
    other = await asyncpg.connect(database_url)
    try:
        async with versions.exclusive(other):
            for path in ("/api/conf/apply", f"/api/conf/rollback/{applied}"):
                resp = await client.post(path, json={"message": "now"}, headers=auth)
                assert resp.status == 409, (path, await resp.text())
                assert (await resp.json())["error_id"] == "conf_apply_running"
    finally:
        await other.close()
    resp = await client.post(f"/api/conf/rollback/{failed}", headers=auth)
    assert resp.status == 400
    assert "only an applied version" in (await resp.json())["message"]
    history = await (await client.get("/api/conf/history?limit=5", headers=auth)).json()
    assert history["current"] == applied
    assert [(v["version"], v["by"]) for v in history["versions"]] == [
        (failed, "cli-bob"),
        (applied, "cli-bob"),
    ]


def _raised(outcome: Outcome) -> tuple[int, str, dict[str, Any]]:
    try:
        answer(outcome, "apply")
    except CcpbxError as exc:
        return exc.http_status, exc.error_id, exc.details
    raise AssertionError("no error")


def test_outcomes_map_to_statuses() -> None:
    """applied/unchanged answer 200; check_failed 422, rolled_back and an unchanged
    folder the live Asterisk does not show 409, failed 502, each with its error_id and
    the outcome (problems with file and line) as details."""
    assert answer(Outcome("applied", 3, ["pjsip.conf"]), "apply").status == 200
    assert answer(Outcome("unchanged"), "apply").status == 200
    problem = Problem("pjsip.conf:12", "Could not find option")
    status, error_id, details = _raised(Outcome("check_failed", 4, problems=[problem]))
    assert (status, error_id, details["version"]) == (422, "conf_check_failed", 4)
    assert details["problems"] == [
        {"file": "pjsip.conf", "line": 12, "text": "Could not find option"}
    ]
    assert _raised(Outcome("rolled_back", 5, detail="x"))[:2] == (409, "conf_rolled_back")
    unchanged = Outcome("unchanged", problems=[Problem("", "endpoint(s) missing")])
    assert _raised(unchanged)[:2] == (409, "conf_not_live")
    assert _raised(unchanged)[2]["problems"] == [
        {"file": None, "line": None, "text": "endpoint(s) missing"}
    ]
    assert _raised(Outcome("failed", 6, detail="y"))[:2] == (502, "conf_apply_failed")
