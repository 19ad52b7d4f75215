"""How the campaign runtime dials, beyond each campaign's stored settings, and the
few small things its parts share (the database pool, UTC stamps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ccpbx.store.db import Executor

Pool = Callable[[], Executor]
OUTBOUND_CONTEXT = "ccpbx-outbound"
"""Where an originated campaign call goes once the customer answers."""


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How the runtime dials (beyond the campaign's own stored settings)."""

    grace_s: float = 1.5
    """Seconds a live answer may wait for an agent before the abandon message (the
    message must start within 2 s of the answer)."""
    abandon_prompt: str = "ccpbx/abandon"
    machine_prompt: str = "ccpbx/machine"
    outbound_priority: int = -1
    """ACD priority of answered outbound calls (inbound callers have 0: served first)."""
    max_batch: int = 20
    """At most this many calls placed per decision."""
    max_lines_per_agent: float = 4.0
    """Calls in flight never exceed this many per logged-in agent."""
    shift_length_s: float = 8 * 3600.0
    stuck_after_s: float = 30.0
    """A call with no news this long after its ring timeout, and no channel, is settled."""
    idle_poll_s: float = 5.0
    """When no lead is callable, look again after this long."""


def utc(at: float) -> dt.datetime:
    """Epoch seconds as an aware UTC datetime (what the store takes)."""
    return dt.datetime.fromtimestamp(at, dt.UTC)
