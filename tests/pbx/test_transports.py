"""TLS, WSS and NAT from ``[sip]``: the config keys, the transports and phones rendered
into pjsip.conf and http.conf, and `ccpbx conf lab-cert`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import asyncpg
import pytest

from ccpbx.asterisk import transports
from ccpbx.asterisk.labcert import make_lab_cert
from ccpbx.config import load
from ccpbx.errors import ConfigError, InvalidInput
from ccpbx.pbx import phones

from .test_cli import ccpbx
from .test_conf import REALM, _config, _section

TLS = 'tls_port = 5061\ntls_cert = "/etc/ccpbx/tls/pbx.crt"\ntls_key = "/etc/ccpbx/tls/pbx.key"'
SIP = f'realm = "{REALM}"\ndomain = "pbx.example.com"\nbind = "192.0.2.10"\n{TLS}'
UNUSED_DB = "postgresql://nobody@127.0.0.1:1/unused"  # lab-cert reads no database
NAT = 'external_address = "198.51.100.7"\nlocal_nets = ["10.0.0.0/8", "192.168.1.0/24"]'


def _env(**sip: str) -> dict[str, str]:
    env = {"CCPBX_AMI_SECRET": "s"}
    env.update({f"CCPBX_SIP_{key.upper()}": value for key, value in sip.items()})
    return env


async def test_render_writes_tls_wss_webrtc_and_nat(database_url: str, tmp_path: Path) -> None:
    """With TLS, WSS and NAT keys set: transport-tls (cert, key, tlsv1_2, no client
    certificate), transport-wss and an HTTPS-only http.conf on wss_bind:wss_port, NAT
    options on every transport, a TLS phone on transport-tls and a WebRTC phone with
    webrtc = yes and the configured codecs."""
    conn = await asyncpg.connect(database_url)
    try:
        await phones.add(conn, "2001", realm=REALM, transport="tls")
        await phones.add(conn, "web1", realm=REALM, webrtc=True)
    finally:
        await conn.close()
    sip = f'{SIP}\nwss_port = 8089\nwss_bind = "192.0.2.11"\nwebrtc_codecs = "opus,ulaw"\n{NAT}'
    cfg = _config(tmp_path, sip=sip)
    out = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert out.returncode == 0, out.stderr
    pjsip = (tmp_path / "staged" / "pjsip.conf").read_text()
    tls = _section(pjsip, "transport-tls", "transport")
    for line in (
        "protocol = tls",
        "bind = 192.0.2.10:5061",
        "cert_file = /etc/ccpbx/tls/pbx.crt",
        "priv_key_file = /etc/ccpbx/tls/pbx.key",
        "method = tlsv1_2",
        "verify_client = no",
    ):
        assert f"\n{line}\n" in f"\n{tls}", line
    wss = _section(pjsip, "transport-wss", "transport")
    assert "protocol = wss\nbind = 192.0.2.10\n" in wss
    for name in ("transport-udp", "transport-tls", "transport-wss"):
        body = _section(pjsip, name, "transport")
        assert "external_signaling_address = 198.51.100.7\n" in body, name
        assert "external_media_address = 198.51.100.7\n" in body, name
        assert "local_net = 10.0.0.0/8\nlocal_net = 192.168.1.0/24\n" in body, name
    assert "transport = transport-tls\n" in _section(pjsip, "2001", "phone-endpoint")
    web = _section(pjsip, "web1", "phone-endpoint")
    assert "transport = transport-wss\n" in web
    assert "webrtc = yes\ndisallow = all\nallow = opus,ulaw\n" in web
    assert "webrtc" not in _section(pjsip, "2001", "phone-endpoint")
    http = (tmp_path / "staged" / "http.conf").read_text()
    body = http.split("[general]\n", 1)[1]
    assert "enabled = yes\ntlsenable = yes\ntlsbindaddr = 192.0.2.11:8089\n" in body
    assert "tlscertfile = /etc/ccpbx/tls/pbx.crt\ntlsprivatekey = /etc/ccpbx/tls/pbx.key\n" in body
    assert not re.search(r"^bindaddr", body, re.M)  # no plain HTTP listener


async def test_render_without_tls_or_wss_keeps_http_off(database_url: str, tmp_path: Path) -> None:
    """By default only UDP is rendered, with no NAT options, and Asterisk's HTTP server
    is off; a WebRTC phone then is refused, naming the keys to set."""
    cfg = _config(tmp_path)
    out = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert out.returncode == 0, out.stderr
    pjsip = (tmp_path / "staged" / "pjsip.conf").read_text()
    assert re.findall(r"^protocol = (\w+)", pjsip, re.M) == ["udp"]
    assert "external_" not in pjsip
    assert "local_net" not in pjsip
    http = (tmp_path / "staged" / "http.conf").read_text()
    assert "enabled = no\n" in http
    assert "tlsenable" not in http
    conn = await asyncpg.connect(database_url)
    try:
        await phones.add(conn, "web1", realm=REALM, webrtc=True)
    finally:
        await conn.close()
    refused = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert refused.returncode == 1
    assert "phone web1 uses wss, but no WSS transport is configured" in refused.stderr
    assert "set [sip] wss_port, tls_cert and tls_key" in refused.stderr


@pytest.mark.parametrize(
    ("sip", "key"),
    [
        ({"tls_port": "5061"}, "sip.tls_cert"),
        ({"wss_port": "8089", "tls_cert": "/c.pem"}, "sip.tls_key"),
        ({"tls_port": "5061", "tls_cert": "c.pem", "tls_key": "/k.pem"}, "sip.tls_cert"),
        (
            {"tcp_port": "5061", "tls_port": "5061", "tls_cert": "/c", "tls_key": "/k"},
            "sip.tls_port",
        ),
        (
            {"tls_port": "8089", "wss_port": "8089", "tls_cert": "/c", "tls_key": "/k"},
            "sip.wss_port",
        ),
        (
            {"external_address": "pbx.example.com", "local_nets": "10.0.0.0/8"},
            "sip.external_address",
        ),
        ({"external_address": "198.51.100.7"}, "sip.local_nets"),
        ({"local_nets": "10.0.0.0/8,not-a-net"}, "sip.local_nets"),
        ({"webrtc_codecs": "opus,g729"}, "sip.webrtc_codecs"),
        ({"wss_bind": "a b"}, "sip.wss_bind"),
    ],
)
def test_config_refuses_bad_transport_and_nat_keys(sip: dict[str, str], key: str) -> None:
    """Each bad [sip] TLS, WSS or NAT value stops start-up with its key named."""
    with pytest.raises(ConfigError) as caught:
        load(None, _env(**sip))
    assert caught.value.details["key"] == key, caught.value.message


def test_local_nets_from_toml_list_or_comma_text(tmp_path: Path) -> None:
    """local_nets is a TOML list of networks, or comma-separated in CCPBX_SIP_LOCAL_NETS."""
    path = tmp_path / "c.toml"
    path.write_text(f"[sip]\n{NAT}\n")
    assert load(path, {}).sip.local_nets == ("10.0.0.0/8", "192.168.1.0/24")
    env = _env(external_address="198.51.100.7", local_nets="10.0.0.0/8, 172.16.0.0/12")
    assert load(None, env).sip.local_nets == ("10.0.0.0/8", "172.16.0.0/12")


def test_webrtc_codecs_auto_follows_the_opus_module(tmp_path: Path) -> None:
    """ "auto" gives opus,ulaw when Asterisk's modules folder holds an opus codec, else
    ulaw; a list in the config is taken as it is."""
    modules = tmp_path / "modules"
    modules.mkdir()
    config = load(None, _env() | {"CCPBX_ASTERISK_MODULES_DIR": str(modules)})
    assert transports.webrtc_codecs(config) == "ulaw"
    (modules / "codec_opus_open_source.so").write_bytes(b"")
    assert transports.webrtc_codecs(config) == "opus,ulaw"
    listed = load(None, _env(webrtc_codecs="ulaw,alaw"))
    assert transports.webrtc_codecs(listed) == "ulaw,alaw"


def test_lab_cert_is_self_signed_for_the_host_with_a_private_key(tmp_path: Path) -> None:
    """The pair verifies against itself for the host named (DNS or IP subjectAltName),
    the key is mode 600, and existing files are kept unless forced."""
    for host, san in (
        ("pbx.lab.example", "DNS:pbx.lab.example"),
        ("10.1.2.3", "IP Address:10.1.2.3"),
    ):
        made = make_lab_cert(tmp_path, host, days=30)
        assert oct(made.key.stat().st_mode & 0o777) == "0o600"
        text = subprocess.run(
            ["openssl", "x509", "-in", str(made.cert), "-noout", "-text"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert san in text
        check = "-verify_ip" if host[0].isdigit() else "-verify_hostname"
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", str(made.cert), check, host, str(made.cert)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stderr
        pair = [
            subprocess.run(
                ["openssl", kind, "-in", str(path), *flags],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for kind, path, flags in (
                ("x509", made.cert, ("-noout", "-pubkey")),
                ("pkey", made.key, ("-pubout",)),
            )
        ]
        assert pair[0] == pair[1]  # the key is the certificate's
    before = (tmp_path / "10.1.2.3.crt").read_bytes()
    with pytest.raises(InvalidInput, match="--force"):
        make_lab_cert(tmp_path, "10.1.2.3")
    assert (tmp_path / "10.1.2.3.crt").read_bytes() == before
    assert make_lab_cert(tmp_path, "10.1.2.3", force=True).cert.read_bytes() != before
    with pytest.raises(InvalidInput):
        make_lab_cert(tmp_path, "bad host;")


def test_conf_lab_cert_command_defaults_to_the_sip_domain(tmp_path: Path) -> None:
    """`ccpbx conf lab-cert --out DIR` names the pair after [sip] domain, prints both paths
    and the [sip] keys to set."""
    cfg = tmp_path / "ccpbx.toml"
    cfg.write_text('[sip]\ndomain = "pbx.example.com"\n')
    out = ccpbx(
        "conf", "lab-cert", "--out", str(tmp_path / "tls"), database_url=UNUSED_DB, config=cfg
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        str(tmp_path / "tls" / "pbx.example.com.crt"),
        str(tmp_path / "tls" / "pbx.example.com.key"),
    ]
    assert 'tls_cert = "' in out.stderr
    assert "tls_port" in out.stderr
    again = ccpbx(
        "conf", "lab-cert", "--out", str(tmp_path / "tls"), database_url=UNUSED_DB, config=cfg
    )
    assert again.returncode == 1
    assert "--force" in again.stderr


async def test_provision_shows_the_port_of_the_phones_transport(
    database_url: str, tmp_path: Path
) -> None:
    """A TLS phone's account shows tls_port, a WebRTC phone's wss_port; with no TLS
    transport configured, `phone add --transport tls --provision` stores nothing."""
    cfg = _config(tmp_path, sip=f"{SIP}\nwss_port = 8089")
    tls = ccpbx(
        "phone",
        "add",
        "2001",
        "--transport",
        "tls",
        "--provision",
        "--no-qr",
        database_url=database_url,
        config=cfg,
    )
    assert tls.returncode == 0, tls.stderr
    assert "port:      5061\ntransport: tls\n" in tls.stdout
    web = ccpbx(
        "phone",
        "add",
        "web1",
        "--webrtc",
        "--provision",
        "--no-qr",
        database_url=database_url,
        config=cfg,
    )
    assert web.returncode == 0, web.stderr
    assert "port:      8089\ntransport: wss\n" in web.stdout
    bare = _config(tmp_path)
    refused = ccpbx(
        "phone",
        "add",
        "2002",
        "--transport",
        "tls",
        "--provision",
        database_url=database_url,
        config=bare,
    )
    assert refused.returncode == 1
    assert "no TLS transport is configured: set [sip] tls_port" in refused.stderr
    listed = ccpbx("phone", "list", "--json", database_url=database_url, config=bare)
    assert "2002" not in listed.stdout
