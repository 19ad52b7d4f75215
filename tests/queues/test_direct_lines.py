"""Agents' direct lines as the queue service names and configures them (pure)."""

from __future__ import annotations

import pytest

from ccpbx.acd import OverflowKind, Strategy
from ccpbx.errors import InvalidInput
from ccpbx.queues import views
from ccpbx.queues.floor import QueueFloor
from ccpbx.queues.model import DirectLines, check_queue_name, direct_line_agent, direct_line_name


def test_direct_line_names_map_to_agents_and_back() -> None:
    """``1001`` <-> ``agent-1001``; other names are not direct lines."""
    assert direct_line_name("1001") == "agent-1001"
    assert direct_line_agent("agent-1001") == "1001"
    for name in ("sales", "agent-", "agent-x1", "agent-1", "1001", "agents-1001"):
        assert direct_line_agent(name) is None
    with pytest.raises(InvalidInput):
        direct_line_name("anna")


def test_no_stored_queue_may_take_a_direct_lines_name() -> None:
    """A queue named agent-... is refused (those names belong to agents' lines)."""
    assert check_queue_name("agents") == "agents"
    with pytest.raises(InvalidInput, match="direct lines"):
        check_queue_name("agent-1001")


def test_direct_line_spec_waits_then_goes_to_the_agents_mailbox() -> None:
    """The line serves only its agent, waits max_wait_s, then overflows to the mailbox
    named by the agent number."""
    spec = DirectLines(max_wait_s=45.0, wrapup_s=3.0).spec("1002")
    config = spec.config
    assert (config.name, config.agent, config.strategy) == ("agent-1002", "1002", Strategy.LINEAR)
    assert (config.max_wait_s, config.wrapup_s) == (45.0, 3.0)
    assert config.overflow is not None
    assert (config.overflow.kind, config.overflow.target) == (OverflowKind.VOICEMAIL, "1002")
    assert spec.required == {}


def test_floor_opens_a_direct_line_once() -> None:
    """Opening an agent's line twice keeps the first one (and its waiting callers)."""
    floor = QueueFloor()
    assert floor.open_direct_line("1002") == "agent-1002"
    floor.state.enqueue("c1", "agent-1002", 1.0)
    floor.direct = DirectLines(max_wait_s=5.0)
    assert floor.open_direct_line("1002") == "agent-1002"
    assert floor.state.queue("agent-1002").max_wait_s == 60.0
    assert [c.call_id for c in floor.state.waiting("agent-1002")] == ["c1"]


def test_queue_view_says_whose_direct_line_it_is() -> None:
    """A direct line's view names its agent, its max wait, overflow and waiting caller."""
    floor = QueueFloor()
    floor.open_direct_line("1002")
    floor.state.enqueue("c1", "agent-1002", 1.0)
    view = views.queue_view(floor, "agent-1002", 5.0, waiting=True)
    assert (view["direct_line_of"], view["waiting"], view["max_wait_s"]) == ("1002", 1, 60.0)
    assert view["overflow"] == {"kind": "voicemail", "target": "1002"}
    assert [c["call_id"] for c in view["calls"]] == ["c1"]
