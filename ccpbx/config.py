"""ccpbx configuration: one frozen, validated object, resolved once at start-up.

Sources, later ones winning: built-in defaults, the TOML file (``--config``, else
``$CCPBX_CONFIG``, else ``/etc/ccpbx/ccpbx.toml`` if it exists), then environment
variables ``CCPBX_<SECTION>_<KEY>`` (and ``DATABASE_URL`` for ``database.url``).
Every problem is reported with the key that holds it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import phonenumbers

from ccpbx.ami.settings import AmiSettings
from ccpbx.asterisk.names import check_sound_name
from ccpbx.errors import ConfigError, InvalidInput
from ccpbx.pbx.model import CLASSES_OF_SERVICE, check_label, check_trunk_name
from ccpbx.queues.reasons import DEFAULT_PAUSE_REASONS, PauseReasons
from ccpbx.store.phones import CallingWindow, check_e164

DEFAULT_PATH = Path("/etc/ccpbx/ccpbx.toml")


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "ccpbx"
    secret: str = ""
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    event_queue_size: int = 10_000

    def session(self, **overrides: Any) -> AmiSettings:
        """The AMI session settings of this section; ``overrides`` change fields (a
        short-lived client's shorter waits, its name in the logs)."""
        settings = AmiSettings(
            host=self.host,
            port=self.port,
            username=self.username,
            secret=self.secret,
            connect_timeout=self.connect_timeout,
            action_timeout=self.action_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            backoff_initial=self.reconnect_min,
            backoff_max=self.reconnect_max,
            event_queue_size=self.event_queue_size,
        )
        return dataclasses.replace(settings, **overrides) if overrides else settings


@dataclass(frozen=True, slots=True)
class AgiConfig:
    host: str = "127.0.0.1"
    port: int = 4573
    header_timeout: float = 5.0
    command_timeout: float = 30.0
    max_header_bytes: int = 16_384
    # Connections held at once: in all, from one source host, and from one source
    # host before it has sent its environment (Asterisk sends it at once).
    max_connections: int = 4096
    max_connections_per_source: int = 2048
    max_pending_per_source: int = 128


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Browser sign-in (web console). Cookies are Secure (and named __Host-...) on a TLS
    # request, or always when ccpbx sits behind a TLS proxy and secure_cookies is set.
    secure_cookies: bool = False
    session_idle_minutes: float = 30.0  # every request slides it
    session_lifetime_hours: float = 12.0  # from sign-in, whatever the activity
    login_max_failures: int = 5  # failed sign-ins in a row that lock a user name
    login_lockout_minutes: float = 15.0
    # Failed sign-ins from one source address within the lockout time before that
    # address is refused for every name (guessing across many names).
    login_max_failures_per_source: int = 50
    token_max_failures_per_source: int = 20  # failed bearer tokens a minute, then 429
    # Addresses of TLS/HTTP proxies in front of ccpbx: a request from one of them is
    # counted against the client address its X-Forwarded-For names.
    trusted_proxies: tuple[str, ...] = ()
    password_min_length: int = 12
    # How far back an agent's screen pop lists the caller number's previous calls.
    screen_pop_history_days: int = 30


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "postgresql://postgres@127.0.0.1:5432/ccpbx"
    pool_min: int = 2
    pool_max: int = 10
    connect_timeout: float = 5.0
    migrations_dir: str = ""


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "auto"  # auto | json | console


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    shutdown_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class DialerConfig:
    enabled: bool = True
    # Seconds a live answer may wait for an agent before the abandon message plays
    # (the message must start within 2 s of the answer).
    grace_s: float = 1.5
    abandon_prompt: str = "ccpbx/abandon"
    machine_prompt: str = "ccpbx/machine"
    # Recipient-local hours in which an agent's manual call to a number may be placed
    # (the same check as a campaign's calling window).
    manual_window: str = "08:00-21:00"


@dataclass(frozen=True, slots=True)
class AsteriskConfig:
    """The Asterisk whose configuration ccpbx renders (``ccpbx conf ...``): its folders
    as that Asterisk sees them, and where ccpbx stages what it renders."""

    conf_dir: str = "/etc/asterisk"
    # The root file system Asterisk runs in, as ccpbx sees it (a chroot or a container's
    # mounted root): its folders (conf_dir, ...) lie under this path, and `conf check`
    # runs its throwaway Asterisk inside it. Empty: the same file system as ccpbx.
    root: str = ""
    staging_dir: str = "/var/lib/ccpbx/conf-staging"
    sounds_dir: str = "/usr/share/asterisk/sounds"
    modules_dir: str = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
    varlib_dir: str = "/var/lib/asterisk"
    data_dir: str = "/usr/share/asterisk"
    spool_dir: str = "/var/spool/asterisk"
    run_dir: str = "/var/run/asterisk"
    log_dir: str = "/var/log/asterisk"
    rtp_start: int = 10000
    rtp_end: int = 20000
    tones_country: str = "us"
    fallback_prompt: str = "ss-noservice"


@dataclass(frozen=True, slots=True)
class SipConfig:
    """SIP as phones and carriers see it. ``realm`` is the digest realm phone credentials
    are made for (changing it needs ``ccpbx phone reset-secret`` for every phone);
    ``domain`` is what a phone is told to register to (a name or address it can reach)."""

    realm: str = "ccpbx"
    domain: str = ""
    bind: str = "0.0.0.0"
    port: int = 5060
    tcp_port: int = 0  # 0: no TCP transport
    # TLS (SIP over TLS for phones and trunks) and WSS (browsers): each needs the
    # certificate and key, PEM files Asterisk can read (`ccpbx conf lab-cert` makes a
    # self-signed pair for a lab).
    tls_port: int = 0  # 0: no TLS transport
    tls_cert: str = ""
    tls_key: str = ""
    wss_bind: str = ""  # Asterisk's HTTPS server for websockets; "" = the same as bind
    wss_port: int = 0  # 0: no WSS transport (and Asterisk's HTTP server stays off)
    # "auto": opus,ulaw when Asterisk's modules folder holds an opus codec, else ulaw.
    webrtc_codecs: str = "auto"
    # Agents' browser phones (ccpbx.pbx.softphones): their passwords are derived from
    # this secret (at least 32 characters); "" = no browser phones.
    softphone_key: str = ""
    # NAT: the public address phones outside reach Asterisk at (signalling and media),
    # and the networks that are reached directly (no rewriting for them).
    external_address: str = ""
    local_nets: tuple[str, ...] = ()

    def port_for(self, transport: str) -> int:
        """The port phones on ``transport`` register to (WSS: the HTTPS server's), or
        InvalidInput naming the key to set."""
        key = "port" if transport == "udp" else f"{transport}_port"
        port = getattr(self, key, 0) if transport in ("udp", "tcp", "tls", "wss") else 0
        if not port:
            raise InvalidInput(
                f"no {transport.upper()} transport is configured: set [sip] {key}",
                field=f"sip.{key}",
            )
        return int(port)

    # Address-identified trunks first: a carrier's call is the carrier's whatever user
    # name its From header holds.
    identify_order: str = "ip,username"


@dataclass(frozen=True, slots=True)
class DialingConfig:
    """Phones' outside calls (class of service, :mod:`ccpbx.pbx.dialing`): the PBX's
    home region (ISO 3166 code, as phonenumbers reads national digits), the national
    number prefixes that are a local call (area codes, e.g. ["212", "646"]), the classes
    that may call premium-rate, shared-cost and satellite numbers (none by default),
    the trunk outside calls go out on (its stored dial template), the prompt a denied
    call hears before it is hung up, and the company's caller ID an outside call shows
    (E.164 ``caller_id`` and ``caller_name``; empty: the phone's own, which a carrier
    usually refuses or replaces)."""

    home_region: str = "US"
    local_prefixes: tuple[str, ...] = ()
    premium_classes: tuple[str, ...] = ()
    trunk: str = "carrier"
    denied_prompt: str = "cannot-complete-as-dialed"
    dial_timeout_s: int = 60
    caller_id: str = ""
    caller_name: str = ""


@dataclass(frozen=True, slots=True)
class DirectLinesConfig:
    """Agents' direct lines (numbers routed ``agent:N``, :class:`ccpbx.queues.model.
    DirectLines`): how long a caller waits for that agent before the agent's voicemail
    box, how long the agent's phone rings (ring mode), wrap-up, and whether calls are
    recorded."""

    max_wait_s: float = 60.0
    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    record: bool = True


@dataclass(frozen=True, slots=True)
class AcdConfig:
    """The ACD's floor settings: the pause reasons agents pick from (``code=Label``
    entries, :mod:`ccpbx.queues.reasons`; on the phone ``*47`` + N picks the Nth) and the
    time zone whose local midnight starts the wallboard's "today" figures."""

    pause_reasons: tuple[str, ...] = DEFAULT_PAUSE_REASONS
    report_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Config:
    ami: AmiConfig = field(default_factory=AmiConfig)
    agi: AgiConfig = field(default_factory=AgiConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    log: LogConfig = field(default_factory=LogConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    dialer: DialerConfig = field(default_factory=DialerConfig)
    asterisk: AsteriskConfig = field(default_factory=AsteriskConfig)
    sip: SipConfig = field(default_factory=SipConfig)
    dialing: DialingConfig = field(default_factory=DialingConfig)
    direct_lines: DirectLinesConfig = field(default_factory=DirectLinesConfig)
    acd: AcdConfig = field(default_factory=AcdConfig)
    source: str = "defaults"


_SECTIONS: dict[str, type] = {
    "ami": AmiConfig,
    "agi": AgiConfig,
    "http": HttpConfig,
    "database": DatabaseConfig,
    "log": LogConfig,
    "daemon": DaemonConfig,
    "dialer": DialerConfig,
    "asterisk": AsteriskConfig,
    "sip": SipConfig,
    "direct_lines": DirectLinesConfig,
    "dialing": DialingConfig,
    "acd": AcdConfig,
}


def _coerce(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"{key}: expected true or false, got {value!r}", key=key)
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}", key=key)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}", key=key) from None
    if kind is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}", key=key)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}", key=key) from None
    if kind == tuple[str, ...]:
        # A TOML list of strings, or comma-separated text (environment variables).
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{key}: expected a list of text, got {value!r}", key=key)
        return tuple(i.strip() for i in items if i.strip())
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}", key=key)
    return value


