"""TLS and WSS as `ccpbx conf render` makes them, on a throwaway Asterisk: a SIPp phone
registers over TLS with the `conf lab-cert` certificate (checked against it), and a
browser's websocket to wss://.../ws (subprotocol sip) registers a WebRTC phone.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from ccpbx.asterisk import production
from ccpbx.asterisk.labcert import make_lab_cert
from ccpbx.asterisk.render import default_conf_dir
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.pbx import phones
from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port, free_udp_port
from ccpbx.sandbox.root import ensure_runtime

from .nat_phone import digest_authorization
from .test_conf_render_asterisk import RenderedSettings, _environ

REALM = "pbx.example"

# Modules TLS needs none of (res_pjsip has it); NAT, WSS and WebRTC need these. Until
# asterisk-conf/modules.conf.j2 loads them, the test's copy of the templates adds each
# line that file lacks (nothing, once it has them all).
MODULES_NEEDED = (
    "res_pjsip_nat.so",
    "res_http_websocket.so",
    "res_pjsip_transport_websocket.so",
    "res_srtp.so",
    "res_format_attr_opus.so",
    "codec_opus_open_source.so",
)


def _templates(folder: Path) -> Path:
    shutil.copytree(default_conf_dir(), folder)
    modules = folder / "modules.conf.j2"
    text = modules.read_text()
    missing = [m for m in MODULES_NEEDED if f"load = {m}" not in text]
    modules.write_text(text + "".join(f"load = {m}\n" for m in missing))
    return folder


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[AsteriskInstance]:
    name = f"transports-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    instance = AsteriskInstance(
        ensure_runtime(), name, RenderedSettings(), conf_dir=_templates(tmp_path / "templates")
    )
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


async def _start(
    instance: AsteriskInstance, database_url: str, **phone_opts: dict[str, Any]
) -> dict[str, Any]:
    """Add the phones, make a lab certificate, render as production and start Asterisk;
    return the secrets, ports and certificate."""
    cert = make_lab_cert(instance.run_dir / "tls", "127.0.0.1")
    inside = f"{instance.inside}/tls"
    tls_port, wss_port = free_tcp_port(), free_tcp_port()
    env = _environ(instance, database_url) | {
        "CCPBX_SIP_TLS_PORT": str(tls_port),
        "CCPBX_SIP_WSS_PORT": str(wss_port),
        "CCPBX_SIP_TLS_CERT": f"{inside}/{cert.cert.name}",
        "CCPBX_SIP_TLS_KEY": f"{inside}/{cert.key.name}",
        "CCPBX_SIP_WEBRTC_CODECS": "opus,ulaw",
    }
    conn = await asyncpg.connect(database_url)
    try:
        secrets = {}
        for name, opts in phone_opts.items():
            _, secrets[name] = await phones.add(conn, name, realm=REALM, **opts)
        records = await load_records(conn)
    finally:
        await conn.close()
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(load(None, env), records)
    instance.start()
    return {"secrets": secrets, "tls_port": tls_port, "wss_port": wss_port, "cert": cert}


_TLS_REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx phone registration over TLS">
  <send retrans="500"><![CDATA[
      REGISTER sips:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{realm}>;tag=[pid]reg[call_number]
      To: <sip:{user}@{realm}>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port];transport=tls>
      Expires: 600
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sips:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{realm}>;tag=[pid]reg[call_number]
      To: <sip:{user}@{realm}>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port];transport=tls>
      Expires: 600
      [authentication username={user} password={password}]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
  <pause milliseconds="3000"/>
</scenario>
"""


