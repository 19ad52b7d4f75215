"""Agents' browser phones: the derived password, the endpoint `conf render` writes for
each enabled agent user, the reserved names, and the configuration they need."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from ccpbx.config import load
from ccpbx.errors import ConfigError, InvalidInput
from ccpbx.pbx import phones
from ccpbx.pbx.model import md5_cred
from ccpbx.pbx.softphones import (
    SoftphoneAgent,
    credentials,
    endpoint_name,
    password,
    phone_record,
)
from ccpbx.queues import store
from ccpbx.queues.model import AgentRecord
from ccpbx.users import accounts

from .test_cli import ccpbx
from .test_conf import REALM, _config, _section

KEY = "a" * 64
TLS = 'tls_cert = "/etc/ccpbx/tls/pbx.crt"\ntls_key = "/etc/ccpbx/tls/pbx.key"'
SIP = f'realm = "{REALM}"\ndomain = "pbx.example.com"\nbind = "192.0.2.10"\n{TLS}'


def test_password_is_derived_per_agent_and_key() -> None:
    """The same key and agent give the same 32-character password; another agent or
    another key gives another one."""
    first = password(KEY, "1001")
    assert first == password(KEY, "1001")
    assert len(first) == 32
    assert first != password(KEY, "1002")
    assert first != password("b" * 64, "1001")


def test_phone_record_is_a_webrtc_phone_with_the_derived_digest() -> None:
    """The browser phone is agent-N-web over WSS with webrtc, labelled with the user's
    display name, its digest md5(name:realm:derived password)."""
    record = phone_record(KEY, SoftphoneAgent("1001", "Alice Agent"), REALM)
    assert record.name == endpoint_name("1001") == "agent-1001-web"
    assert (record.transport, record.webrtc, record.label) == ("wss", True, "Alice Agent")
    assert record.md5_cred == md5_cred("agent-1001-web", REALM, password(KEY, "1001"))


def test_credentials_point_at_the_wss_server_of_the_domain() -> None:
    """The page is told wss://HOST:PORT/ws, its SIP URI on the domain, and no STUN server."""
    got = credentials(
        KEY, "1001", display_name="", host="pbx.example.com", wss_port=8089, realm=REALM, domain=""
    )
    assert got["ws_url"] == "wss://pbx.example.com:8089/ws"
    assert got["uri"] == "sip:agent-1001-web@pbx.example.com"
    assert got["display_name"] == "Agent 1001"
    assert got["ice_servers"] == []


async def test_phone_add_refuses_a_browser_phone_name(database_url: str) -> None:
    """`phone add agent-1001-web` is refused (a desk phone's name holds no '-'), so no
    desk phone can take a browser phone's endpoint."""
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(InvalidInput, match="phone name"):
            await phones.add(conn, "agent-1001-web", realm=REALM)
    finally:
        await conn.close()


def test_softphone_key_needs_wss_and_length() -> None:
    """A softphone key without [sip] wss_port, or shorter than 32 characters, is refused."""
    base = {"CCPBX_SIP_TLS_CERT": "/c.crt", "CCPBX_SIP_TLS_KEY": "/c.key"}
    with pytest.raises(ConfigError, match="softphone_key"):
        load(None, {**base, "CCPBX_SIP_SOFTPHONE_KEY": KEY})
    with pytest.raises(ConfigError, match="softphone_key"):
        load(None, {**base, "CCPBX_SIP_WSS_PORT": "8089", "CCPBX_SIP_SOFTPHONE_KEY": "short"})
    cfg = load(None, {**base, "CCPBX_SIP_WSS_PORT": "8089", "CCPBX_SIP_SOFTPHONE_KEY": KEY})
    assert cfg.sip.softphone_key == KEY


async def _agent_user(conn: asyncpg.Connection, agent: str, name: str) -> None:
    await store.save_agent(conn, AgentRecord(agent, f"Agent {agent}"))
    await accounts.add(
        conn,
        f"agent{agent}",
        role="agent",
        agent=agent,
        display_name=name,
        password="correct horse battery",
        min_length=8,
        actor="test",
        now=dt.datetime.now(dt.UTC),
    )


async def test_render_writes_a_browser_phone_per_enabled_agent_user(
    database_url: str, tmp_path: Path
) -> None:
    """With softphone_key and WSS set, `conf render` writes agent-1001-web (webrtc over
    transport-wss, the derived digest) for the enabled agent user, none for a disabled
    one's agent, and none at all without the key."""
    conn = await asyncpg.connect(database_url)
    try:
        await _agent_user(conn, "1001", "Alice Agent")
        await _agent_user(conn, "1002", "Bob Agent")
        await accounts.set_disabled(
            conn, "agent1002", True, actor="test", now=dt.datetime.now(dt.UTC)
        )
    finally:
        await conn.close()
    sip = f'{SIP}\nwss_port = 8089\nwebrtc_codecs = "ulaw"\nsoftphone_key = "{KEY}"'
    out = ccpbx("conf", "render", database_url=database_url, config=_config(tmp_path, sip=sip))
    assert out.returncode == 0, out.stderr
    pjsip = (tmp_path / "staged" / "pjsip.conf").read_text()
    endpoint = _section(pjsip, "agent-1001-web", "phone-endpoint")
    assert "transport = transport-wss\n" in endpoint
    assert "webrtc = yes\n" in endpoint
    assert 'callerid = "Alice Agent" <agent-1001-web>\n' in endpoint
    digest = md5_cred("agent-1001-web", REALM, password(KEY, "1001"))
    assert f"password_digest = md5:{digest}\n" in _section(pjsip, "agent-1001-web", "phone-auth")
    assert "agent-1002-web" not in pjsip
    assert KEY not in pjsip

    plain = tmp_path / "plain"
    plain.mkdir()
    out = ccpbx(
        "conf",
        "render",
        database_url=database_url,
        config=_config(plain, sip=f"{SIP}\nwss_port = 8089"),
    )
    assert out.returncode == 0, out.stderr
    assert "agent-1001-web" not in (plain / "staged" / "pjsip.conf").read_text()
