"""Phones, trunks and inbound numbers: their shapes and the rules a value must pass.

Pure code, no I/O. The store modules (:mod:`ccpbx.pbx.phones`, ``trunks``, ``numbers``)
check every value here before it reaches the database, and the database checks the
same rules again (sql/0014). Names become PJSIP section names and SIP user names, so
they hold only characters neither Asterisk nor a SIP header reads as syntax.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass

from ccpbx.errors import InvalidInput

PHONE_TRANSPORTS = ("udp", "tcp", "tls", "wss")
TRUNK_TRANSPORTS = ("udp", "tcp", "tls")
CLASSES_OF_SERVICE = ("none", "local", "national", "international")
CODECS = ("ulaw", "alaw", "g722", "gsm", "opus", "g729")
NUMBER_TARGETS = ("ivr", "queue", "agent")
# An agent route rings that one agent: the call waits in the agent's direct line in the
# ACD (ccpbx.queues.model.DirectLines), offered to that agent only.

_PHONE_NAME = re.compile(r"[a-z0-9][a-z0-9_.]{0,39}")
_TRUNK_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")
_USERNAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
_LABEL_BAD = re.compile(r'[\[\];#"<>\x00-\x1f\x7f]')
_SECRET_BAD = re.compile(r"[\[\];#\x00-\x1f\x7f]")
_FLOW = re.compile(r"[a-z][a-z0-9_]{0,62}")
_QUEUE = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")
_AGENT = re.compile(r"[0-9]{2,15}")
_PLACEHOLDER = re.compile(r"\{([a-z]*)\}")

SECRET_BYTES = 18
"""A generated SIP password: 18 random bytes (144 bits), 24 URL-safe characters."""


@dataclass(frozen=True, slots=True)
class PhoneRecord:
    name: str
    label: str
    transport: str
    webrtc: bool
    class_of_service: str
    max_calls: int
    realm: str
    md5_cred: str


@dataclass(frozen=True, slots=True)
class TrunkRecord:
    name: str
    host: str
    port: int
    transport: str
    identify: tuple[str, ...]
    register: bool
    username: str | None
    secret: str | None
    codecs: tuple[str, ...]
    max_channels: int | None
    dial_template: str


@dataclass(frozen=True, slots=True)
class NumberHours:
    """A number's business hours: a calendar of an IVR flow (its active version, read
    at call time) and the route its calls take outside those hours."""

    flow: str
    calendar: str
    closed_kind: str  # "ivr" | "queue" | "agent" like a number's own route, or "voicemail"
    closed_target: str

    @property
    def name(self) -> str:
        return f"{self.flow}/{self.calendar}"

    @property
    def closed_route(self) -> str:
        return f"{self.closed_kind}:{self.closed_target}"


@dataclass(frozen=True, slots=True)
class NumberRecord:
    number: str
    kind: str  # "ivr" | "queue" | "agent"
    target: str
    hours: NumberHours | None = None  # None: the route at every hour

    @property
    def route(self) -> str:
        return f"{self.kind}:{self.target}"


def check_phone_name(name: str) -> str:
    """A phone's name is its SIP user name and PJSIP endpoint: a-z, 0-9, ``_`` and ``.``,
    starting with a letter or digit, at most 40 characters (e.g. ``1001``, ``anna.desk``)."""
    if not isinstance(name, str) or not _PHONE_NAME.fullmatch(name):
        raise InvalidInput(
            f"phone name {name!r}: use 1 to 40 of a-z, 0-9, '_' and '.', starting with a letter"
            " or digit (e.g. 1001 or anna.desk)",
            field="name",
        )
    return name


def check_trunk_name(name: str) -> str:
    if not isinstance(name, str) or not _TRUNK_NAME.fullmatch(name):
        raise InvalidInput(
            f"trunk name {name!r}: use 1 to 40 of a-z, 0-9 and '_', starting with a letter"
            " (e.g. carrier or acme_sip)",
            field="name",
        )
    return name


def check_label(label: str) -> str:
    if len(label) > 80 or _LABEL_BAD.search(label):
        raise InvalidInput(
            'label: at most 80 characters, none of [ ] ; # " < > or control characters',
            field="label",
        )
    return label


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InvalidInput(f"{what}: one of {', '.join(choices)}; got {value!r}", field=what)
    return value


def check_host(host: str) -> str:
    """A trunk's host: an IP address or a DNS name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if not _HOST.fullmatch(host) or ":" in host or any(not part for part in labels):
        raise InvalidInput(f"host {host!r} is not an IP address or host name", field="host")
    return host.lower()


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port must be between 1 and 65535, got {port}", field="port")
    return port


