"""The ccpbx.toml that ``make demo`` writes aims ``ccpbx conf`` at the demo's Asterisk."""

from __future__ import annotations

from pathlib import Path

from ccpbx.asterisk import apply, production
from ccpbx.config import load
from ccpbx.rootfs import Runtime
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings
from ccpbx.sandbox.demo_conf import config_toml


def test_demo_config_targets_the_sandbox_asterisk(tmp_path: Path) -> None:
    """The demo's ccpbx.toml resolves to the sandbox's config folder (under its root),
    AMI and SIP port, and renders with the sandbox's own port block and folders."""
    root = tmp_path / "root"
    instance = AsteriskInstance(Runtime(root), "demo-x", AsteriskSettings())
    toml = tmp_path / "ccpbx.toml"
    toml.write_text(config_toml(instance, "postgresql://u@127.0.0.1/db", tmp_path / "st"))

    config = load(toml, {})
    target = apply.Target.from_config(config)
    assert target.conf_dir == instance.run_dir / "etc"
    assert target.runtime.root == root
    s = instance.settings
    assert (target.ami.port, target.ami.secret) == (s.ami_port, s.ami_secret)
    assert config.sip.identify_order == "username,ip"
    values = production.template_values(config, production.Records())
    assert values["dirs"] == instance.dirs()
    assert values["sip"]["port"] == s.sip_port
    assert values["rtp"] == {"start": s.rtp_start, "end": s.rtp_start + s.rtp_ports - 2}
    assert values["agi"] == {"host": s.agi_host, "port": s.agi_port}