def _build_section(name: str, values: Mapping[str, Any]) -> Any:
    cls = _SECTIONS[name]
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"[{name}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    kwargs = {k: _coerce(f"{name}.{k}", v, hints[k]) for k, v in values.items()}
    return cls(**kwargs)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for section, cls in _SECTIONS.items():
        for fld in dataclasses.fields(cls):
            var = f"CCPBX_{section.upper()}_{fld.name.upper()}"
            if var in environ:
                out.setdefault(section, {})[fld.name] = environ[var]
    if "DATABASE_URL" in environ and "url" not in out.get("database", {}):
        out.setdefault("database", {})["url"] = environ["DATABASE_URL"]
    return out


def _check_port(key: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{key}: port must be between 0 and 65535, got {port}", key=key)


def _check_host(key: str, host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not host or any(c in host for c in " /\r\n\0"):
            raise ConfigError(f"{key}: not a host name or address: {host!r}", key=key) from None


def validate(config: Config) -> Config:
    for section in ("ami", "agi", "http"):
        value = getattr(config, section)
        _check_port(f"{section}.port", value.port)
        _check_host(f"{section}.host", value.host)
    if not config.ami.username or any(c in config.ami.username for c in "\r\n\0"):
        raise ConfigError("ami.username: must be non-empty text on one line", key="ami.username")
    if any(c in config.ami.secret for c in "\r\n\0"):
        raise ConfigError("ami.secret: must be on one line", key="ami.secret")
    positive = {
        "ami.connect_timeout": config.ami.connect_timeout,
        "ami.action_timeout": config.ami.action_timeout,
        "ami.ping_interval": config.ami.ping_interval,
        "ami.ping_timeout": config.ami.ping_timeout,
        "ami.reconnect_min": config.ami.reconnect_min,
        "agi.header_timeout": config.agi.header_timeout,
        "agi.command_timeout": config.agi.command_timeout,
        "daemon.shutdown_timeout": config.daemon.shutdown_timeout,
        "ami.event_queue_size": config.ami.event_queue_size,
        "agi.max_header_bytes": config.agi.max_header_bytes,
        "agi.max_connections": config.agi.max_connections,
        "agi.max_connections_per_source": config.agi.max_connections_per_source,
        "agi.max_pending_per_source": config.agi.max_pending_per_source,
        "http.session_idle_minutes": config.http.session_idle_minutes,
        "http.session_lifetime_hours": config.http.session_lifetime_hours,
        "http.login_max_failures": config.http.login_max_failures,
        "http.login_lockout_minutes": config.http.login_lockout_minutes,
        "http.login_max_failures_per_source": config.http.login_max_failures_per_source,
        "http.token_max_failures_per_source": config.http.token_max_failures_per_source,
        "direct_lines.max_wait_s": config.direct_lines.max_wait_s,
        "direct_lines.ring_timeout_s": config.direct_lines.ring_timeout_s,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be greater than 0, got {value}", key=key)
    if config.ami.reconnect_max < config.ami.reconnect_min:
        raise ConfigError(
            "ami.reconnect_max: must not be below ami.reconnect_min", key="ami.reconnect_max"
        )
    if not 1 <= config.database.pool_min <= config.database.pool_max:
        raise ConfigError(
            "database.pool_min/pool_max: need 1 <= pool_min <= pool_max", key="database.pool_min"
        )
    if not config.database.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("database.url: must be a postgresql:// URL", key="database.url")
    if config.log.level.lower() not in {"debug", "info", "warning", "error"}:
        raise ConfigError(
            f"log.level: one of debug, info, warning, error; got {config.log.level!r}",
            key="log.level",
        )
    if not 0 < config.dialer.grace_s <= 2.0:
        raise ConfigError(
            "dialer.grace_s: the abandon message must start within 2 s of the answer;"
            f" need 0 < grace_s <= 2, got {config.dialer.grace_s}",
            key="dialer.grace_s",
        )
    for key in ("abandon_prompt", "machine_prompt"):
        try:
            check_sound_name(getattr(config.dialer, key), field="a sound name")
        except InvalidInput as exc:
            raise ConfigError(f"dialer.{key}: {exc.message}", key=f"dialer.{key}") from None
    if config.direct_lines.wrapup_s < 0:
        raise ConfigError("direct_lines.wrapup_s: seconds, 0 or more", key="direct_lines.wrapup_s")
    _validate_sessions(config.http)
    _validate_asterisk(config.asterisk, config.sip)
    _validate_dialing(config.dialing)
    _validate_acd(config.acd)
    _validate_dialer(config.dialer)
    if config.log.format not in {"auto", "json", "console"}:
        raise ConfigError(
            f"log.format: one of auto, json, console; got {config.log.format!r}", key="log.format"
        )
    return config


def _validate_acd(acd: AcdConfig) -> None:
    try:
        PauseReasons.parse(acd.pause_reasons)
    except ValueError as exc:
        raise ConfigError(f"acd.pause_reasons: {exc}", key="acd.pause_reasons") from None
    try:
        zoneinfo.ZoneInfo(acd.report_time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"acd.report_time_zone: not a known time zone: {acd.report_time_zone!r}",
            key="acd.report_time_zone",
        ) from None


def _validate_sessions(http: HttpConfig) -> None:
    if http.session_idle_minutes > http.session_lifetime_hours * 60:
        raise ConfigError(
            "http.session_idle_minutes: must not exceed http.session_lifetime_hours",
            key="http.session_idle_minutes",
        )
    for proxy in http.trusted_proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise ConfigError(
                f"http.trusted_proxies: not an IP address: {proxy!r}", key="http.trusted_proxies"
            ) from None
    if not 8 <= http.password_min_length <= 128:
        raise ConfigError(
            f"http.password_min_length: need 8 to 128, got {http.password_min_length}",
            key="http.password_min_length",
        )


def _validate_asterisk(asterisk: AsteriskConfig, sip: SipConfig) -> None:
    if asterisk.root and not asterisk.root.startswith("/"):
        raise ConfigError("asterisk.root: must be an absolute path or empty", key="asterisk.root")
    for name in (f.name for f in dataclasses.fields(asterisk) if f.name.endswith("_dir")):
        value = getattr(asterisk, name)
        if not value.startswith("/") or any(c in value for c in "\r\n\0[];#"):
            raise ConfigError(
                f"asterisk.{name}: must be an absolute path with none of [ ] ; #",
                key=f"asterisk.{name}",
            )
    if not 1024 <= asterisk.rtp_start < asterisk.rtp_end <= 65535:
        raise ConfigError(
            "asterisk.rtp_start/rtp_end: need 1024 <= rtp_start < rtp_end <= 65535",
            key="asterisk.rtp_start",
        )
    try:
        check_sound_name(asterisk.fallback_prompt, field="a sound name")
    except InvalidInput as exc:
        raise ConfigError(
            f"asterisk.fallback_prompt: {exc.message}", key="asterisk.fallback_prompt"
        ) from None
    if not asterisk.tones_country.isalpha() or len(asterisk.tones_country) != 2:
        raise ConfigError(
            "asterisk.tones_country: a two-letter country code", key="asterisk.tones_country"
        )
    if not all(c.isalnum() or c in "._-" for c in sip.realm) or not 1 <= len(sip.realm) <= 64:
        raise ConfigError("sip.realm: 1 to 64 of letters, digits and . _ -", key="sip.realm")
    if sip.domain:
        _check_host("sip.domain", sip.domain)
    _check_host("sip.bind", sip.bind)
    _check_port("sip.port", sip.port)
    _check_port("sip.tcp_port", sip.tcp_port)
    _validate_sip_transports(sip)
    order = sip.identify_order.split(",")
    if not set(order) <= {"ip", "username", "auth_username", "header", "request_uri"} or (
        "ip" not in order
    ):
        raise ConfigError(
            "sip.identify_order: comma-separated PJSIP identifiers including ip"
            f" (e.g. ip,username); got {sip.identify_order!r}",
            key="sip.identify_order",
        )


def _validate_dialer(dialer: DialerConfig) -> None:
    try:
        CallingWindow.parse(dialer.manual_window)
    except (InvalidInput, ValueError) as exc:
        raise ConfigError(
            f"dialer.manual_window: HH:MM-HH:MM, start before end ({exc})",
            key="dialer.manual_window",
        ) from None


def _validate_dialing(dialing: DialingConfig) -> None:
    if dialing.home_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"dialing.home_region: an ISO 3166 region phonenumbers knows (e.g. US, GB, DE);"
            f" got {dialing.home_region!r}",
            key="dialing.home_region",
        )
    for prefix in dialing.local_prefixes:
        if not prefix.isdigit():
            raise ConfigError(
                "dialing.local_prefixes: national number prefixes in digits, as phonenumbers"
                " writes the national significant number (e.g. 212, or 20 for London);"
                f" got {prefix!r}",
                key="dialing.local_prefixes",
            )
    for klass in dialing.premium_classes:
        if klass not in CLASSES_OF_SERVICE:
            raise ConfigError(
                f"dialing.premium_classes: classes of service ({', '.join(CLASSES_OF_SERVICE)});"
                f" got {klass!r}",
                key="dialing.premium_classes",
            )
    for key, check in (
        ("trunk", check_trunk_name),
        ("denied_prompt", lambda name: check_sound_name(name, field="a sound name")),
    ):
        try:
            check(getattr(dialing, key))
        except InvalidInput as exc:
            raise ConfigError(f"dialing.{key}: {exc.message}", key=f"dialing.{key}") from None
    if not 5 <= dialing.dial_timeout_s <= 300:
        raise ConfigError(
            "dialing.dial_timeout_s: seconds between 5 and 300", key="dialing.dial_timeout_s"
        )
    if dialing.caller_id:
        try:
            e164 = check_e164(dialing.caller_id, "caller ID")
        except InvalidInput as exc:
            raise ConfigError(
                f"dialing.caller_id: {exc.message}", key="dialing.caller_id"
            ) from None
        if e164 != dialing.caller_id:
            raise ConfigError(f"dialing.caller_id: write it as {e164}", key="dialing.caller_id")
    try:
        check_label(dialing.caller_name)
    except InvalidInput as exc:
        raise ConfigError(
            f"dialing.caller_name: {exc.message}", key="dialing.caller_name"
        ) from None


def _validate_sip_transports(sip: SipConfig) -> None:
    """TLS and WSS need a certificate; NAT values must be addresses and networks."""
    _check_port("sip.tls_port", sip.tls_port)
    _check_port("sip.wss_port", sip.wss_port)
    if sip.wss_bind:
        _check_host("sip.wss_bind", sip.wss_bind)
    if sip.tls_port or sip.wss_port:
        for key in ("tls_cert", "tls_key"):
            value = getattr(sip, key)
            if not value.startswith("/") or any(c in value for c in "\r\n\0[];#"):
                raise ConfigError(
                    f"sip.{key}: TLS and WSS need the certificate and its key as absolute"
                    " paths (PEM) with none of [ ] ; #; `ccpbx conf lab-cert` makes a pair"
                    " for a lab",
                    key=f"sip.{key}",
                )
    # TCP, TLS and the HTTPS server for WSS each listen on a TCP port of their own.
    tcp_ports = [("sip.tcp_port", sip.tcp_port), ("sip.tls_port", sip.tls_port)]
    tcp_ports.append(("sip.wss_port", sip.wss_port))
    for i, (key, port) in enumerate(tcp_ports):
        for other, other_port in tcp_ports[:i]:
            if port and port == other_port:
                raise ConfigError(f"{key}: must differ from {other}", key=key)
    if sip.softphone_key and (not sip.wss_port or len(sip.softphone_key) < 32):
        raise ConfigError(
            "sip.softphone_key: browser phones need [sip] wss_port, and the key at least 32"
            " characters (e.g. `openssl rand -hex 32`)",
            key="sip.softphone_key",
        )
    codecs = sip.webrtc_codecs.split(",")
    if sip.webrtc_codecs != "auto" and (
        not all(c in {"opus", "ulaw", "alaw", "g722"} for c in codecs)
        or len(set(codecs)) != len(codecs)
    ):
        raise ConfigError(
            "sip.webrtc_codecs: auto, or a comma-separated list of opus, ulaw, alaw, g722;"
            f" got {sip.webrtc_codecs!r}",
            key="sip.webrtc_codecs",
        )
    if sip.external_address:
        try:
            ipaddress.ip_address(sip.external_address)
        except ValueError:
            raise ConfigError(
                "sip.external_address: the public IP address phones outside reach Asterisk"
                f" at; got {sip.external_address!r}",
                key="sip.external_address",
            ) from None
    for net in sip.local_nets:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(
                f"sip.local_nets: {net!r} is not a network (e.g. 192.168.0.0/16)",
                key="sip.local_nets",
            ) from None
    if sip.external_address and not sip.local_nets:
        raise ConfigError(
            "sip.local_nets: with sip.external_address set, list the networks phones reach"
            ' Asterisk directly from (e.g. ["10.0.0.0/8"]), or every phone gets the'
            " public address",
            key="sip.local_nets",
        )


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Resolve the configuration from file and environment; raise ConfigError on any problem."""
    env = os.environ if environ is None else environ
    if path is None and env.get("CCPBX_CONFIG"):
        path = Path(env["CCPBX_CONFIG"])
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None or DEFAULT_PATH.exists():
        file = path or DEFAULT_PATH
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        source = str(file)
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"unknown section(s) [{'], ['.join(unknown)}]; known: {', '.join(_SECTIONS)}"
        )
    merged: dict[str, dict[str, Any]] = {}
    for section in _SECTIONS:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{section}] must be a table")
        merged[section] = dict(raw)
    for section, values in _env_overrides(env).items():
        merged[section].update(values)
    sections = {name: _build_section(name, values) for name, values in merged.items()}
    return validate(Config(**sections, source=source))
