"""Calling a persistent agent's phone back after its Asterisk restarted (pure rules).

The agent's session leg died with Asterisk (killed, or hung up by its shutdown: the
leg's ``SoftHangupRequest`` then carries :data:`SHUTDOWN_SOFTHANGUP`); the agent is
still logged in. ccpbx calls the phone again once its endpoint is registered on the
new Asterisk, a bounded number of times with growing pauses (:mod:`ccpbx.backoff`,
no jitter); a phone that does not come back ends the session (the agent is logged
out with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ccpbx.ami.instance import Headers
from ccpbx.backoff import exponential

SHUTDOWN_SOFTHANGUP = "4"
"""``Cause`` of a ``SoftHangupRequest`` Asterisk sends for each channel it ends because it
is shutting down (``AST_SOFTHANGUP_SHUTDOWN``)."""
ASTERISK_SHUTDOWN = "asterisk_shutdown"
"""Reason given for a leg ended by Asterisk's own shutdown (or restart)."""

UNUSABLE_CONTACT = frozenset({"Unreachable", "Unavailable", "Removed"})
"""Contact states (``ContactStatusDetail``) Asterisk cannot call."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How often and how long ccpbx tries to get an agent's phone back."""

    tries: int = 6
    first_pause_s: float = 1.0
    max_pause_s: float = 8.0
    ring_timeout_s: float = 10.0
    """How long each call to the phone may ring."""
    link_wait_s: float = 60.0
    """How long each try waits for the link to a (new) Asterisk."""

    def pause_before(self, attempt: int) -> float | None:
        """Seconds to wait before try ``attempt`` (0: the first, at once); None once
        every try has been made."""
        if attempt >= self.tries:
            return None
        if attempt == 0:
            return 0.0
        return exponential(self.first_pause_s, self.max_pause_s, attempt - 1)


def registered(contacts: Iterable[Headers]) -> bool:
    """Asterisk can call the endpoint: one of its contacts (``ContactStatusDetail``
    entries of ``PJSIPShowEndpoint``) is in a state other than unreachable."""
    return any(
        (c.get("Status") or "") not in UNUSABLE_CONTACT and bool(c.get("URI") or c.get("Uri"))
        for c in contacts
    )
