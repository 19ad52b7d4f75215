"""A campaign runner's start: what it takes over from before (ccpbx restarted).

Loads the campaign's abandon history (30 days) and goes through its attempts left
open: a call whose channel Asterisk still has is followed to its end (with its
phase, its agent if the ACD has put it through, and its call record); any other is
settled now from how far it got (:func:`~.settle.settled_outcome`), and its call
record, if one was opened, is closed. Runs on the runner's worker before it takes
any input.
"""

from __future__ import annotations

import structlog

from ccpbx.acd import AcdState
from ccpbx.ami.channels import ChannelView
from ccpbx.dialer.runtime import records
from ccpbx.dialer.runtime.book import AbandonLedger, OutboundCall, Phase
from ccpbx.dialer.runtime.call_records import OutboundRecords
from ccpbx.dialer.runtime.settings import utc
from ccpbx.dialer.runtime.settle import settled_outcome
from ccpbx.dialer.runtime.state import RunnerState
from ccpbx.store.attempts import Attempt
from ccpbx.store.campaigns import Campaign
from ccpbx.store.db import Executor
from ccpbx.store.phones import zone

log = structlog.get_logger(__name__)
HISTORY_S = 30 * 86_400


async def recover(
    db: Executor,
    campaign: Campaign,
    state: RunnerState,
    *,
    channels: ChannelView,
    acd: AcdState,
    call_records: OutboundRecords,
    node: str,
    now: float,
) -> None:
    """Take over the campaign's abandon history and open attempts (see the module
    docstring); ``node`` names the Asterisk instance the channels are on now."""
    history = await records.live_answers(db, campaign.id, utc(now - HISTORY_S))
    fresh = AbandonLedger(zone(campaign.settings.cap_time_zone))
    for at, abandoned in history:
        fresh.add(at.timestamp(), abandoned=abandoned, now=now)
    state.ledger = fresh
    settled = followed = 0
    for attempt in await records.open_attempts(db, campaign.id):
        key = str(attempt.id)
        if key in state.book:
            continue
        channel = channels.get(key)
        outcome = settled_outcome(
            dialing=attempt.dialing_at is not None,
            answered=attempt.answered_at is not None,
            channel_up=channel is not None,
        )
        if outcome is None:
            _follow(attempt, state, acd, now, up=channel is not None and channel.state == "Up")
            started = attempt.dialing_at.timestamp() if attempt.dialing_at else now
            call_records.followed(
                key, attempt.id, attempt.contact_id, attempt.e164, started_at=started, node=node
            )
            followed += 1
            continue
        await records.settle(db, attempt.id, outcome, utc(now))
        if outcome != "not_dialed":
            await records.end_record_of_attempt(db, attempt.id, utc(now))
        settled += 1
    if settled or followed:
        log.warning("dialer_recovered", campaign=campaign.name, settled=settled, followed=followed)


def _follow(attempt: Attempt, state: RunnerState, acd: AcdState, now: float, *, up: bool) -> None:
    """Put a call Asterisk still has back in the book, as far as it got."""
    key = str(attempt.id)
    call = OutboundCall(attempt.id, attempt.contact_id, attempt.e164, placed_at=now)
    acd_call = acd.calls.get(key)
    if attempt.answered_at is not None or up:
        call.phase = Phase.ANSWERED
        call.answered_at = attempt.answered_at.timestamp() if attempt.answered_at else now
        if acd_call is not None and acd_call.agent_id is not None:
            call.phase = Phase.CONNECTED
            call.agent = acd_call.agent_id
            state.agent_calls[acd_call.agent_id] = key
    state.book.placed(call)
