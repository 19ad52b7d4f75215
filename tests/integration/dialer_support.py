"""Helpers for the dialer's real-call tests (no tests here): campaigns with contacts,
agents on SIPp desk phones, and what Asterisk said about each campaign call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.store.campaigns import Campaign

from .test_acd_support import add_agent


@dataclass
class CallLog:
    """Campaign-call events Asterisk raised, by channel uniqueid (the attempt id)."""

    abandon_message: set[str] = field(default_factory=set)
    waited: set[str] = field(default_factory=set)

    def newexten(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        context = event.get("Context") or ""
        if context == "ccpbx-outbound-abandon" and event.get("Application") == "Playback":
            self.abandon_message.add(uniqueid)
        elif context == "ccpbx-queue-wait" and event.get("Application") == "MusicOnHold":
            self.waited.add(uniqueid)


async def log_in_agents(daemon: Daemon, agents: Sequence[str], queues: Sequence[str]) -> None:
    """Store the agents as persistent members of ``queues`` and log them in at their phones."""
    for agent in agents:
        await add_agent(daemon, agent, list(queues))
        await daemon.acd.login(agent, agent)


async def attempt_rows(daemon: Daemon, campaign: Campaign) -> list[dict[str, object]]:
    rows = await daemon.database.pool.fetch(
        """SELECT id::text AS id, e164, state, outcome FROM call_attempts
           WHERE campaign_id = $1 ORDER BY leased_at""",
        campaign.id,
    )
    return [dict(r) for r in rows]
