"""Follows a campaign's calls: what Asterisk and the ACD say of each, and its outcome.

Synchronous: the runner's worker calls these methods with each input, in order, and
with the time it read. They change the runner's :class:`~.state.RunnerState`, tell
the pacer what it learns from each call, and record each outcome once (the book's
:meth:`~.book.CallBook.finish` removes a call exactly once). Database writes go to
the runner's ordered writer; releasing an agent held for a call is a task of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, EventKind
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.protocol import AmiMessage
from ccpbx.dialer.outcomes import amd_outcome
from ccpbx.dialer.pacing.model import Pacer
from ccpbx.dialer.runtime.book import OutboundCall, Phase
from ccpbx.dialer.runtime.call_records import OutboundRecords
from ccpbx.dialer.runtime.settings import RunnerSettings, utc
from ccpbx.dialer.runtime.settle import outcome_after_restart
from ccpbx.dialer.runtime.state import RunnerState
from ccpbx.queues.service import QueueService
from ccpbx.store import attempts as store_attempts
from ccpbx.store.campaigns import Campaign
from ccpbx.store.leasing import LeasedLead, renew_leases
from ccpbx.tasks import Job

log = structlog.get_logger(__name__)

SETTLE_AFTER_S = 2.0
"""After a failed OriginateResponse, wait this long for the hangup cause that names
the outcome (busy, congestion ...) before recording "failed"."""
_LIVE = frozenset({EventKind.CALL_ENQUEUED, EventKind.CALL_OFFERED, EventKind.CALL_ANSWERED})
"""ACD events that prove a campaign call was answered (it reached the queue)."""


class CallFollower:
    """The calls of one campaign, from placing to outcome (see the module docstring)."""

    def __init__(
        self,
        campaign: Campaign,
        state: RunnerState,
        *,
        settings: RunnerSettings,
        pacer: Pacer,
        acd: QueueService,
        channels: ChannelView,
        records: OutboundRecords,
        write: Callable[[Job], None],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        on_agent_connected: Callable[[str, float], None] | None = None,
    ) -> None:
        self.campaign = campaign
        self.state = state
        self.settings = settings
        self.pacer = pacer
        self._acd = acd
        self._channels = channels
        self.records = records
        self._write = write
        self._spawn = spawn
        self._on_agent_connected = on_agent_connected  # (campaign, answer -> agent s)

    # ----- the placing task's news -------------------------------------------------------

    def placed(self, lead: LeasedLead, now: float) -> None:
        """The lead is marked dialing and its Originate is about to be sent."""
        call = OutboundCall(lead.attempt_id, lead.contact_id, lead.e164, placed_at=now)
        self.state.book.placed(call)
        self.state.counts["placed"] += 1
        self.records.placed(call.key, lead.attempt_id, lead.contact_id, lead.e164)

    def sent(self, key: str, at: float, node: str) -> None:
        """Its Originate was written to Asterisk ``node`` (answered or not: it may ring)."""
        call = self.state.book.get(key)
        if call is not None:
            call.sent = True
        self.records.sent(key, at, node)

    # ----- Asterisk's answers ------------------------------------------------------------

    def originate_response(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Uniqueid") or ""
        call = self.state.book.get(key)
        if call is None or call.phase is not Phase.DIALING:
            return False
        call.report.originate_response(event.get("Response") or "", event.get("Reason") or "")
        if call.report.response == "Success":
            self.answered(key, now)
            return True
        if call.report.response == "Failure":
            call.failed_at = now
        return self.dialing_settled(call, now)

    def dial_end(self, event: AmiMessage, now: float) -> bool:
        key = event.get("DestUniqueid") or ""
        call = self.state.book.get(key)
        if call is None or call.phase is not Phase.DIALING:
            return False
        status = event.get("DialStatus") or ""
        if status.upper() == "ANSWER":
            self.answered(key, now)
            return True
        call.report.dial_end(status)
        return self.dialing_settled(call, now)

    def dialing_settled(self, call: OutboundCall, now: float, *, final: bool = False) -> bool:
        """Record the outcome of a call that was not answered, once Asterisk has said
        enough (its events come in any order; see :class:`AttemptReport`)."""
        outcome = call.report.outcome(final=final)
        if outcome is None or outcome == "answered":
            return False
        self.pacer.observe_outcome(now - call.placed_at, False)
        self.finish(call.key, outcome, now)
        return True

    def answered(self, key: str, now: float) -> None:
        """The customer's line answered (the OriginateResponse, or the call already in
        the dialplan or the queue: Asterisk's events race each other)."""
        call = self.state.book.get(key)
        ring_s = self.state.book.answered(key, now)
        if call is None or ring_s is None:
            return
        self.state.counts["answered"] += 1
        if not self.campaign.settings.amd_enabled:
            self.pacer.observe_outcome(ring_s, True)
        stamp = utc(now)
        self._write(lambda db: store_attempts.mark_progress(db, call.attempt_id, "answered", stamp))
        self.records.answered(key, now)

    def amd(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Attempt") or ""
        call = self.state.book.get(key)
        if call is not None and call.phase is Phase.DIALING:
            self.answered(key, now)
        if call is None or call.phase is not Phase.ANSWERED or call.human is not None:
            return False
        assert call.answered_at is not None
        ring_s = call.answered_at - call.placed_at
        if amd_outcome(event.get("Status") or "") == "machine":
            call.human = False
            self.pacer.observe_outcome(ring_s, False)
        else:
            call.human = True
            self.pacer.observe_outcome(ring_s, True)
        return True

    def hangup(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Uniqueid") or ""
        call = self.state.book.get(key)
        if call is not None and call.phase is Phase.DIALING:
            call.report.hangup(event.get("Cause") or "")
            changed = self.dialing_settled(call, now)
        elif (
            call is not None
            and call.phase is Phase.ANSWERED
            and (key not in self._acd.state.calls or self._acd.state.is_held_outbound(key))
        ):
            # Gone before the ACD had it: a machine (AMD), or a customer who hung up
            # at once (counted as abandoned: a live answer no agent reached).
            if call.human is False:
                self.finish(key, "machine", now)
            else:
                self.abandoned(key, now)
            changed = True
        else:
            changed = False
        # The customer's channel is gone: its call record ends (whatever the phase).
        self.records.hangup(key, now, event.get("Cause"), event.get("Linkedid"))
        return changed

    # ----- the ACD's events for campaign calls ----------------------------------------------

    def acd_event(self, event: AcdEvent, now: float) -> bool:
        state = self.state
        kind = event.kind
        if kind is EventKind.WRAPUP_ENDED and event.agent_id is not None:
            if event.agent_id in state.agent_calls and event.duration_s is not None:
                self.pacer.observe_wrap(event.duration_s)
            return True
        key = event.call_id or ""
        call = state.book.get(key)
        if call is not None and call.phase is Phase.DIALING and kind in _LIVE:
            self.answered(key, now)
        if kind is EventKind.CALL_ANSWERED and call is not None and event.agent_id:
            self._connected(call, event.agent_id, now)
            return True
        if kind in (EventKind.CALL_OVERFLOWED, EventKind.CALL_ABANDONED) and call is not None:
            self.abandoned(key, now)
            return True
        if kind is EventKind.CALL_ENDED and event.agent_id in state.agent_calls:
            if state.agent_calls.get(event.agent_id or "") == key:
                state.book.finish(key)
                if event.duration_s is not None:
                    self.pacer.observe_talk(event.duration_s)
            return True
        return kind in (EventKind.AGENT_UNPAUSED, EventKind.AGENT_LOGGED_IN)

    def _connected(self, call: OutboundCall, agent: str, now: float) -> None:
        state, key = self.state, call.key
        state.holds.pop(key, None)
        took = state.book.connected(key, agent, now)
        if took is not None:
            state.answer_to_agent_s.append(took)
            if self._on_agent_connected is not None:
                self._on_agent_connected(self.campaign.name, took)
        state.agent_calls[agent] = key
        state.counts["connected"] += 1
        assert call.answered_at is not None
        state.ledger.add(call.answered_at, abandoned=False, now=now)
        stamp = utc(now)
        self._write(
            lambda db: store_attempts.record_outcome(db, call.attempt_id, "answered", stamp)
        )
        self.records.connected(key, now, agent)
        log.info(
            "dialer_connected",
            campaign=self.campaign.name,
            attempt_id=key,
            agent=agent,
            answer_to_agent_ms=None if took is None else round(took * 1000, 1),
        )

    # ----- outcomes ------------------------------------------------------------------------

    def release_hold(self, key: str) -> None:
        if self.state.holds.pop(key, None) is not None:
            self._spawn(self._acd.release_outbound(key), "dialer-release-hold")

    def abandoned(self, key: str, now: float) -> None:
        call = self.state.book.finish(key)
        self.release_hold(key)
        if call is None:
            return
        self.state.counts["abandoned"] += 1
        self.state.ledger.add(call.answered_at or now, abandoned=True, now=now)
        self.pacer.observe_abandon(now)
        stamp = utc(now)
        self._write(
            lambda db: store_attempts.record_outcome(db, call.attempt_id, "abandoned", stamp)
        )
        log.info("dialer_abandoned", campaign=self.campaign.name, attempt_id=key)

    def not_dialed(self, key: str, now: float) -> None:
        """The call's Originate never reached Asterisk: nobody was called, the lead goes
        back at once (see :func:`ccpbx.store.attempts.record_outcome`); no call record."""
        call = self.state.book.finish(key)
        self.release_hold(key)
        self.records.not_sent(key)
        if call is None:
            return
        self.state.counts["placed"] -= 1
        stamp = utc(now)
        self._write(
            lambda db: store_attempts.record_outcome(db, call.attempt_id, "not_dialed", stamp)
        )
        log.info("dialer_not_dialed", campaign=self.campaign.name, attempt_id=key)

    def asterisk_restarted(self, now: float) -> None:
        """Asterisk restarted: every call it had is gone; settle them all now."""
        settled: dict[str, int] = {}
        for call in self.state.book.calls():
            outcome = outcome_after_restart(phase=call.phase.value, sent=call.sent)
            if outcome is None:
                continue
            if outcome == "abandoned":
                self.abandoned(call.key, now)
            elif outcome == "ended":
                self.state.book.finish(call.key)
            else:
                self.finish(call.key, outcome, now)
            settled[outcome] = settled.get(outcome, 0) + 1
        self.records.ended_all(now)
        log.warning(
            "dialer_calls_lost_with_asterisk",
            campaign=self.campaign.name,
            settled=sum(settled.values()),
            **settled,
        )

    def finish(self, key: str, outcome: str, now: float) -> None:
        """An outcome other than a live answer (busy, no answer, failed, machine ...)."""
        call = self.state.book.finish(key)
        self.release_hold(key)
        if call is None:
            return
        self.state.counts["unanswered"] += 1
        stamp = utc(now)
        self._write(lambda db: store_attempts.record_outcome(db, call.attempt_id, outcome, stamp))
        if call.phase is Phase.DIALING:
            # Not answered: the call is over, even if its hang-up is still to come.
            self.records.ended(key, now, call.report.hangup_cause)
        log.info("dialer_outcome", campaign=self.campaign.name, attempt_id=key, outcome=outcome)

    # ----- timers ----------------------------------------------------------------------------

    def settle_failed(self, now: float) -> bool:
        late = [
            c
            for c in self.state.book.calls()
            if c.failed_at is not None and now - c.failed_at >= SETTLE_AFTER_S
        ]
        for call in late:
            self.dialing_settled(call, now, final=True)
        return bool(late)

    def renew_and_sweep(self, now: float) -> None:
        """Renew the leases of calls in flight and previews; settle calls whose end was
        missed (no channel any more)."""
        book = self.state.book
        ids = [c.attempt_id for c in book.calls() if c.phase is not Phase.CONNECTED]
        ids += [lead.attempt_id for lead in self.state.previews.values()]
        if ids:
            stamp = utc(now)
            self._write(lambda db: renew_leases(db, ids, stamp))
        limit = self.campaign.settings.ring_timeout_s + self.settings.stuck_after_s
        for call in book.calls():
            if call.phase is Phase.DIALING and now - call.placed_at > limit:
                if call.key not in self._channels:
                    log.warning("dialer_call_lost", attempt_id=call.key)
                    self.finish(call.key, "cancelled", now)
            elif call.phase is not Phase.DIALING and call.key not in self._channels:
                # Its end was missed (events lost across a reconnect).
                if call.phase is Phase.CONNECTED:
                    book.finish(call.key)
                elif now - (call.answered_at or now) > self.settings.stuck_after_s:
                    self.abandoned(call.key, now)
        self.records.sweep(now, lambda key: key in book or key in self._channels)
