"""Phones, trunks and numbers as template values: the one shape ``pjsip.conf.j2`` and
``extensions.conf.j2`` read, whether the records come from the database (``ccpbx conf
render``) or from the test sandbox (:mod:`ccpbx.sandbox.asterisk`).

Pure code. A phone is authenticated by digest against its stored MD5 credential; a
trunk is identified by address (``identify``, then its caller ID is trusted) or by its
registration (``line``), never by the user name in a From header: its endpoint says
``identify_by = ip``, so PJSIP's user-name identifier never picks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ccpbx.errors import InvalidInput
from ccpbx.pbx.dialing import emergency_numbers
from ccpbx.pbx.model import NumberRecord, PhoneRecord, TrunkRecord, dial_string


def transport_name(protocol: str) -> str:
    return f"transport-{protocol}"


def phone_values(
    phone: PhoneRecord, *, realm: str, rewrite_contact: bool = True, webrtc_codecs: str = "ulaw"
) -> dict[str, Any]:
    """A phone for pjsip.conf. Its credential must have been made for ``realm``; a WebRTC
    phone is offered ``webrtc_codecs`` (e.g. ``opus,ulaw``) instead of the desk codecs."""
    if phone.realm != realm:
        raise InvalidInput(
            f"phone {phone.name}: its secret was made for SIP realm {phone.realm!r}, the"
            f" configuration says {realm!r}; run `ccpbx phone reset-secret {phone.name}`",
            field="realm",
        )
    return {
        "name": phone.name,
        "label": phone.label or phone.name,
        "transport": transport_name(phone.transport),
        "webrtc": phone.webrtc,
        "webrtc_codecs": webrtc_codecs,
        "realm": phone.realm,
        "md5_cred": phone.md5_cred,
        "max_calls": phone.max_calls,
        "class_of_service": phone.class_of_service,
        "rewrite_contact": rewrite_contact,
    }


def trunk_values(trunk: TrunkRecord) -> dict[str, Any]:
    """A trunk for pjsip.conf (endpoint, aor, and identify / auth / registration)."""
    auth = None
    if trunk.username is not None and trunk.secret is not None:
        auth = {"name": f"{trunk.name}-auth", "username": trunk.username, "password": trunk.secret}
    return {
        "name": trunk.name,
        "host": trunk.host,
        "port": trunk.port,
        "transport": transport_name(trunk.transport),
        "contact": f"sip:{trunk.host}:{trunk.port}",
        "identify": list(trunk.identify),
        "register": trunk.register,
        "auth": auth,
        "codecs": ",".join(trunk.codecs),
        "max_channels": trunk.max_channels,
        # Caller ID from the carrier's headers is believed only when the address proves
        # the call is the carrier's.
        "trust_id_inbound": bool(trunk.identify),
        "dial_template": trunk.dial_template,
    }


def number_values(number: NumberRecord) -> dict[str, Any]:
    """An inbound number for extensions.conf: the E.164 form and the digits a carrier may
    send instead (without the ``+``), both routed the same way; with business hours,
    the calendar the ``hours`` script reads and the closed route (else ``hours`` None)."""
    hours = number.hours
    return {
        "number": number.number,
        "digits": number.number.removeprefix("+"),
        "kind": number.kind,
        "target": number.target,
        "route": number.route,
        "hours": None
        if hours is None
        else {
            "flow": hours.flow,
            "calendar": hours.calendar,
            "name": hours.name,
            "closed_kind": hours.closed_kind,
            "closed_target": hours.closed_target,
            "closed_route": hours.closed_route,
        },
    }


def endpoint_values(
    phones: Iterable[dict[str, Any]], trunks: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """``phones`` and ``trunks`` for the templates; refuses two endpoints of one name."""
    phone_list, trunk_list = list(phones), list(trunks)
    seen: set[str] = set()
    for endpoint in (*phone_list, *trunk_list):
        if endpoint["name"] in seen:
            raise InvalidInput(f"two endpoints are named {endpoint['name']!r}")
        seen.add(endpoint["name"])
    return {"phones": phone_list, "trunks": trunk_list}


def emergency_values(
    home_region: str, trunk: TrunkRecord | None, caller_id: str = ""
) -> dict[str, Any]:
    """The emergency numbers the dialplan sends out on its own when ccpbx cannot be
    reached, each with the dial string of ``trunk`` (none when there is no trunk), and
    the company caller ID they show (empty: the phone's own)."""
    if trunk is None:
        return {"numbers": [], "caller_id": caller_id}
    return {
        "caller_id": caller_id,
        "numbers": [
            {
                "number": number,
                "dial": dial_string(trunk, number),
            }
            for number in emergency_numbers(home_region)
        ],
    }