def _sipp_tls(
    instance: AsteriskInstance, port: int, user: str, password: str
) -> subprocess.Popen[str]:
    """SIPp registering ``user`` over TLS, checking the server against the lab certificate,
    then holding its connection open for 3 s."""
    work = instance.run_dir / "sipp"
    work.mkdir(parents=True, exist_ok=True)
    (work / "tls-register.xml").write_text(
        _TLS_REGISTER.format(user=user, password=password, realm=REALM)
    )
    tls, sipp = f"{instance.inside}/tls", f"{instance.inside}/sipp"
    argv = [
        "sipp",
        f"127.0.0.1:{port}",
        "-t",
        "l1",
        "-tls_cert",
        f"{tls}/127.0.0.1.crt",
        "-tls_key",
        f"{tls}/127.0.0.1.key",
        "-tls_ca",
        f"{tls}/127.0.0.1.crt",
        "-sf",
        f"{sipp}/tls-register.xml",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_tcp_port()),
        "-mp",
        str(free_udp_port()),
        "-m",
        "1",
        "-nostdin",
        "-timeout",
        "20s",
        "-timeout_error",
        "-trace_err",
        "-error_file",
        f"{sipp}/tls-register.errors.log",
    ]
    cmd = ["sh", "-c", f'cd {sipp} && exec "$@"', "sipp", *argv]
    return subprocess.Popen(
        instance.runtime.command(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _tls_handshake(port: int, cafile: Path, version: str) -> bool:
    """Whether Asterisk's TLS transport completes a handshake at ``version`` (openssl)."""
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            f"-{version}",
            "-connect",
            f"127.0.0.1:{port}",
            "-CAfile",
            str(cafile),
            "-verify_return_error",
            "-brief",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return result.returncode == 0 and "Verification: OK" in result.stderr


async def test_phone_registers_over_tls_with_the_lab_certificate(
    instance: AsteriskInstance, database_url: str
) -> None:
    """A TLS phone's endpoint uses transport-tls; SIPp verifies Asterisk's certificate
    against the lab one and registers over TLS; TLS 1.1 is refused, 1.2 accepted."""
    started = await _start(instance, database_url, **{"2001": {"transport": "tls"}})
    transports = instance.cli("pjsip show transports")
    assert re.search(
        rf"transport-tls\s+tls\s+\S+\s+\S+\s+127\.0\.0\.1:{started['tls_port']}", transports
    ), transports
    assert re.search(
        r"^\s*transport\s*:\s*transport-tls\s*$", instance.cli("pjsip show endpoint 2001"), re.M
    )

    sipp = _sipp_tls(instance, started["tls_port"], "2001", started["secrets"]["2001"])
    try:

        async def contact() -> str:
            while True:
                out = instance.cli("pjsip show contacts")
                if "2001/sip:2001@" in out:
                    return out
                if sipp.poll() is not None:
                    return ""
                await asyncio.sleep(0.1)

        contacts = await asyncio.wait_for(contact(), 25)
        # rewrite_contact: the contact is where the TLS connection came from.
        assert re.search(r"2001/sip:2001@127\.0\.0\.1:\d+;transport=tls", contacts, re.I), contacts
        output, _ = await asyncio.to_thread(sipp.communicate, timeout=30)
        assert sipp.returncode == 0, output[-3000:]
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
    cafile = started["cert"].cert
    assert await asyncio.to_thread(_tls_handshake, started["tls_port"], cafile, "tls1_2")
    assert not await asyncio.to_thread(_tls_handshake, started["tls_port"], cafile, "tls1_1")


def _register(user: str, cseq: int, call_id: str, auth: str = "") -> str:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        f"Via: SIP/2.0/WSS browser.invalid;branch=z9hG4bK{uuid.uuid4().hex}",
        f"From: <sip:{user}@{REALM}>;tag=ws{cseq}",
        f"To: <sip:{user}@{REALM}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{user}@browser.invalid;transport=ws>;expires=600",
        "Max-Forwards: 70",
        "User-Agent: ccpbx-test-browser",
    ]
    if auth:
        lines.append(f"Authorization: {auth}")
    return "\r\n".join([*lines, "Content-Length: 0", "", ""])


async def _sip_over_ws(ws: aiohttp.ClientWebSocketResponse, message: str) -> str:
    await ws.send_str(message)
    while True:
        reply = await asyncio.wait_for(ws.receive(), 10)
        assert reply.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), reply
        text = reply.data if isinstance(reply.data, str) else reply.data.decode()
        if not text.startswith("SIP/2.0 100"):
            return text


async def test_browser_registers_a_webrtc_phone_over_wss(
    instance: AsteriskInstance, database_url: str
) -> None:
    """Asterisk's HTTPS server (no plain HTTP) takes a websocket upgrade to /ws with subprotocol sip
    (certificate checked against the lab one); a REGISTER over it is challenged, then
    accepted; the WebRTC endpoint has DTLS, ICE, AVPF, rtcp-mux and opus."""
    started = await _start(instance, database_url, web1={"webrtc": True})
    assert re.search(r"transport-wss\s+wss\s", instance.cli("pjsip show transports"))
    loaded = instance.cli("module show like websocket")
    assert "res_pjsip_transport_websocket.so" in loaded
    assert "res_http_websocket.so" in loaded

    status = instance.cli("http show status")
    # No plain HTTP listener (no bindaddr): browsers reach /ws over HTTPS only.
    assert "Server Disabled" in status, status
    assert "/ws => Asterisk HTTP WebSocket" in status, status
    context = ssl.create_default_context(cafile=str(started["cert"].cert))
    url = f"wss://127.0.0.1:{started['wss_port']}/ws"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, protocols=("sip",), ssl=context, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        ) as ws,
    ):
        assert ws.protocol == "sip"
        call_id = uuid.uuid4().hex
        challenge = await _sip_over_ws(ws, _register("web1", 1, call_id))
        assert challenge.startswith("SIP/2.0 401"), challenge
        header = next(
            line.split(":", 1)[1].strip()
            for line in challenge.split("\r\n")
            if line.lower().startswith("www-authenticate:")
        )
        auth = digest_authorization(
            "web1", started["secrets"]["web1"], "REGISTER", f"sip:{REALM}", header
        )
        accepted = await _sip_over_ws(ws, _register("web1", 2, call_id, auth))
        assert accepted.startswith("SIP/2.0 200"), accepted
        contacts = instance.cli("pjsip show contacts")
        assert "web1/sip:web1@" in contacts, contacts

    endpoint = instance.cli("pjsip show endpoint web1")
    expected = {
        "webrtc": "yes",
        "transport": "transport-wss",
        "media_encryption": "dtls",
        "ice_support": "true",
        "use_avpf": "true",
        "rtcp_mux": "true",
        "allow": "(opus|ulaw)",  # Asterisk's own notation: opus first, then ulaw
    }
    for option, value in expected.items():
        line = rf"^ {option}\s*: {re.escape(value)}\s*$"
        assert re.search(line, endpoint, re.M), (option, endpoint)
