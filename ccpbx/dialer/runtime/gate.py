"""May a campaign place calls now? (pure)

A campaign dials only when every call it places can be followed and taken: the AMI
link is up to a fully booted Asterisk (else an Originate is never sent, or its answer
never heard), and the campaign has agents who can take a live answer (logged in and
not paused; an agent whose phone is being called back after an Asterisk restart is
paused for "reconnecting"). While blocked nothing is leased: a lead is not taken out
of the hopper for a call that cannot be placed.
"""

from __future__ import annotations

from enum import StrEnum


class Blocked(StrEnum):
    ASTERISK_UNAVAILABLE = "asterisk_unavailable"
    """The AMI link is down or Asterisk is not fully booted."""
    NO_AGENTS = "no_agents"
    """No agent of the campaign's queue is logged in."""
    NO_WORKING_AGENTS = "no_working_agents"
    """Agents are logged in, but every one is paused (or reconnecting)."""


def dial_blocker(
    *, asterisk_ready: bool, agents_logged_in: int, agents_working: int
) -> Blocked | None:
    """Why the campaign may not lease and dial now, or None when it may.

    ``agents_working``: logged-in members that are not paused (available, reserved, on
    a call or in wrap-up)."""
    if not asterisk_ready:
        return Blocked.ASTERISK_UNAVAILABLE
    if agents_logged_in == 0:
        return Blocked.NO_AGENTS
    if agents_working == 0:
        return Blocked.NO_WORKING_AGENTS
    return None
