"""Call detail records of inbound calls: which event fills which column (pure, no I/O).

:class:`CdrBook` keeps one draft per inbound call, keyed by the channel that made it:
the Asterisk process (``node``, from :mod:`ccpbx.ami.instance`) and the uniqueid.

================================  ====================================================
input                             columns and details
================================  ====================================================
``arrived`` (a dialplan step in   opens the draft: direction ``inbound``, started_at
the inbound context that is not   (the channel's creation), node, uniqueid, linkedid,
a dialed leg: :func:`calls_in`)   caller (caller ID number), callee (the DID)
ACD ``call_enqueued``             queue (the latest queue entered; an overflow to
                                  another queue moves it there)
ACD ``call_answered``             answered_at, agent; details ``wait_s``
ACD ``call_abandoned``            details ``abandoned`` (true), ``wait_s``
ACD ``call_overflowed``           details ``overflows`` (queue, kind, target, wait_s)
ACD ``call_ended``                details ``talk_s``
``hung_up`` (AMI Hangup)          ended_at, hangup_cause (Q.850 code);
                                  details ``hangup_cause_text``
``reconcile`` (after a            ended_at = now for calls Asterisk no longer has;
reconnect)                        details ``ended_by`` (``asterisk_restarted`` or
                                  ``gone_while_away``)
``adopt`` (a stored record with   followed again if its channel lives, else ended now
no end, after a ccpbx restart)    (``gone_while_away``)
================================  ====================================================

Every snapshot also carries details ``outcome``: ``answered``; else the last overflow's
kind when it took the caller out of the queues (``voicemail``, ``callback``,
``message``); else ``abandoned`` for a caller who was queued; else ``ivr`` (the call
ended in the IVR, never queued).

Calls the book did not see arrive (the dialer's outbound calls, agent legs) get
nothing: their ACD events and hang-ups are ignored. A repeated input changes nothing
(the first start, answer and end are kept). Drafts that changed are *dirty* until a
writer takes them (:meth:`take`) and confirms them (:meth:`written`) or gives them
back (:meth:`retry`); an ended draft is kept ``linger_s`` after its end, for the ACD
events that follow a hang-up, then forgotten once written. The book holds at most
``capacity`` drafts: a call arriving when it is full gets no record and is counted in
``dropped`` (calls already held keep being followed).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from ccpbx.acd import AcdEvent, EventKind, OverflowKind
from ccpbx.store.records import CallRecord, RecordUpdate

INBOUND_CONTEXT = "ccpbx-inbound"
"""The dialplan context customers calling in through the carrier enter."""

DIAL_LEG_APPS = frozenset({"AppDial", "AppDial2"})
"""The stand-in application of a channel being dialed out. An originated campaign call
on the carrier trunk starts in the trunk's context (the inbound one) with ``AppDial2``
``(Outgoing Line)`` until it is answered and sent on: it did not call in."""

ASTERISK_RESTARTED = "asterisk_restarted"
GONE_WHILE_AWAY = "gone_while_away"
_LEAVES_QUEUES = frozenset({OverflowKind.VOICEMAIL, OverflowKind.CALLBACK, OverflowKind.MESSAGE})

Key = tuple[str, str]
"""(node, uniqueid): a channel across Asterisk restarts."""


@dataclass(slots=True)
class Draft:
    """What is known of one inbound call so far (times are epoch seconds)."""

    node: str
    uniqueid: str
    linkedid: str
    caller: str
    callee: str
    started_at: float
    queue: str | None = None
    agent: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    closed_at: float | None = None
    """When the book learned of the end (its ``now``), for the linger."""

    @property
    def key(self) -> Key:
        return (self.node, self.uniqueid)

    def outcome(self) -> str:
        if self.answered_at is not None:
            return "answered"
        overflows = self.details.get("overflows") or []
        if overflows and overflows[-1]["kind"] in _LEAVES_QUEUES:
            return str(overflows[-1]["kind"])
        if self.queue is not None or self.details.get("abandoned"):
            return "abandoned"
        return "ivr"

    def update(self) -> RecordUpdate:
        """The record to merge into the table; later times never precede the start."""
        return RecordUpdate(
            direction="inbound",
            asterisk_node=self.node,
            uniqueid=self.uniqueid,
            started_at=_utc(self.started_at),
            linkedid=self.linkedid or None,
            caller=self.caller,
            callee=self.callee,
            queue=self.queue,
            agent=self.agent,
            answered_at=_utc(max(self.answered_at, self.started_at))
            if self.answered_at is not None
            else None,
            ended_at=_utc(max(self.ended_at, self.started_at))
            if self.ended_at is not None
            else None,
            hangup_cause=self.hangup_cause,
            details={**self.details, "outcome": self.outcome()},
        )


@dataclass(frozen=True, slots=True)
class Taken:
    """A dirty draft handed to a writer: its key and the record to merge."""

    key: Key
    update: RecordUpdate


def calls_in(context: str, application: str) -> bool:
    """A dialplan step (AMI Newexten) that shows a customer calling in: a step of the
    inbound context that is not a dialed-out leg waiting there."""
    return context == INBOUND_CONTEXT and application not in DIAL_LEG_APPS


def draft_of(record: CallRecord) -> Draft:
    """The draft of a stored inbound record (to follow it again)."""
    return Draft(
        record.asterisk_node,
        record.uniqueid or "",
        record.linkedid or "",
        record.caller,
        record.callee,
        record.started_at.timestamp(),
        queue=record.queue,
        agent=record.agent,
        answered_at=record.answered_at.timestamp() if record.answered_at else None,
        hangup_cause=record.hangup_cause,
        details={k: v for k, v in record.details.items() if k != "outcome"},
    )


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


class CdrBook:
    """The inbound call records of one Asterisk node (see the module docstring)."""

    def __init__(self, *, capacity: int = 20_000, linger_s: float = 10.0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.linger_s = linger_s
        self._drafts: dict[Key, Draft] = {}
        self._live: dict[str, Draft] = {}  # uniqueid -> the draft of the call not yet ended
        self._latest: dict[str, Draft] = {}  # uniqueid -> its newest kept draft
        self._dirty: dict[Key, None] = {}  # insertion-ordered set: oldest change first
        self._writing: set[Key] = set()  # taken, not yet confirmed or given back
        self._closed: OrderedDict[Key, None] = OrderedDict()  # recently forgotten
        self.dropped = 0

    # -- reading ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._drafts)

    @property
    def pending(self) -> int:
        """Drafts changed since they were last written."""
        return len(self._dirty)

    def get(self, uniqueid: str) -> Draft | None:
        """The newest kept draft of ``uniqueid`` (live, or ended and lingering)."""
        return self._latest.get(uniqueid)

    # -- inputs ------------------------------------------------------------------------
    def arrived(
        self,
        node: str,
        uniqueid: str,
        at: float,
        *,
        linkedid: str = "",
        caller: str = "",
        callee: str = "",
    ) -> bool:
        """A customer channel is in the inbound dialplan; True if a draft was opened or
        filled in. Seen again, it only fills what was still empty."""
        if not uniqueid:
            return False
        key = (node, uniqueid)
        draft = self._live.get(uniqueid)
        if draft is not None and draft.node != node:
            # The same uniqueid from another Asterisk process: the old call died with its
            # process (its hang-up was never seen).
            self._end(draft, at, ended_by=ASTERISK_RESTARTED, now=at)
            draft = None
        if draft is None:
            if key in self._drafts or key in self._closed:
                return False  # replayed after its end
            if len(self._drafts) >= self.capacity:
                self.dropped += 1
                return False
            draft = Draft(node, uniqueid, linkedid, caller, callee, at)
            self._drafts[key] = self._live[uniqueid] = self._latest[uniqueid] = draft
            self._touch(draft)
            return True
        changed = False
        for name, value in (("linkedid", linkedid), ("caller", caller), ("callee", callee)):
            if value and not getattr(draft, name):
                setattr(draft, name, value)
                changed = True
        if changed:
            self._touch(draft)
        return changed

    def adopt(self, draft: Draft, *, live: bool, now: float) -> bool:
        """Follow a call whose record was written before (by an earlier ccpbx): it goes on
        if Asterisk still has its channel (``live``), else it ended while ccpbx was away
        and ends now. False (nothing changes) for a call the book already knows."""
        if draft.uniqueid in self._live or draft.key in self._drafts or draft.key in self._closed:
            return False
        if len(self._drafts) >= self.capacity:
            self.dropped += 1
            return False
        self._drafts[draft.key] = self._live[draft.uniqueid] = self._latest[draft.uniqueid] = draft
        if not live:
            self._end(draft, now, ended_by=GONE_WHILE_AWAY, now=now)
        return True

    def acd(self, event: AcdEvent) -> bool:
        """Apply one ACD event to the call it is about; True if its draft changed."""
        if event.call_id is None:
            return False
        draft = self.get(event.call_id)
        if draft is None:
            return False
        kind = event.kind
        before = (draft.queue, draft.agent, draft.answered_at, dict(draft.details))
        if kind is EventKind.CALL_ENQUEUED and event.queue:
            draft.queue = event.queue
        elif kind is EventKind.CALL_ANSWERED:
            if draft.answered_at is None:
                draft.answered_at = event.at
                draft.agent = event.agent_id
                if event.queue:
                    draft.queue = event.queue
                _set_wait(draft, event)
        elif kind is EventKind.CALL_ABANDONED:
            draft.details["abandoned"] = True
            _set_wait(draft, event)
        elif kind is EventKind.CALL_OVERFLOWED:
            step = {
                "queue": event.queue,
                "kind": event.reason,
                "target": event.target,
                "wait_s": _round(event.wait_s),
            }
            overflows = list(draft.details.get("overflows") or [])
            if step not in overflows:
                draft.details["overflows"] = [*overflows, step]
        elif kind is EventKind.CALL_ENDED and event.duration_s is not None:
            draft.details["talk_s"] = _round(event.duration_s)
        if (draft.queue, draft.agent, draft.answered_at, draft.details) == before:
            return False
        self._touch(draft)
        return True

    def hung_up(
        self, uniqueid: str, at: float, *, cause: str = "", cause_text: str = "", now: float
    ) -> bool:
        """The channel hung up (AMI Hangup); True if it ended an inbound call's draft."""
        draft = self._live.get(uniqueid)
        if draft is None:
            return False
        draft.hangup_cause = cause or None
        if cause_text:
            draft.details["hangup_cause_text"] = cause_text
        self._end(draft, at, now=now)
        return True

    def reconcile(self, live: Container[str], now: float, *, restarted: bool) -> int:
        """After a reconnect: calls Asterisk no longer has (``live`` holds the uniqueids it
        has) ended while ccpbx could not see it; they end now. Returns how many."""
        gone = [d for uid, d in self._live.items() if restarted or uid not in live]
        ended_by = ASTERISK_RESTARTED if restarted else GONE_WHILE_AWAY
        for draft in gone:
            self._end(draft, now, ended_by=ended_by, now=now)
        return len(gone)

    # -- writer side ---------------------------------------------------------------------
    def take(self, limit: int) -> list[Taken]:
        """Up to ``limit`` dirty drafts, oldest change first; they stay dirty until
        :meth:`written` (or are given back with :meth:`retry`)."""
        out: list[Taken] = []
        for key in self._dirty:
            if len(out) >= limit:
                break
            draft = self._drafts[key]
            out.append(Taken(key, draft.update()))
        for taken in out:
            del self._dirty[taken.key]
            self._writing.add(taken.key)
        return out

    def retry(self, taken: list[Taken]) -> None:
        """The write failed: these drafts are dirty again (ahead of newer changes)."""
        again = {t.key: None for t in taken}
        self._writing.difference_update(again)
        self._dirty = {**again, **self._dirty}

    def written(self, taken: list[Taken]) -> None:
        """These records are stored. A draft that changed after it was taken is dirty
        again already (and is written again)."""
        self._writing.difference_update(t.key for t in taken)

    def expire(self, now: float) -> int:
        """Forget ended drafts written and past their linger; return how many."""
        done = [
            d
            for d in self._drafts.values()
            if d.closed_at is not None
            and now - d.closed_at >= self.linger_s
            and d.key not in self._dirty
            and d.key not in self._writing
        ]
        for draft in done:
            del self._drafts[draft.key]
            if self._latest.get(draft.uniqueid) is draft:
                del self._latest[draft.uniqueid]
            self._closed[draft.key] = None
            if len(self._closed) > self.capacity:
                self._closed.popitem(last=False)
        return len(done)

    # -- internals ------------------------------------------------------------------------
    def _touch(self, draft: Draft) -> None:
        self._dirty[draft.key] = None

    def _end(self, draft: Draft, at: float, *, now: float, ended_by: str | None = None) -> None:
        draft.ended_at = at
        draft.closed_at = now
        if ended_by is not None:
            draft.details["ended_by"] = ended_by
        self._live.pop(draft.uniqueid, None)
        self._touch(draft)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _set_wait(draft: Draft, event: AcdEvent) -> None:
    if event.wait_s is not None:
        draft.details["wait_s"] = _round(event.wait_s)
