"""Template values for a real Asterisk: from ccpbx's configuration (TOML) and the records
it holds (phones, trunks, numbers, queues, IVR entry points).

Pure code: the caller reads the database. The same value shapes as the sandbox's
(:meth:`ccpbx.sandbox.asterisk.AsteriskSettings.template_values`), built by the same
functions (:mod:`ccpbx.pbx.values`), so what the real-Asterisk tests prove holds here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccpbx.asterisk import transports
from ccpbx.config import Config
from ccpbx.errors import InvalidInput
from ccpbx.pbx.model import NumberRecord, PhoneRecord, TrunkRecord
from ccpbx.pbx.softphones import SoftphoneAgent, phone_record
from ccpbx.pbx.values import (
    emergency_values,
    endpoint_values,
    number_values,
    phone_values,
    trunk_values,
)


@dataclass(frozen=True, slots=True)
class Records:
    """What the database holds that the templates need."""

    phones: Sequence[PhoneRecord] = ()
    trunks: Sequence[TrunkRecord] = ()
    numbers: Sequence[NumberRecord] = ()
    queues: Sequence[str] = ()
    ivr_dids: Sequence[str] = ()
    softphones: Sequence[SoftphoneAgent] = ()
    """Agents with an enabled user: each gets a browser phone when ``[sip]
    softphone_key`` is set."""


def browser_phones(config: Config, records: Records) -> list[PhoneRecord]:
    """The agents' browser phones (none without ``[sip] softphone_key``)."""
    key = config.sip.softphone_key
    if not key:
        return []
    return [phone_record(key, a, config.sip.realm) for a in records.softphones]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _transports(config: Config) -> list[dict[str, Any]]:
    return transports.transports(config)


def _check_transports(records: Records, rendered: list[dict[str, Any]]) -> None:
    transports.check_transports(records.phones, records.trunks, rendered)


def _mailbox_pin(config: Config, box: str) -> str:
    """A stable PIN nobody needs (no dialplan lets anyone listen in), not a guessable one."""
    digest = hashlib.sha256(f"{config.ami.secret}:voicemail:{box}".encode()).hexdigest()
    return str(int(digest[:12], 16) % 10**8).zfill(8)


def _mailboxes(records: Records) -> list[str]:
    """One mailbox per queue (its overflow) and per agent a number rings (the agent's
    direct line overflows to the box named by the agent number)."""
    agents = (n.target for n in records.numbers if n.kind == "agent")
    return list(dict.fromkeys([*records.queues, *agents]))


def template_values(config: Config, records: Records) -> dict[str, Any]:
    """Every value the shipped templates read, or InvalidInput saying what to set."""
    if not _loopback(config.ami.host):
        raise InvalidInput(
            f"ami.host is {config.ami.host}: conf render writes a manager.conf that admits"
            " ccpbx from loopback only, so ccpbx must run on the Asterisk host (ami.host ="
            " 127.0.0.1)"
        )
    if not config.ami.secret:
        raise InvalidInput(
            "ami.secret is empty: set [ami] secret (Asterisk's manager.conf gets it)"
        )
    try:
        if ipaddress.ip_address(config.agi.host).is_unspecified:
            raise InvalidInput(
                f"agi.host is {config.agi.host}: Asterisk needs an address to reach ccpbx's"
                " FastAGI server at; set [agi] host to it"
            )
    except ValueError:
        pass
    rendered_transports = _transports(config)
    _check_transports(records, rendered_transports)
    a = config.asterisk
    codecs = transports.webrtc_codecs(config)
    endpoints = endpoint_values(
        (
            phone_values(p, realm=config.sip.realm, webrtc_codecs=codecs)
            for p in (*records.phones, *browser_phones(config, records))
        ),
        (trunk_values(t) for t in records.trunks),
    )
    return {
        "dirs": {
            "etc": a.conf_dir,
            "modules": a.modules_dir,
            "varlib": a.varlib_dir,
            "db": a.varlib_dir,
            "data": a.data_dir,
            "spool": a.spool_dir,
            "run": a.run_dir,
            "log": a.log_dir,
        },
        "ami": {
            "bind": config.ami.host,
            "port": config.ami.port,
            "username": config.ami.username,
            "secret": config.ami.secret,
        },
        "sip": {
            "bind": config.sip.bind,
            "port": config.sip.port,
            "realm": config.sip.realm,
            "identify_order": config.sip.identify_order,
        },
        "transports": rendered_transports,
        "rtp": {"start": a.rtp_start, "end": a.rtp_end},
        "agi": {"host": config.agi.host, "port": config.agi.port},
        **endpoints,
        "numbers": [number_values(n) for n in records.numbers],
        "emergency": emergency_values(
            config.dialing.home_region,
            next((t for t in records.trunks if t.name == config.dialing.trunk), None),
            config.dialing.caller_id,
        ),
        "ivr": {"dids": list(records.ivr_dids)},
        "fallback": {
            "prompt": a.fallback_prompt,
            "context": "ccpbx-fallback-hangup",
            "exten": "s",
            "describe": "hang up",
        },
        "voicemail": {
            "boxes": [
                {"name": box, "pin": _mailbox_pin(config, box), "label": box}
                for box in _mailboxes(records)
            ]
        },
        "tones": {"country": a.tones_country},
    }
