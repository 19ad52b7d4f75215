"""Browser sign-in on the real app and a real database: the cookie and its flags, one
answer for every failure, lockout, CSRF, agent isolation (IDOR), idle timeout, sign-out,
disabling, restarts, redirects, websocket origin, and the audit log."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from ccpbx.asterisk.labcert import make_lab_cert
from ccpbx.store import audit
from ccpbx.store.tokens import TokenRepository
from ccpbx.users import accounts
from ccpbx.users.model import Lockout
from ccpbx.users.service import SessionSettings

from .support import PASSWORD, Browser, Clock, add_user, serve, set_cookies, sign_in


@pytest.fixture
async def users(pool: asyncpg.Pool) -> None:
    """anna (agent 1001), bert (agent 1002), sue (supervisor), root (admin)."""
    await add_user(pool, "anna", "agent", "1001")
    await add_user(pool, "bert", "agent", "1002")
    await add_user(pool, "sue", "supervisor")
    await add_user(pool, "root", "admin")


async def _login_json(client: TestClient, name: str, password: str) -> tuple[int, Any]:
    async with client.post("/login", json={"name": name, "password": password}) as resp:
        return resp.status, await resp.json()


async def test_sign_in_sets_a_strict_http_only_cookie_and_goes_to_the_role_page(
    pool: asyncpg.Pool, users: None
) -> None:
    """A right name and password set an HttpOnly, SameSite=Strict, Path=/ cookie (not
    Secure over plain HTTP) and send an agent to /agent, a supervisor to /supervisor;
    /api/session then says who is signed in."""
    async with serve(pool, Clock()) as client:
        for name, home in (("anna", "/agent"), ("sue", "/supervisor"), ("root", "/supervisor")):
            async with client.post(
                "/login", data={"name": name, "password": PASSWORD}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == home
                cookies = set_cookies(resp)
            assert list(cookies) == ["ccpbx_session"]
            morsel = cookies["ccpbx_session"]
            assert morsel["httponly"] is True
            assert morsel["samesite"] == "Strict"
            assert morsel["path"] == "/"
            assert not morsel["secure"]
            assert len(morsel.value) >= 40
        browser = await sign_in(client, "anna")
        status, body = await browser.request("GET", "/api/session")
        assert status == 200
        assert body["name"] == "anna"
        assert body["display_name"] == "Anna"
        assert (body["role"], body["agent"]) == ("agent", "1001")
        assert body["idle_timeout_s"] == 1800
        assert body["csrf_token"] == browser.csrf
        stored = await pool.fetchval("SELECT session_hash FROM user_sessions LIMIT 1")
        assert browser.cookie.split("=", 1)[1].encode() not in stored  # only a hash is kept


async def test_secure_mode_sets_a_secure_host_prefixed_cookie(
    pool: asyncpg.Pool, users: None
) -> None:
    """Behind a TLS proxy (secure_cookies) the cookie is Secure and named __Host-...;
    a cookie under the plain name is then not accepted."""
    async with serve(pool, Clock(), SessionSettings(secure_cookies=True)) as client:
        async with client.post(
            "/login", data={"name": "anna", "password": PASSWORD}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
            cookies = set_cookies(resp)
        assert list(cookies) == ["__Host-ccpbx_session"]
        morsel = cookies["__Host-ccpbx_session"]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Strict"
        assert morsel["path"] == "/"
        good = {"Cookie": f"__Host-ccpbx_session={morsel.value}"}
        async with client.get("/api/session", headers=good) as resp:
            assert resp.status == 200
        plain = {"Cookie": f"ccpbx_session={morsel.value}"}
        async with client.get("/api/session", headers=plain) as resp:
            assert resp.status == 401


async def test_a_tls_request_gets_a_secure_cookie(
    pool: asyncpg.Pool, users: None, tmp_path: Path
) -> None:
    """Over a real TLS connection the cookie is Secure and __Host- prefixed without any
    setting, and is accepted back over TLS."""
    cert = make_lab_cert(tmp_path, "127.0.0.1")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert.cert, cert.key)
    client_tls = ssl.create_default_context(cafile=str(cert.cert))
    async with serve(pool, Clock(), ssl=server_tls) as client:
        async with client.post(
            "/login",
            data={"name": "sue", "password": PASSWORD},
            allow_redirects=False,
            ssl=client_tls,
        ) as resp:
            assert resp.status == 303
            assert resp.url.scheme == "https"
            cookies = set_cookies(resp)
        assert list(cookies) == ["__Host-ccpbx_session"]
        morsel = cookies["__Host-ccpbx_session"]
        assert (morsel["secure"], morsel["httponly"], morsel["samesite"]) == (True, True, "Strict")
        headers = {"Cookie": f"__Host-ccpbx_session={morsel.value}"}
        async with client.get("/api/session", headers=headers, ssl=client_tls) as resp:
            assert resp.status == 200
            assert (await resp.json())["name"] == "sue"


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    pool: asyncpg.Pool, users: None
) -> None:
    """A wrong password, an unknown name and a disabled user all get 401 with the same
    body (JSON) or the same page (form); each failure is audited."""
    async with pool.acquire() as conn:
        await add_user(pool, "gone", "supervisor")
        await accounts.set_disabled(conn, "gone", True, actor="test", now=Clock()())
    async with serve(pool, Clock()) as client:
        answers = [
            await _login_json(client, "anna", "not the password"),
            await _login_json(client, "nobody", "not the password"),
            await _login_json(client, "gone", PASSWORD),
        ]
        assert answers[0][0] == 401
        assert answers[0][1]["error_id"] == "sign_in_failed"
        assert answers[0][1]["message"] == "wrong name or password"
        assert answers[1] == answers[0]
        assert answers[2] == answers[0]
        pages = []
        for name in ("anna", "nobody"):
            async with client.post("/login", data={"name": name, "password": "nope"}) as resp:
                pages.append((resp.status, (await resp.text()).replace(name, "NAME")))
        assert pages[0][0] == 401
        assert "wrong name or password" in pages[0][1]
        assert pages[0] == pages[1]
    failed = [e for e in await audit.entries(pool, "user") if e.action == "user.sign_in_failed"]
    assert {(e.object_id, e.details["why"]) for e in failed} >= {
        ("anna", "wrong_password"),
        ("nobody", "unknown_user"),
        ("gone", "disabled"),
    }


async def test_lockout_after_n_failures_lifts_after_m_minutes(
    pool: asyncpg.Pool, users: None
) -> None:
    """After 3 failed sign-ins a name is locked (even the right password is refused, 429)
    for 15 minutes; then the right password works. An unknown name locks the same way."""
    clock = Clock()
    settings = SessionSettings(lockout=Lockout(3, dt.timedelta(minutes=15)))
    async with serve(pool, clock, settings) as client:
        for name in ("anna", "nobody"):
            for _ in range(3):
                status, body = await _login_json(client, name, "not the password")
                assert (status, body["error_id"]) == (401, "sign_in_failed")
        status, body = await _login_json(client, "anna", PASSWORD)
        assert (status, body["error_id"]) == (429, "sign_in_locked")
        unknown = await _login_json(client, "nobody", PASSWORD)
        assert unknown == (status, body)  # no telling which names exist
        clock.advance(minutes=14, seconds=59)
        status, _ = await _login_json(client, "anna", PASSWORD)
        assert status == 429
        clock.advance(seconds=1)
        status, body = await _login_json(client, "anna", PASSWORD)
        assert status == 200, body
        assert body["redirect"] == "/agent"
    row = await pool.fetchrow("SELECT failed_attempts, locked_until FROM users WHERE name='anna'")
    assert (row["failed_attempts"], row["locked_until"]) == (0, None)
    actions = [e.action for e in reversed(await audit.entries(pool, "user", "anna"))]
    assert actions == [
        "user.added",
        *["user.sign_in_failed"] * 3,
        "user.locked",
        *["user.sign_in_refused"] * 2,
        "user.sign_in",
    ]


async def test_one_address_is_refused_after_many_failures_across_names(
    pool: asyncpg.Pool, users: None
) -> None:
    """Failures from one address across many names stop that address (429) before any
    one name locks; the limit lifts with time."""
    clock = Clock()
    settings = SessionSettings(max_failures_per_source=4)
    async with serve(pool, clock, settings) as client:
        for name in ("a1", "a2", "a3", "a4"):
            status, _ = await _login_json(client, name, "guess guess guess")
            assert status == 401
        status, body = await _login_json(client, "anna", PASSWORD)
        assert (status, body["error_id"]) == (429, "sign_in_locked")
        clock.advance(minutes=15)
        status, _ = await _login_json(client, "anna", PASSWORD)
        assert status == 200


async def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(
    pool: asyncpg.Pool, users: None
) -> None:
    """Behind a trusted proxy each client address has its own limit: one client's
    failures do not lock out the others who come through the same proxy."""
    settings = SessionSettings(max_failures_per_source=2, trusted_proxies=frozenset({"127.0.0.1"}))
    async with serve(pool, Clock(), settings) as client:

        async def attempt(forwarded: str, password: str) -> int:
            headers = {"X-Forwarded-For": forwarded}
            body = {"name": "anna", "password": password}
            async with client.post("/login", json=body, headers=headers) as resp:
                return resp.status

        assert await attempt("198.51.100.7", "guess guess guess") == 401
        assert await attempt("10.9.9.9, 198.51.100.7", "guess guess guess") == 401
        assert await attempt("198.51.100.7", PASSWORD) == 429
        assert await attempt("198.51.100.8", PASSWORD) == 200


async def test_csrf_token_is_needed_on_session_requests_that_change_state(
    pool: asyncpg.Pool, users: None
) -> None:
    """A session's PUT/POST without the CSRF token, or with a wrong one, is 403
    csrf_failed and changes nothing; with it (header or form field) it goes through.
    A bearer-token request needs none."""
    async with serve(pool, Clock()) as client:
        root = await sign_in(client, "root")
        profile = {"name": "Agent 1003", "mode": "ring"}
        status, body = await root.request("PUT", "/api/agents/1003", json=profile, csrf=False)
        assert (status, body["error_id"]) == (403, "csrf_failed")
        wrong = {"X-CSRF-Token": root.csrf[:-1] + ("A" if root.csrf[-1] != "A" else "B")}
        status, body = await root.request(
            "PUT", "/api/agents/1003", json=profile, csrf=False, headers=wrong
        )
        assert (status, body["error_id"]) == (403, "csrf_failed")
        assert await pool.fetchval("SELECT count(*) FROM acd_agents WHERE agent='1003'") == 0
        status, body = await root.request("PUT", "/api/agents/1003", json=profile)
        assert status == 200, body
        assert await pool.fetchval("SELECT name FROM acd_agents WHERE agent='1003'") == "Agent 1003"
        # The form field does as well as the header (sign-out form).
        status, _ = await root.request("POST", "/logout", csrf=False, data={"csrf_token": "x"})
        assert status == 403
        status, _ = await root.request(
            "POST", "/logout", csrf=False, data={"csrf_token": root.csrf}
        )
        assert status == 303
        token, _ = await TokenRepository(pool).create("admin", "ops")
        async with client.put(
            "/api/agents/1004", json=profile, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200


async def test_agent_session_acts_only_for_its_own_agent(pool: asyncpg.Pool, users: None) -> None:
    """An agent session gets 403 on another agent's actions (IDOR) and on supervisor and
    admin routes; its own agent's routes pass the gate (here the queue service is not
    running, so the action itself answers 503); a supervisor acts for any agent."""
    async with serve(pool, Clock()) as client:
        anna = await sign_in(client, "anna")
        for path in ("/api/agents/1002/pause", "/api/agents/1002/unpause"):
            status, body = await anna.request("POST", path, json={"reason": "lunch"})
            assert (status, body["error_id"]) == (403, "forbidden"), path
            assert body["details"] == {"agent": "1002", "subject": "1001"}
        status, body = await anna.request(
            "POST", "/api/agents/1001/spy", json={"endpoint": "1001", "how": "listen"}
        )
        assert (status, body["details"]["needed"]) == (403, "supervisor")
        status, body = await anna.request("PUT", "/api/agents/1001", json={"name": "me"})
        assert (status, body["details"]["needed"]) == (403, "admin")
        status, body = await anna.request("GET", "/api/agents")
        assert status == 200
        status, body = await anna.request(
            "POST", "/api/agents/1001/pause", json={"reason": "lunch"}
        )
        assert (status, body["error_id"]) == (503, "unavailable")
        sue = await sign_in(client, "sue")
        status, body = await sue.request("POST", "/api/agents/1002/unpause")
        assert (status, body["error_id"]) == (503, "unavailable")


async def test_idle_session_expires_and_activity_slides_it(pool: asyncpg.Pool, users: None) -> None:
    """Each request slides the 30-minute idle timeout; 30 idle minutes end the session
    (401 on the API, a redirect to /login for a page); 12 hours end it however busy."""
    clock = Clock()
    async with serve(pool, clock) as client:
        anna = await sign_in(client, "anna")
        for _ in range(3):
            clock.advance(minutes=29)
            status, _ = await anna.request("GET", "/api/session")
            assert status == 200
        clock.advance(minutes=30)
        status, _ = await anna.request("GET", "/api/session")
        assert status == 401
        status, _ = await anna.request("GET", "/agent?tab=calls")
        assert status == 303
        async with client.get(
            "/agent?tab=calls", headers=anna.headers(), allow_redirects=False
        ) as r:
            location = urlsplit(r.headers["Location"])
        assert (location.path, parse_qs(location.query)) == (
            "/login",
            {"next": ["/agent?tab=calls"]},
        )
        busy = await sign_in(client, "anna")
        started = clock.now
        while clock.now - started < dt.timedelta(hours=12) - dt.timedelta(minutes=20):
            clock.advance(minutes=20)
            status, _ = await busy.request("GET", "/api/session")
            assert status == 200
        clock.advance(minutes=20)
        status, _ = await busy.request("GET", "/api/session")
        assert status == 401


async def test_disabling_a_user_or_setting_its_password_ends_its_sessions(
    pool: asyncpg.Pool, users: None
) -> None:
    """`user disable` ends every session of the user and refuses its sign-in; a new
    password ends the sessions opened with the old one."""
    clock = Clock()
    async with serve(pool, clock) as client:
        first, second = await sign_in(client, "anna"), await sign_in(client, "anna")
        bert = await sign_in(client, "bert")
        async with pool.acquire() as conn:
            _, ended = await accounts.set_disabled(conn, "anna", True, actor="test", now=clock())
        assert ended == 2
        for browser in (first, second):
            status, _ = await browser.request("GET", "/api/session")
            assert status == 401
        status, body = await _login_json(client, "anna", PASSWORD)
        assert (status, body["error_id"]) == (401, "sign_in_failed")
        status, _ = await bert.request("GET", "/api/session")
        assert status == 200
        async with pool.acquire() as conn:
            await accounts.change_password(
                conn, "bert", "a brand new password", min_length=12, actor="test", now=clock()
            )
        status, _ = await bert.request("GET", "/api/session")
        assert status == 401
        assert (await _login_json(client, "bert", "a brand new password"))[0] == 200


async def test_session_survives_a_restart(pool: asyncpg.Pool, users: None) -> None:
    """A session opened on one app is still good on a new app over the same database
    (a daemon restart keeps people signed in)."""
    clock = Clock()
    async with serve(pool, clock) as client:
        anna = await sign_in(client, "anna")
    async with serve(pool, clock) as again:
        status, body = await Browser(again, anna.cookie, anna.csrf).request("GET", "/api/session")
        assert status == 200
        assert body["name"] == "anna"
        assert body["csrf_token"] == anna.csrf


async def test_sign_in_never_redirects_off_site(pool: asyncpg.Pool, users: None) -> None:
    """`next` is followed only when it is a path on this site; another site, a
    protocol-relative or backslash URL sends the user to its role's page instead."""
    async with serve(pool, Clock()) as client:
        for target, where in (
            ("/supervisor?queue=sales", "/supervisor?queue=sales"),
            ("https://evil.example/x", "/agent"),
            ("//evil.example/x", "/agent"),
            ("/\\evil.example", "/agent"),
        ):
            form = {"name": "anna", "password": PASSWORD, "next": target}
            async with client.post("/login", data=form, allow_redirects=False) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == where, target
        async with client.get("/login", params={"next": "//evil.example"}) as resp:
            page = await resp.text()
        assert resp.status == 200
        assert "evil.example" not in page
        assert resp.headers["X-Frame-Options"] == "DENY"
        async with client.get("/login", params={"next": '/agent?x="><b>'}) as resp:
            page = await resp.text()
        assert 'value="/agent?x=&#34;&gt;&lt;b&gt;"' in page  # escaped, not markup


