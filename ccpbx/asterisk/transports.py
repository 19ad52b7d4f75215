"""The SIP transports a real Asterisk listens on, from ``[sip]`` of ccpbx's configuration.

UDP always; TCP, TLS and WSS when their port is set. TLS and WSS share one certificate
and key (``tls_cert``, ``tls_key``). WSS rides on Asterisk's HTTPS server
(``http.conf``), whose address the ``wss`` entry carries for ``http.conf.j2``. NAT
values (``external_address``, ``local_nets``) go on every transport. Besides the file
test in :func:`webrtc_codecs`, pure code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ccpbx.config import Config, SipConfig
from ccpbx.errors import InvalidInput
from ccpbx.pbx.model import PhoneRecord, TrunkRecord
from ccpbx.pbx.values import transport_name

TLS_METHOD = "tlsv1_2"
"""The TLS version the TLS transport speaks (pjproject takes one method)."""

OPUS_MODULES = ("codec_opus.so", "codec_opus_open_source.so")
"""Either gives Asterisk opus transcoding (Debian ships the open-source one)."""

_PORT_KEYS = {"tcp": "tcp_port", "tls": "tls_port", "wss": "wss_port"}


def _nat(sip: SipConfig) -> dict[str, Any]:
    return {"external_address": sip.external_address, "local_nets": list(sip.local_nets)}


def transports(config: Config) -> list[dict[str, Any]]:
    """The ``transports`` template value: one entry per transport to render."""
    sip = config.sip
    nat = _nat(sip)

    def entry(protocol: str, port: int, **extra: Any) -> dict[str, Any]:
        return {
            "name": transport_name(protocol),
            "protocol": protocol,
            "bind": sip.bind,
            "port": port,
            **nat,
            **extra,
        }

    out = [entry("udp", sip.port)]
    if sip.tcp_port:
        out.append(entry("tcp", sip.tcp_port))
    if sip.tls_port:
        out.append(
            entry(
                "tls",
                sip.tls_port,
                cert_file=sip.tls_cert,
                priv_key_file=sip.tls_key,
                method=TLS_METHOD,
            )
        )
    if sip.wss_port:
        # PJSIP's websocket transport takes no port of its own: the HTTPS server
        # listens, and hands /ws upgrades with the "sip" subprotocol to PJSIP.
        out.append(
            entry(
                "wss",
                sip.wss_port,
                http_bind=sip.wss_bind or sip.bind,
                cert_file=sip.tls_cert,
                priv_key_file=sip.tls_key,
            )
        )
    return out


def check_transports(
    phones: Iterable[PhoneRecord], trunks: Iterable[TrunkRecord], rendered: list[dict[str, Any]]
) -> None:
    """Every phone and trunk's transport is rendered, or InvalidInput naming what to set."""
    available = {t["protocol"] for t in rendered}
    users = [(f"phone {p.name}", p.transport) for p in phones]
    users += [(f"trunk {t.name}", t.transport) for t in trunks]
    for who, protocol in users:
        if protocol in available:
            continue
        needs = f"[sip] {_PORT_KEYS.get(protocol, protocol)}"
        if protocol in ("tls", "wss"):
            needs += ", tls_cert and tls_key"
        raise InvalidInput(
            f"{who} uses {protocol}, but no {protocol.upper()} transport is configured: set {needs}"
        )


def webrtc_codecs(config: Config) -> str:
    """What WebRTC phones may use: ``[sip] webrtc_codecs``, or for ``auto`` opus then ulaw
    when Asterisk's modules folder (on this host) holds an opus codec, else ulaw."""
    if config.sip.webrtc_codecs != "auto":
        return config.sip.webrtc_codecs
    modules = Path(config.asterisk.modules_dir)
    if any((modules / name).exists() for name in OPUS_MODULES):
        return "opus,ulaw"
    return "ulaw"
