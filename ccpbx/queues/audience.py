"""Who may see which live event: an agent's websocket carries its own agent's events,
queue-level events and the floor's agent states, never another agent's caller.

Pure code: the websocket route asks :func:`visible_to` for each item it would send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Events that describe one agent's call (its caller, its controls) or its request for
# help (with its note): for that agent only.
PRIVATE_TYPES = frozenset(
    {"screen_pop", "call_control", "help_requested", "help_answered", "help_closed"}
)
# Events for the floor's management only (campaign figures).
SUPERVISOR_TYPES = frozenset({"campaign"})


def visible_to(item: Mapping[str, Any], role: str, subject: str | None) -> bool:
    """Whether a websocket of principal (``role``, ``subject``) may receive ``item``.

    Supervisors and admins see everything. An agent sees an event of a private type only
    for its own agent (``agent`` or ``agent_id`` equal to its subject), and no campaign
    figures."""
    if role != "agent":
        return True
    if item.get("type") in SUPERVISOR_TYPES:
        return False
    if item.get("type") not in PRIVATE_TYPES:
        return True
    owner = item.get("agent", item.get("agent_id"))
    return owner is not None and str(owner) == str(subject)