async def test_sign_in_form_posted_from_another_site_is_refused(
    pool: asyncpg.Pool, users: None
) -> None:
    """A sign-in posted by another site's page (Origin) is refused: it would sign the
    browser in as the other site's user (login CSRF)."""
    async with serve(pool, Clock()) as client:
        form = {"name": "anna", "password": PASSWORD}
        for origin in ("https://evil.example", "null", f"http://evil.example:{client.port}"):
            async with client.post("/login", data=form, headers={"Origin": origin}) as resp:
                assert resp.status == 403, origin
                assert set_cookies(resp) == {}
        headers = {"Origin": f"http://{client.host}:{client.port}"}
        async with client.post("/login", data=form, headers=headers, allow_redirects=False) as resp:
            assert resp.status == 303


async def test_event_websocket_with_a_cookie_needs_this_sites_origin(
    pool: asyncpg.Pool, users: None
) -> None:
    """The event websocket opens with the session cookie from this site's origin, and is
    refused (403) from another origin or with none (cross-site websocket hijacking)."""
    async with serve(pool, Clock()) as client:
        anna = await sign_in(client, "anna")
        for origin in ("https://evil.example", None):
            headers = {"Cookie": anna.cookie}
            if origin:
                headers["Origin"] = origin
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/api/events", headers=headers)
            assert refused.value.status == 403
        headers = {"Cookie": anna.cookie, "Origin": f"http://{client.host}:{client.port}"}
        ws = await client.ws_connect("/api/events", headers=headers)
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        await ws.close()


