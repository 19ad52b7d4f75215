"""Configuration: file, environment, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.config import load
from ccpbx.errors import ConfigError


def test_defaults_without_file() -> None:
    """With no file and no variables, the defaults hold and bind to loopback."""
    config = load(None, environ={})
    assert config.http.host == "127.0.0.1"
    assert config.agi.port == 4573
    assert config.source == "defaults"


def test_file_then_environment(tmp_path: Path) -> None:
    """Environment variables override the file, which overrides the defaults."""
    path = tmp_path / "ccpbx.toml"
    path.write_text('[ami]\nport = 15038\nsecret = "s3"\n[http]\nport = 9000\n')
    config = load(path, environ={"CCPBX_HTTP_PORT": "9100", "DATABASE_URL": "postgresql://x@h/db"})
    assert config.ami.port == 15038
    assert config.ami.secret == "s3"
    assert config.http.port == 9100
    assert config.database.url == "postgresql://x@h/db"
    assert config.source == str(path)


def test_config_is_frozen() -> None:
    """The resolved configuration cannot be changed by accident."""
    config = load(None, environ={})
    with pytest.raises(AttributeError):
        config.http.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[ami]\nport = 70000\n", {}, "ami.port: port must be between 0 and 65535"),
        ("[ami]\nprot = 1\n", {}, r"\[ami\]: unknown key\(s\) prot"),
        ("[amii]\n", {}, r"unknown section\(s\) \[amii\]"),
        ("[http]\nport = 'x'\n", {}, "http.port: expected a whole number"),
        ("[log]\nlevel = 'loud'\n", {}, "log.level: one of debug"),
        ("", {"CCPBX_AGI_HEADER_TIMEOUT": "-1"}, "agi.header_timeout: must be greater than 0"),
        ("", {"CCPBX_DATABASE_URL": "mysql://x"}, "database.url: must be a postgresql:// URL"),
        ("[ami\n", {}, "not valid TOML"),
        ("[database]\npool_min = 5\npool_max = 2\n", {}, "pool_min <= pool_max"),
        ("[dialer]\ngrace_s = 2.5\n", {}, "dialer.grace_s: the abandon message must start"),
        ("[dialer]\nabandon_prompt = 'x;y'\n", {}, "dialer.abandon_prompt: a sound name"),
        ("[dialing]\nhome_region = 'XX'\n", {}, "dialing.home_region: an ISO 3166 region"),
        ("[dialing]\nlocal_prefixes = ['21-2']\n", {}, "dialing.local_prefixes: national"),
        ("[dialing]\npremium_classes = ['gold']\n", {}, "dialing.premium_classes: classes"),
        ("[dialing]\ntrunk = 'Acme SIP'\n", {}, "dialing.trunk: trunk name"),
        ("[dialing]\ndenied_prompt = 'x;y'\n", {}, "dialing.denied_prompt: a sound name"),
        ("[dialing]\ncaller_id = '2125550100'\n", {}, "dialing.caller_id: caller ID '212"),
        ("[dialing]\ncaller_id = '+1 212 555 0100'\n", {}, "dialing.caller_id: write it as"),
        ("[dialing]\ncaller_name = 'A<B'\n", {}, "dialing.caller_name: label: at most 80"),
        ("[http]\nsecure_cookies = 'maybe'\n", {}, "http.secure_cookies: expected true or false"),
        ("[http]\nlogin_max_failures = 0\n", {}, "http.login_max_failures: must be greater"),
        ("[http]\nsession_idle_minutes = -1\n", {}, "http.session_idle_minutes: must be greater"),
        (
            "[http]\nsession_idle_minutes = 900\nsession_lifetime_hours = 1\n",
            {},
            "http.session_idle_minutes: must not exceed",
        ),
        ("[http]\npassword_min_length = 4\n", {}, "http.password_min_length: need 8 to 128"),
        ("[http]\ntrusted_proxies = ['proxy']\n", {}, "http.trusted_proxies: not an IP"),
    ],
)
def test_bad_values_name_their_key(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    """Each bad value is refused with a message naming the key at fault."""
    path = tmp_path / "ccpbx.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load(path, environ=env)


def test_dialing_keys_from_file_and_environment(tmp_path: Path) -> None:
    """[dialing] takes lists from TOML and comma-separated text from the environment."""
    path = tmp_path / "ccpbx.toml"
    path.write_text('[dialing]\nhome_region = "GB"\nlocal_prefixes = ["20"]\ntrunk = "acme"\n')
    config = load(path, environ={"CCPBX_DIALING_PREMIUM_CLASSES": "national,international"})
    assert config.dialing.home_region == "GB"
    assert config.dialing.local_prefixes == ("20",)
    assert config.dialing.premium_classes == ("national", "international")
    assert config.dialing.trunk == "acme"


def test_sign_in_defaults_and_overrides(tmp_path: Path) -> None:
    """Browser sign-in settings default to 30 min idle, 12 h lifetime, 5 failures lock
    for 15 min; the file and the environment override them."""
    config = load(None, environ={})
    assert config.http.secure_cookies is False
    assert config.http.session_idle_minutes == 30
    assert config.http.session_lifetime_hours == 12
    assert (config.http.login_max_failures, config.http.login_lockout_minutes) == (5, 15)
    path = tmp_path / "ccpbx.toml"
    path.write_text("[http]\nsecure_cookies = true\nlogin_max_failures = 3\n")
    config = load(path, environ={"CCPBX_HTTP_SESSION_IDLE_MINUTES": "10"})
    assert config.http.secure_cookies is True
    assert config.http.login_max_failures == 3
    assert config.http.session_idle_minutes == 10


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A config path that does not exist is an error, not a silent fallback to defaults."""
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml", environ={})


def test_shipped_example_config_loads() -> None:
    """docker/ccpbx.toml.example, which `make install-systemd` installs, is valid."""
    example = Path(__file__).resolve().parent.parent / "docker" / "ccpbx.toml.example"
    config = load(example, environ={})
    assert config.dialer.grace_s == 1.5
    assert config.dialer.abandon_prompt == "ccpbx/abandon"


def test_direct_lines_settings_reach_the_acd(tmp_path: Path) -> None:
    """[direct_lines] sets how agents' direct lines run: the daemon's ACD uses them for
    every line it opens; a negative wrap-up is refused."""
    from ccpbx.daemon import Daemon

    path = tmp_path / "ccpbx.toml"
    path.write_text("[direct_lines]\nmax_wait_s = 25\nring_timeout_s = 12\nwrapup_s = 0\n")
    config = load(path, {})
    spec = Daemon(config).acd.floor.direct.spec("1002").config
    assert (spec.name, spec.agent, spec.max_wait_s, spec.ring_timeout_s, spec.wrapup_s) == (
        "agent-1002",
        "1002",
        25,
        12,
        0,
    )
    path.write_text("[direct_lines]\nwrapup_s = -1\n")
    with pytest.raises(ConfigError, match=r"direct_lines\.wrapup_s"):
        load(path, {})
