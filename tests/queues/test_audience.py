"""Which live events an agent's websocket may carry (ccpbx.queues.audience)."""

from __future__ import annotations

import pytest

from ccpbx.queues.audience import visible_to

POP_1002 = {"type": "screen_pop", "agent": "1002", "pop": {"caller": {"number": "+1555"}}}


def test_agent_never_gets_another_agents_screen_pop_or_call_control() -> None:
    """Agent 1001 is not sent 1002's screen pop nor 1002's call-control events."""
    assert not visible_to(POP_1002, "agent", "1001")
    assert not visible_to({"type": "call_control", "agent": "1002"}, "agent", "1001")


def test_agent_gets_its_own_private_events() -> None:
    """Agent 1002 gets its own screen pop and call-control events."""
    assert visible_to(POP_1002, "agent", "1002")
    assert visible_to({"type": "call_control", "agent": "1002"}, "agent", "1002")


def test_private_event_without_an_owner_goes_to_no_agent() -> None:
    """A private event that names no agent is kept from every agent."""
    assert not visible_to({"type": "screen_pop"}, "agent", "1001")


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_everything(role: str) -> None:
    """Supervisors and admins get every agent's events."""
    assert visible_to(POP_1002, role, None)


def test_queue_level_and_state_events_reach_every_agent() -> None:
    """ACD events (queue figures, other agents' states) and snapshots reach agents."""
    assert visible_to({"type": "acd", "kind": "call_enqueued", "queue": "q"}, "agent", "1001")
    assert visible_to({"type": "acd", "kind": "agent_paused", "agent_id": "1002"}, "agent", "1001")


def test_help_requests_reach_their_agent_and_supervisors_only() -> None:
    """Agent 1002's help request (with its note) goes to 1002 and to supervisors, never
    to agent 1001."""
    for kind in ("help_requested", "help_answered", "help_closed"):
        item = {"type": kind, "agent": "1002", "note": "angry caller"}
        assert visible_to(item, "agent", "1002")
        assert not visible_to(item, "agent", "1001")
        assert visible_to(item, "supervisor", None)


def test_campaign_figures_are_for_supervisors() -> None:
    """Pushed campaign figures go to supervisors and admins, not to agents."""
    item = {"type": "campaign", "name": "spring", "in_flight": 3}
    assert not visible_to(item, "agent", "1001")
    assert visible_to(item, "supervisor", None)
    assert visible_to(item, "admin", None)
