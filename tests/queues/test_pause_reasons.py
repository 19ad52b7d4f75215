"""Pause reason codes: the configured list, the API's check, the phone's digits."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.config import load
from ccpbx.errors import ConfigError, InvalidInput, Unavailable
from ccpbx.queues.reasons import DEFAULT, PauseReasons

from .test_service_logic import Clock, service


def test_entries_parse_into_codes_and_labels_in_order() -> None:
    """``code=Label`` entries keep their order; a bare code is its own label; the phone
    digits are the 1-based position."""
    reasons = PauseReasons.parse(["break=Coffee break", "lunch", " acw = After-call work "])
    assert reasons.view() == [
        {"code": "break", "label": "Coffee break", "digits": "1"},
        {"code": "lunch", "label": "lunch", "digits": "2"},
        {"code": "acw", "label": "After-call work", "digits": "3"},
    ]
    assert [reasons.by_digits(d) for d in ("1", "3", "4", "0", "", "x")] == [
        "break",
        "acw",
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "at least one"),
        (["Break"], "pause reason code 'Break'"),
        (["lunch", "lunch=Lunch again"], "unique"),
        (["a" * 25], "1 to 24"),
    ],
)
def test_bad_lists_are_refused(entries: list[str], message: str) -> None:
    """An empty list, an upper-case or too long code, a repeated code: refused."""
    with pytest.raises(ValueError, match=message):
        PauseReasons.parse(entries)


def test_unknown_code_is_invalid_input_naming_the_field() -> None:
    """A code not in the list is a 400 naming ``reason`` and listing the codes."""
    assert DEFAULT.check("lunch") == "lunch"
    with pytest.raises(InvalidInput) as caught:
        DEFAULT.check("coffee")
    assert caught.value.details["field"] == "reason"
    assert "lunch" in caught.value.message


def test_config_section_and_its_checks(tmp_path: Path) -> None:
    """``[acd] pause_reasons`` and ``report_time_zone`` load from TOML (and comma-separated
    from the environment); a bad code or an unknown zone stops start-up with the key."""
    path = tmp_path / "ccpbx.toml"
    path.write_text('[acd]\npause_reasons = ["break=Break", "lunch=Lunch"]\n')
    config = load(path, environ={"CCPBX_ACD_REPORT_TIME_ZONE": "Europe/Amsterdam"})
    assert PauseReasons.parse(config.acd.pause_reasons).view()[1]["label"] == "Lunch"
    assert config.acd.report_time_zone == "Europe/Amsterdam"
    env = load(None, environ={"CCPBX_ACD_PAUSE_REASONS": "break,lunch"})
    assert env.acd.pause_reasons == ("break", "lunch")
    with pytest.raises(ConfigError, match=r"acd\.pause_reasons"):
        load(None, environ={"CCPBX_ACD_PAUSE_REASONS": "Break Time"})
    with pytest.raises(ConfigError, match=r"acd\.report_time_zone"):
        load(None, environ={"CCPBX_ACD_REPORT_TIME_ZONE": "Mars/Olympus"})


async def test_service_refuses_an_unknown_reason_before_touching_the_agent() -> None:
    """The queue service pauses for a configured reason only: an unknown one is refused
    as invalid input; a configured one passes the check and goes to the worker (not
    running here: unavailable)."""
    clock = Clock()
    svc = service(clock)
    svc.pause_reasons = PauseReasons.parse(["training=Training"])
    with pytest.raises(InvalidInput) as caught:
        await svc.pause("1001", "lunch")
    assert caught.value.details["field"] == "reason"
    with pytest.raises(Unavailable):
        await svc.pause("1001", "training")
