"""Outbound call records (``call_records``): one for each call the dialer placed.

A record is opened for every attempt whose ``Originate`` was written to Asterisk: its
channel is the pair (Asterisk instance, uniqueid), and the uniqueid is the attempt id.
An attempt never sent (``not_dialed``) gets none. The customer's answer, the agent
the call reached and its hang-up (time and Q.850 cause) are filled in as the runner
learns them; an agent's disposition is copied by :func:`ccpbx.dialer.dispositions.
dispose_attempt` (the dialer's own outcome codes are not ``dispositions`` codes, so
they are not written there).

Nothing here waits on the database: each step is a job on the runner's ordered
writer, after the record's opening, and a repeated step changes nothing (the store
keeps the first answer time, agent, end time and cause; a second opening of the same
channel returns the first record). What the runner reports may come in any order: an
Asterisk event about a call can reach the worker before the placing task's word that
the Originate was sent, so the steps of a call not yet known to be sent wait, and
are dropped with it if it was not.

Only the runner's worker calls these methods; the writer's jobs set the record id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ccpbx.dialer.runtime import records as runtime_records
from ccpbx.dialer.runtime.settings import utc
from ccpbx.store import records as store_records
from ccpbx.store.db import Executor
from ccpbx.tasks import Job

Step = Callable[[Executor, uuid.UUID], Awaitable[object]]
LINGER_S = 60.0
"""An ended record is remembered this long, for a hang-up cause that comes late."""


@dataclass(slots=True)
class _Record:
    key: str
    attempt_id: uuid.UUID
    contact_id: int
    callee: str
    started_at: float | None = None
    """When the Originate was sent; None until the runner knows it was."""
    node: str = ""
    find_first: bool = False
    """Followed after a restart: it may already have a record (look it up by attempt)."""
    record_id: uuid.UUID | None = None
    waiting: list[Step] = field(default_factory=list)
    ended_at: float | None = None


class OutboundRecords:
    """The call records of one campaign's calls (see the module docstring)."""

    def __init__(
        self,
        *,
        campaign_id: int,
        queue: str,
        caller: str,
        write: Callable[[Job], None],
        linger_s: float = LINGER_S,
    ) -> None:
        self.campaign_id = campaign_id
        self.queue = queue
        self.caller = caller
        self._write = write
        self._linger_s = linger_s
        self._records: dict[str, _Record] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    # ----- opening ---------------------------------------------------------------------

    def placed(self, key: str, attempt_id: uuid.UUID, contact_id: int, callee: str) -> None:
        """The call is about to be sent (marked dialing): nothing is written yet."""
        self._records.setdefault(key, _Record(key, attempt_id, contact_id, callee))

    def sent(self, key: str, at: float, node: str) -> None:
        """Its Originate went to Asterisk instance ``node`` at ``at``: open the record,
        then write the steps that came before this news."""
        record = self._records.get(key)
        if record is None or record.started_at is not None:
            return
        record.started_at, record.node = at, node
        self._write(self._job(record, None))
        waiting, record.waiting = record.waiting, []
        for step in waiting:
            self._write(self._job(record, step))

    def not_sent(self, key: str) -> None:
        """Its Originate never reached Asterisk (not dialed): no record."""
        self._records.pop(key, None)

    def followed(
        self,
        key: str,
        attempt_id: uuid.UUID,
        contact_id: int,
        callee: str,
        *,
        started_at: float,
        node: str,
    ) -> None:
        """A call found still up after a restart of ccpbx: its record (opened before the
        restart, or now if that was lost) is followed to its end."""
        record = _Record(key, attempt_id, contact_id, callee, find_first=True)
        self._records[key] = record
        self.sent(key, started_at, node)

    # ----- steps -----------------------------------------------------------------------

    def answered(self, key: str, at: float) -> None:
        """The customer's line answered."""
        stamp = utc(at)
        self._step(key, lambda db, rid: store_records.answered(db, rid, stamp))

    def connected(self, key: str, at: float, agent: str) -> None:
        """An agent (by number) took the call (the answer time stays the customer's)."""
        stamp = utc(at)
        self._step(key, lambda db, rid: store_records.answered(db, rid, stamp, agent=agent))

    def hangup(self, key: str, at: float, cause: str | None, linkedid: str | None) -> None:
        """The customer's channel hung up: the call's end (nothing follows it)."""
        record = self._records.get(key)
        if record is None:
            return
        if linkedid:
            self._step(key, lambda db, rid: runtime_records.note_linkedid(db, rid, linkedid))
        self._end(record, at, cause)
        if record.started_at is not None:
            del self._records[key]

    def ended(self, key: str, at: float, cause: str | None = None) -> None:
        """The call is over without its hang-up heard yet (it failed, was lost, or its
        Asterisk restarted); a hang-up heard later may still give the cause."""
        record = self._records.get(key)
        if record is not None and record.ended_at is None:
            self._end(record, at, cause)

    def ended_all(self, at: float) -> None:
        """Asterisk restarted: every channel it had is gone."""
        for record in list(self._records.values()):
            if record.ended_at is None:
                self._end(record, at, None)

    def sweep(self, now: float, live: Callable[[str], bool]) -> None:
        """End the records of sent calls that are gone without a hang-up heard (``live``
        says whether the runner or Asterisk still has the call), and forget ended ones
        once no late hang-up is expected."""
        for record in list(self._records.values()):
            if record.ended_at is not None:
                if now - record.ended_at > self._linger_s:
                    del self._records[record.key]
            elif record.started_at is not None and not live(record.key):
                self._end(record, now, None)

    # ----- plumbing ----------------------------------------------------------------------

    def _end(self, record: _Record, at: float, cause: str | None) -> None:
        if record.ended_at is None:
            record.ended_at = at
        stamp = utc(at)
        self._step(
            record.key, lambda db, rid: store_records.ended(db, rid, stamp, hangup_cause=cause)
        )

    def _step(self, key: str, step: Step) -> None:
        record = self._records.get(key)
        if record is None:
            return
        if record.started_at is None:
            record.waiting.append(step)
        else:
            self._write(self._job(record, step))

    def _job(self, record: _Record, step: Step | None) -> Job:
        async def job(db: Executor) -> None:
            if record.record_id is None:
                record.record_id = await self._open(db, record)
            if step is not None:
                await step(db, record.record_id)

        return job

    async def _open(self, db: Executor, record: _Record) -> uuid.UUID:
        if record.find_first:
            found = await runtime_records.record_of_attempt(db, record.attempt_id)
            if found is not None:
                return found
        assert record.started_at is not None
        opened = await store_records.start(
            db,
            direction="outbound",
            started_at=utc(record.started_at),
            asterisk_node=record.node,
            uniqueid=record.key,
            caller=self.caller,
            callee=record.callee,
            attempt_id=record.attempt_id,
            campaign_id=self.campaign_id,
            contact_id=record.contact_id,
            queue=self.queue,
        )
        return opened.id
