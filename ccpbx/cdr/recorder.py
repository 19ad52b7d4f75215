"""``CallRecorder``: feeds the :class:`~ccpbx.cdr.book.CdrBook` from AMI and ACD events,
and writes its records to ``call_records`` on one writer task.

Event handlers only apply the event to the book (pure, a few dict operations) and wake
the writer: nothing waits for the database. The writer takes what changed, in batches
of ``batch_size`` (one ``executemany``, all or nothing), every ``flush_s`` at most.

When the database is slow or down, the writer retries with backoff (0.2 s doubling to
5 s) and never gives a record up: the book keeps it, and further events for the same call
only change the record still to be written. Memory is bounded by the book's
``capacity`` (calls in progress plus ended ones not yet written): a call arriving when
it is full gets no record (``ccpbx_call_records_dropped_total``, log
``call_record_dropped``). A batch the database refuses as such (not a lost link) is
written record by record; a record refused on its own is logged
(``call_record_refused``) and dropped, so one bad row never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.acd import AcdEvent
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.client import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.backoff import Backoff
from ccpbx.cdr.book import CdrBook, Taken, calls_in, draft_of
from ccpbx.errors import CcpbxError
from ccpbx.health import ComponentStatus
from ccpbx.metrics import Sample
from ccpbx.store import records
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

Pool = Callable[[], Executor]


def _event_time(msg: AmiMessage, clock: Callable[[], float]) -> float:
    """Asterisk's event time (``timestampevents = yes``), else ours."""
    stamp = msg.get("Timestamp")
    if stamp:
        with contextlib.suppress(ValueError):
            return float(stamp)
    return clock()