def check_cidr(text: str) -> str:
    """An address or network the trunk's calls come from (``203.0.113.5``, ``198.51.100.0/24``)."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise InvalidInput(
            f"identify {text!r} is not an IP address or network (e.g. 203.0.113.0/24)",
            field="identify",
        ) from None


def check_codecs(text: str) -> tuple[str, ...]:
    codecs = tuple(c.strip() for c in text.split(",") if c.strip())
    if not codecs:
        raise InvalidInput("codecs: name at least one, e.g. ulaw,alaw", field="codecs")
    for codec in codecs:
        check_choice(codec, CODECS, "codecs")
    if len(set(codecs)) != len(codecs):
        raise InvalidInput("codecs: each codec once", field="codecs")
    return codecs


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            f"username {username!r}: 1 to 64 of letters, digits and _ . + -", field="username"
        )
    return username


def check_secret(secret: str) -> str:
    if not 1 <= len(secret) <= 128 or _SECRET_BAD.search(secret):
        raise InvalidInput(
            "secret: 1 to 128 characters, none of [ ] ; # or control characters", field="secret"
        )
    return secret


def check_dial_template(template: str) -> str:
    """How a campaign or route dials a number through the trunk: ``{number}`` must appear,
    ``{trunk}`` may; nothing else in braces, nothing a dialplan would read as syntax."""
    names = _PLACEHOLDER.findall(template)
    rest = _PLACEHOLDER.sub("", template)
    if "number" not in names or set(names) - {"number", "trunk"}:
        raise InvalidInput(
            f"dial template {template!r}: needs {{number}}, may hold {{trunk}}, nothing else"
            " in braces (e.g. PJSIP/{number}@{trunk})",
            field="dial_template",
        )
    if not re.fullmatch(r"[A-Za-z0-9/@._+:-]*", rest) or "/" not in rest:
        raise InvalidInput(
            f"dial template {template!r}: a channel technology and resource such as"
            " PJSIP/{number}@{trunk}, with no spaces, commas or dialplan syntax",
            field="dial_template",
        )
    return template


def check_target(text: str) -> tuple[str, str]:
    """``ivr:FLOW``, ``queue:NAME`` or ``agent:NUMBER`` -> (kind, target)."""
    kind, sep, target = text.partition(":")
    rules = {"ivr": _FLOW, "queue": _QUEUE, "agent": _AGENT}
    if not sep or kind not in rules:
        raise InvalidInput(
            f"route {text!r}: write ivr:FLOW, queue:NAME or agent:NUMBER", field="to"
        )
    if not rules[kind].fullmatch(target):
        raise InvalidInput(f"route {text!r}: {target!r} is not a valid {kind} name", field="to")
    return kind, target


def check_max_calls(value: int) -> int:
    if not 1 <= value <= 100:
        raise InvalidInput(f"max calls must be between 1 and 100, got {value}", field="max_calls")
    return value


def check_realm(realm: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", realm):
        raise InvalidInput(f"SIP realm {realm!r}: 1 to 64 of letters, digits and . _ -")
    return realm


def new_secret() -> str:
    """A fresh SIP password (see :data:`SECRET_BYTES`)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def md5_cred(username: str, realm: str, password: str) -> str:
    """What Asterisk needs to check digest authentication without the password:
    MD5 of ``username:realm:password`` (RFC 2617's HA1), lower-case hex."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


# How a trunk dials a number unless ``ccpbx trunk add --dial-template`` says otherwise.
DEFAULT_DIAL_TEMPLATE = "PJSIP/{number}@{trunk}"


def fill_dial_template(template: str, trunk: str, number: str) -> str:
    return template.replace("{number}", number).replace("{trunk}", trunk)


def dial_string(trunk: TrunkRecord, number: str) -> str:
    return fill_dial_template(trunk.dial_template, trunk.name, number)
