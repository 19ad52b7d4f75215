"""Wiring the daemon to a sandbox Asterisk (demo, integration tests, benchmarks)."""

from __future__ import annotations

from ccpbx.config import (
    AgiConfig,
    AmiConfig,
    Config,
    DatabaseConfig,
    DialerConfig,
    HttpConfig,
    LogConfig,
    SipConfig,
)
from ccpbx.sandbox.asterisk import SIP_REALM, AsteriskInstance


def daemon_config(
    asterisk: AsteriskInstance, database_url: str, http_port: int = 0, log_format: str = "console"
) -> Config:
    """A config that points the daemon at ``asterisk`` with short, test-friendly timers."""
    s = asterisk.settings
    return Config(
        ami=AmiConfig(
            host="127.0.0.1",
            port=s.ami_port,
            username=s.ami_username,
            secret=s.ami_secret,
            ping_interval=2.0,
            ping_timeout=2.0,
            reconnect_min=0.2,
            reconnect_max=2.0,
        ),
        agi=AgiConfig(host="127.0.0.1", port=s.agi_port),
        http=HttpConfig(host="127.0.0.1", port=http_port),
        database=DatabaseConfig(url=database_url, pool_min=1, pool_max=4),
        log=LogConfig(level="info", format=log_format),
        # A stock sound stands in for the recorded identification message a call
        # center records (sounds/ccpbx/abandon by default).
        dialer=DialerConfig(
            abandon_prompt="please-try-call-later", machine_prompt="please-try-call-later"
        ),
        # Browsers' SIP over WSS and agents' browser phones, when the sandbox has them.
        sip=SipConfig(
            realm=SIP_REALM,
            wss_port=s.wss_port,
            tls_cert=s.tls_cert,
            tls_key=s.tls_key,
            softphone_key=s.softphone_key,
        ),
        source="sandbox",
    )