class CallRecorder:
    """One inbound call record per customer call of one Asterisk node."""

    def __init__(
        self,
        ami: AmiClient,
        channels: ChannelView,
        pool: Pool,
        *,
        clock: Callable[[], float] = time.time,
        capacity: int = 20_000,
        batch_size: int = 200,
        flush_s: float = 0.2,
    ) -> None:
        self._ami = ami
        self._channels = channels
        self._pool = pool
        self._clock = clock
        self.book = CdrBook(capacity=capacity)
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._backoff = Backoff(0.2, 5.0, 0.1)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.refused = 0
        self.write_failures = 0
        self._last_error: str | None = None
        self._adopt_node: str | None = None  # read open records of this node (after a connect)
        ami.on_event("Newexten", self.on_newexten)
        ami.on_event("Hangup", self.on_hangup)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer; call after the channel view is attached (its resync runs
        before the recorder's reconcile)."""
        if self._task is not None:
            raise RuntimeError("call recorder already started")
        self._ami.on_connected(self._on_reconnected)
        self._ami.on_resync(self._on_resynced)
        self._task = asyncio.create_task(self._run(), name="cdr-writer")

    async def stop(self, timeout: float = 5.0) -> None:
        """Write what is pending (at most ``timeout`` seconds), then end the writer."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            async with asyncio.timeout(timeout):
                while await self._flush():
                    pass
        except Exception as exc:  # the time is up, or the database is unreachable
            log.warning("call_records_final_write_failed", error=str(exc) or repr(exc))
        if self.book.pending:
            log.warning("call_records_unwritten", pending=self.book.pending)

    # -- inputs (callbacks: apply and wake, never wait) ------------------------------------
    def on_acd(self, event: AcdEvent) -> None:
        """The QueueService listener."""
        if self.book.acd(event):
            self._wake.set()

    def on_newexten(self, msg: AmiMessage) -> None:
        if not calls_in(msg.get("Context") or "", msg.get("Application") or ""):
            return
        uniqueid = msg.get("Uniqueid") or ""
        chan = self._channels.get(uniqueid)
        at = chan.created if chan is not None else _event_time(msg, self._clock)
        dropped = self.book.dropped
        if self.book.arrived(
            str(self._ami.instance),
            uniqueid,
            at,
            linkedid=msg.get("Linkedid") or "",
            caller=msg.get("CallerIDNum") or "",
            callee=msg.get("Exten") or "",
        ):
            self._wake.set()
        elif self.book.dropped > dropped:
            log.error(
                "call_record_dropped",
                uniqueid=uniqueid,
                capacity=self.book.capacity,
                dropped=self.book.dropped,
            )

    def on_hangup(self, msg: AmiMessage) -> None:
        if self.book.hung_up(
            msg.get("Uniqueid") or "",
            _event_time(msg, self._clock),
            cause=msg.get("Cause") or "",
            cause_text=msg.get("Cause-txt") or "",
            now=self._clock(),
        ):
            self._wake.set()

    async def _on_reconnected(self) -> None:
        self._reconcile(restarted=self._ami.restarted)
        # Records an earlier ccpbx left open on this Asterisk: follow them again (the
        # writer reads them; the database may not be up yet).
        self._adopt_node = str(self._ami.instance)
        self._wake.set()

    async def _on_resynced(self) -> None:
        self._reconcile(restarted=False)

    def _reconcile(self, *, restarted: bool) -> None:
        gone = self.book.reconcile(self._channels, self._clock(), restarted=restarted)
        if gone:
            log.warning("call_records_reconciled", ended=gone, asterisk_restarted=restarted)
            self._wake.set()

    # -- writer ------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._flush_s)  # let a burst of changes gather
            try:
                if self._adopt_node is not None:
                    await self._adopt(self._adopt_node)
                while await self._flush():
                    pass
            except Exception as exc:  # unreachable, slow, or an error not seen before
                self.write_failures += 1
                self._last_error = str(exc)
                delay = self._backoff.next_delay()
                log.warning(
                    "call_records_write_failed",
                    error=str(exc) or repr(exc),
                    pending=self.book.pending,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            self._backoff.reset()
            self._last_error = None
            self.book.expire(self._clock())

    async def _adopt(self, node: str) -> None:
        found = await records.open_calls(self._pool(), "inbound", node)
        now = self._clock()
        adopted = ended = 0
        for record in found:
            live = record.uniqueid in self._channels
            if self.book.adopt(draft_of(record), live=live, now=now):
                adopted += 1
                ended += not live
        if self._adopt_node == node:
            self._adopt_node = None
        if adopted:
            log.info("call_records_adopted", node=node, calls=adopted, ended=ended)
            self._wake.set()

    async def _flush(self) -> bool:
        """Write one batch; False when nothing was left. Raises when the database cannot
        be reached (the batch is given back to the book first)."""
        batch = self.book.take(self._batch_size)
        if not batch:
            return False
        try:
            await self._write(batch)
        except BaseException:
            self.book.retry(batch)
            raise
        self.book.written(batch)
        return True

    async def _write(self, batch: list[Taken]) -> None:
        try:
            await records.merge(self._pool(), [t.update for t in batch])
        except CcpbxError as exc:
            if exc.error_id == "unavailable" or len(batch) == 1:
                if exc.error_id != "unavailable":
                    self._refused(batch[0], exc)
                    return
                raise
            for one in batch:  # find the record refused; write the others
                try:
                    await records.merge(self._pool(), [one.update])
                except CcpbxError as single:
                    if single.error_id == "unavailable":
                        raise
                    self._refused(one, single)
                else:
                    self.written += 1
            return
        self.written += len(batch)

    def _refused(self, one: Taken, exc: CcpbxError) -> None:
        self.refused += 1
        log.error(
            "call_record_refused",
            asterisk_node=one.key[0],
            uniqueid=one.key[1],
            error=exc.message,
        )

    # -- health and metrics -----------------------------------------------------------------
    def status(self) -> ComponentStatus:
        detail: dict[str, Any] = {
            "calls": len(self.book),
            "pending": self.book.pending,
            "written": self.written,
            "dropped": self.book.dropped,
            "refused": self.refused,
        }
        if self._last_error is not None:
            detail["last_error"] = self._last_error
        running = self._task is not None and not self._task.done()
        state = "stopped" if not running else "degraded" if self._last_error else "ready"
        return ComponentStatus("cdr", state == "ready", state, detail)

    def samples(self) -> list[Sample]:
        return [
            Sample(
                "ccpbx_call_records_pending",
                "gauge",
                "inbound call records changed and not yet written",
                self.book.pending,
            ),
            Sample(
                "ccpbx_call_records_written_total",
                "counter",
                "inbound call record writes",
                self.written,
            ),
            Sample(
                "ccpbx_call_records_dropped_total",
                "counter",
                "inbound calls that got no record (the recorder was full)",
                self.book.dropped,
            ),
            Sample(
                "ccpbx_call_records_refused_total",
                "counter",
                "inbound call records the database refused",
                self.refused,
            ),
        ]
