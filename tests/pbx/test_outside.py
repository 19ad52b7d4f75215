"""The phone-outside script's pure helpers: call limits and the fail2ban line."""

from __future__ import annotations

import re

import pytest

from ccpbx.pbx.outside import fail2ban_line, over_limit, phone_of


@pytest.mark.parametrize(
    ("up", "limit", "over"),
    [("1", "2", False), ("2", "2", False), ("3", "2", True), ("", "2", True), ("1", "", True)],
)
def test_over_limit_counts_this_call_and_fails_closed(up: str, limit: str, over: bool) -> None:
    """UP includes this call; a missing count or limit is over the limit."""
    assert over_limit(up, limit) is over


def test_the_fail2ban_line_names_the_host_apart_from_its_port() -> None:
    """A failregex `from <HOST> port` finds the phone's address; no commas (Log() splits)."""
    line = fail2ban_line("1010", "+442071234567", "local", "class_too_low", "192.0.2.7:5062")
    assert line == (
        "ccpbx phone_call_denied phone=1010 number=+442071234567 class=local"
        " reason=class_too_low from 192.0.2.7 port 5062"
    )
    assert re.search(r"ccpbx phone_call_denied .* from (\S+) port", line).group(1) == "192.0.2.7"
    assert "," not in fail2ban_line("a", "1,2", "", "x", "")


def test_phone_of_reads_the_endpoint_from_the_channel() -> None:
    """PJSIP/1010-0000002a is phone 1010."""
    assert phone_of("PJSIP/anna.desk-0000002a") == "anna.desk"
