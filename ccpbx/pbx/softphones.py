"""Agents' browser phones: one WebRTC endpoint per agent user, whose SIP password is
derived from a server secret instead of being stored.

Desk phones' passwords are shown once and kept nowhere (Asterisk gets the MD5
digest). A browser phone cannot be typed in by its agent, so its password is
``HMAC-SHA256(key, "webrtc:" + agent)`` with ``[sip] softphone_key``: ``conf render``
writes the endpoint's digest from it, and the signed-in agent's page asks for the
password at run time (``GET /api/agents/{agent}/softphone``, ``no-store``), over
its session or agent token only.

Threat model. The key is as secret as ``[ami] secret`` (same file, same owner). Whoever
holds it can register as any agent's browser phone, nothing more: it is no user's
password and opens no API. The password reaches only a signed-in agent's own page
(the route answers agent principals only, each for its own agent: not even an admin
reads another's); it is never logged nor cached. The page is served from ccpbx's
origin and the websocket address comes from ``[sip] domain`` or the page's own host,
so the password goes to the PBX the agent signed in to.
Rotating the key (then ``conf render``/``apply``) rotates every browser phone's
password at once; pages fetch the new one when they next register. Disabling or
removing the agent's user removes its endpoint at the next render.

Endpoint names are ``agent-<agent>-web``: a desk phone's name holds no ``-``
(:func:`ccpbx.pbx.model.check_phone_name`), so none can take it.

Pure code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ccpbx.pbx.model import PhoneRecord, md5_cred

MIN_KEY_LENGTH = 32
"""Characters ``[sip] softphone_key`` needs at least (e.g. ``openssl rand -hex 32``)."""


def endpoint_name(agent: str) -> str:
    """The PJSIP endpoint (and SIP user name) of ``agent``'s browser phone."""
    return f"agent-{agent}-web"


def password(key: str, agent: str) -> str:
    """``agent``'s browser-phone SIP password: 32 URL-safe characters (192 bits)."""
    digest = hmac.new(key.encode(), f"webrtc:{agent}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


@dataclass(frozen=True, slots=True)
class SoftphoneAgent:
    """An agent whose user may sign in to a browser phone."""

    agent: str
    display_name: str


def phone_record(key: str, agent: SoftphoneAgent, realm: str) -> PhoneRecord:
    """The browser phone as a phone record (WebRTC over WSS, the derived credential)."""
    name = endpoint_name(agent.agent)
    return PhoneRecord(
        name=name,
        label=agent.display_name or f"Agent {agent.agent}",
        transport="wss",
        webrtc=True,
        # The agent's own calls out go through the console (ccpbx), like a desk phone's
        # default: national numbers.
        class_of_service="national",
        max_calls=2,
        realm=realm,
        md5_cred=md5_cred(name, realm, password(key, agent.agent)),
    )


def credentials(
    key: str, agent: str, *, display_name: str, host: str, wss_port: int, realm: str, domain: str
) -> dict[str, object]:
    """What the agent's page needs to register its browser phone (with the password)."""
    user = endpoint_name(agent)
    sip_domain = domain or host
    return {
        "ws_url": f"wss://{host}:{wss_port}/ws",
        "uri": f"sip:{user}@{sip_domain}",
        "user": user,
        "password": password(key, agent),
        "realm": realm,
        "display_name": display_name or f"Agent {agent}",
        "agent": agent,
        "ice_servers": [],
    }
