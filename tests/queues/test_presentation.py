"""What a ring-mode agent's phone is shown: the queue and the customer (pure)."""

from __future__ import annotations

import pytest

from ccpbx.queues.presentation import ring_caller_id


@pytest.mark.parametrize(
    ("number", "name", "expected"),
    [
        ("+12125550101", "Jane Doe", '"sales: Jane Doe" <+12125550101>'),
        ("+12125550101", "", '"sales: +12125550101" <+12125550101>'),
        ("+12125550101", "+12125550101", '"sales: +12125550101" <+12125550101>'),
        ("2125550101", "<unknown>", '"sales: 2125550101" <2125550101>'),
        ("", "", '"sales: unknown caller" <>'),
        ("<unknown>", "Jane", '"sales: Jane" <>'),
        ("anonymous", "", '"sales: anonymous" <anonymous>'),
    ],
)
def test_display_name_is_queue_then_customer_and_the_number_is_the_customer(
    number: str, name: str, expected: str
) -> None:
    """The display name is "queue: name" (or the number, or "unknown caller"), the
    identity is the customer's number when it can stand in a SIP URI."""
    assert ring_caller_id("sales", number, name) == expected


@pytest.mark.parametrize(
    "name", ['Jane "x" Doe', "Jane <sip:evil> Doe", "Jane\r\nX-Evil: 1", "Jane\\Doe"]
)
def test_a_name_cannot_end_the_display_name_or_the_header_line(name: str) -> None:
    """Quotes, angle brackets, backslashes and control characters in the caller's name
    never reach the Originate: the caller ID stays one quoted name and one number."""
    caller_id = ring_caller_id("sales", "+12125550101", name)
    display = caller_id.removesuffix(" <+12125550101>")
    assert display.startswith('"sales: Jane')
    assert display.endswith('"')
    assert not any(c in display[1:-1] for c in '"<>\\\r\n')


def test_a_long_name_is_cut() -> None:
    """A name longer than a phone's screen is cut to 40 characters."""
    caller_id = ring_caller_id("sales", "+1212", "x" * 200)
    assert caller_id == f'"sales: {"x" * 40}" <+1212>'
