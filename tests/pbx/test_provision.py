"""Provisioning output: the account a softphone takes and the desk-phone file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.errors import InvalidInput
from ccpbx.pbx import model, provision
from ccpbx.pbx.model import PhoneRecord

PHONE = PhoneRecord("1001", "Anna", "tcp", False, "local", 2, "pbx.example", "0" * 32)
TEMPLATE = provision.default_templates_dir() / "yealink.cfg.j2"


def test_the_qr_code_holds_a_sip_uri_with_the_password_only_when_fresh() -> None:
    """With a fresh password the URI carries it (percent-encoded); without, it does not."""
    fresh = provision.account(PHONE, domain="pbx.example.com", port=5060, password="a/b:c")
    assert fresh.uri() == "sip:1001:a%2Fb%3Ac@pbx.example.com:5060;transport=tcp"
    stored = provision.account(PHONE, domain="pbx.example.com", port=5060, password=None)
    assert stored.uri() == "sip:1001@pbx.example.com:5060;transport=tcp"
    assert "reset-secret 1001 --provision" in stored.text()
    assert provision.qr_terminal(fresh.uri()).count("\n") > 10


def test_the_yealink_file_needs_the_password_and_takes_no_extra_lines() -> None:
    """The desk file is refused without the password, and a value with a line break (which
    would add a provisioning key) is refused."""
    with pytest.raises(InvalidInput, match="needs the password"):
        provision.desk_file(
            provision.account(PHONE, domain="d", port=5060, password=None), TEMPLATE
        )
    text = provision.desk_file(
        provision.account(PHONE, domain="pbx.example.com", port=5061, password=model.new_secret()),
        TEMPLATE,
    )
    assert "account.1.sip_server.1.transport_type = 1" in text  # TCP
    assert "account.1.sip_server.1.port = 5061" in text
    evil = provision.Account("1001", "x\naccount.2.enable = 1", "d", 5060, "udp", "r", "pw")
    with pytest.raises(InvalidInput, match="CR, LF or NUL"):
        provision.desk_file(evil, TEMPLATE)


def test_an_admin_template_with_an_unknown_value_fails_naming_it(tmp_path: Path) -> None:
    """An edited template that names a value ccpbx does not give is an error, not a blank."""
    bad = tmp_path / "grandstream.cfg.j2"
    bad.write_text("P35 = {{ account.mac }}\n")
    account = provision.account(PHONE, domain="d", port=5060, password="pw")
    with pytest.raises(InvalidInput, match="mac"):
        provision.desk_file(account, bad)


def test_generated_secrets_are_long_and_distinct_and_the_digest_is_ha1() -> None:
    """Each generated SIP password has 144 random bits (24 URL-safe characters), and the
    stored credential is RFC 2617's HA1."""
    secrets = {model.new_secret() for _ in range(1000)}
    assert len(secrets) == 1000
    assert {len(s) for s in secrets} == {24}
    # RFC 2617's worked example: HA1 for Mufasa / testrealm@host.com / "Circle Of Life".
    ha1 = model.md5_cred("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert ha1 == "939e7578ed9e3c518a452acee763bce9"