async def test_a_session_websocket_is_dropped_when_the_session_ends(
    pool: asyncpg.Pool, users: None
) -> None:
    """The event websocket opened with a cookie is dropped once its user is disabled;
    another user's stays open."""
    clock = Clock()
    async with serve(pool, clock, SessionSettings(recheck_s=0.05)) as client:
        origin = {"Origin": f"http://{client.host}:{client.port}"}
        anna, bert = await sign_in(client, "anna"), await sign_in(client, "bert")
        sockets = []
        for browser in (anna, bert):
            ws = await client.ws_connect("/api/events", headers={**browser.headers(), **origin})
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
            sockets.append(ws)
        async with pool.acquire() as conn:
            await accounts.set_disabled(conn, "anna", True, actor="test", now=clock())
        message = await sockets[0].receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert not sockets[1].closed
        for ws in sockets:
            await ws.close()


async def test_sign_in_sign_out_and_session_actions_are_audited(
    pool: asyncpg.Pool, users: None
) -> None:
    """Sign-in, each state-changing API call made through a session (with its route and
    status; refused ones too: no CSRF token, another agent's) and sign-out are in the
    audit log under the user's name; sign-out ends the session and clears the cookie."""
    async with serve(pool, Clock()) as client:
        root = await sign_in(client, "root")
        status, _ = await root.request("PUT", "/api/agents/1003", json={"name": "Agent 1003"})
        assert status == 200
        status, _ = await root.request("POST", "/api/agents/1003/spy", json={})
        assert status == 400
        status, _ = await root.request("PUT", "/api/agents/1004", json={}, csrf=False)
        assert status == 403
        anna = await sign_in(client, "anna")
        status, _ = await anna.request("POST", "/api/agents/1002/pause", json={"reason": "x"})
        assert status == 403
        async with client.post(
            "/logout", headers=root.headers(), json={}, allow_redirects=False
        ) as resp:
            assert resp.status == 200
            assert set_cookies(resp)["ccpbx_session"]["max-age"] == "0"
        status, _ = await root.request("GET", "/api/session")
        assert status == 401
    actions = [(e.actor, e.action) for e in reversed(await audit.entries(pool, "user", "root"))]
    assert actions[-2:] == [("root", "user.sign_in"), ("root", "user.sign_out")]
    calls = [
        (e.actor, e.action, e.details["route"], e.details["status"])
        for e in reversed(await audit.entries(pool, "http"))
    ]
    assert calls == [
        ("root", "http.put", "/api/agents/{agent}", 200),
        ("root", "http.post", "/api/agents/{agent}/spy", 400),
        ("root", "http.put", "/api/agents/{agent}", 403),
        ("anna", "http.post", "/api/agents/{agent}/pause", 403),
    ]


async def test_pages_redirect_to_sign_in_and_public_paths_stay_open(
    pool: asyncpg.Pool, users: None
) -> None:
    """A page asked for without a session redirects to /login?next=...; the API answers
    401; /login, /health and /static/ need no sign-in."""
    async with serve(pool, Clock()) as client:
        async with client.get("/supervisor", allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] in (
                "/login?next=/supervisor",
                "/login?next=%2Fsupervisor",
            )
        async with client.get("/api/agents") as resp:
            assert resp.status == 401
        async with client.get("/login") as resp:
            assert resp.status == 200
            page = await resp.text()
            assert 'autocomplete="current-password"' in page
            assert '<label for="name">' in page
        async with client.get("/health") as resp:
            assert resp.status == 200
        async with client.get("/static/none.js") as resp:
            assert resp.status == 404  # no such file, but no sign-in asked
