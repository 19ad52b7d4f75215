"""Call-control request values (pure): transfer targets, modes, DTMF digits."""

from __future__ import annotations

import pytest

from ccpbx.callcontrol.targets import (
    Target,
    TargetKind,
    TransferMode,
    check_digits,
    parse_mode,
    parse_target,
)
from ccpbx.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("agent:1002", Target(TargetKind.AGENT, "1002")),
        ("queue:billing", Target(TargetKind.QUEUE, "billing")),
        ("+12125550123", Target(TargetKind.NUMBER, "+12125550123")),
    ],
)
def test_targets_parse_to_their_kind(text: str, target: Target) -> None:
    """agent:N, queue:NAME and +E164 parse to their kind and print back as given."""
    assert parse_target(text) == target
    assert str(target) == text


@pytest.mark.parametrize(
    "text", ["", "agent:", "agent:1", "queue:Bad Name", "12125550123", "+0123", "phone:1001", 7]
)
def test_bad_targets_name_the_field(text: object) -> None:
    """Anything else is refused, naming the ``to`` field."""
    with pytest.raises(InvalidInput) as caught:
        parse_target(text)
    assert caught.value.details["field"] == "to"


def test_mode_defaults_to_blind_and_refuses_others() -> None:
    """No mode is blind; attended parses; another word names the ``mode`` field."""
    assert parse_mode(None) is TransferMode.BLIND
    assert parse_mode("attended") is TransferMode.ATTENDED
    with pytest.raises(InvalidInput) as caught:
        parse_mode("warm")
    assert caught.value.details["field"] == "mode"


def test_dtmf_digits_are_keypad_keys_only() -> None:
    """0-9 * # A-D, 1 to 32 of them; anything else names the ``digits`` field."""
    assert check_digits("12*#AD") == "12*#AD"
    for bad in ("", "1 2", "x", "1" * 33, None):
        with pytest.raises(InvalidInput) as caught:
            check_digits(bad)
        assert caught.value.details["field"] == "digits"
