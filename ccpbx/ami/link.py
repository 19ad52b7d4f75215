"""One AMI TCP connection: panoramisk's ``Manager`` with our protocol plugged underneath.

``AmiManager`` keeps panoramisk's Manager (configuration, ``protocol_factory``,
``register_event``) but switches off what must not run in ccpbx: its fixed 2 s
reconnect, its unchecked keepalive ping, its Login without error reporting and
its re-sending of unanswered actions after a reconnect. ``AmiLinkProtocol``
replaces panoramisk's per-chunk decoding with ``AmiFramer``, correlates answers
with pending actions, and never lets a raising callback drop the link.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager

from ccpbx.ami.errors import AmiLinkLost, AmiNotConnected
from ccpbx.ami.protocol import EVENT, RESPONSE, AmiFramer, AmiMessage
from ccpbx.ami.settings import AmiSettings

EventSink = Callable[[Any, AmiMessage], None]
_CATCH_ALL = ["*"]


@dataclass(frozen=True, slots=True)
class AmiResult:
    """The answer to one action: its response and, for list actions, the list events."""

    action: str
    response: AmiMessage
    events: tuple[AmiMessage, ...] = ()
    complete: AmiMessage | None = None

    @property
    def ok(self) -> bool:
        return self.response.ok

    @property
    def message(self) -> str:
        return self.response.get("Message") or ""


class PendingAction:
    """Collects the answer to one action; ``feed`` returns True once it is complete.

    A response carrying ``EventList: start`` (or a "will follow" message) opens a
    list; the list ends with an event carrying ``EventList: Complete`` or whose
    name ends in ``Complete``.
    """

    __slots__ = ("action_id", "events", "future", "is_list", "name", "response")

    def __init__(self, name: str, action_id: str, future: asyncio.Future[AmiResult]) -> None:
        self.name = name
        self.action_id = action_id
        self.future = future
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []
        self.is_list = False

    def feed(self, msg: AmiMessage) -> bool:
        if self.response is None:
            if msg.kind != RESPONSE:
                self.events.append(msg)
                return False
            self.response = msg
            if msg.name in ("Success", "Follows"):
                marker = (msg.get("EventList") or "").lower()
                note = (msg.get("Message") or "").lower()
                if marker == "start" or "will follow" in note:
                    self.is_list = True
                    return False
            self._finish(None)
            return True
        if msg.kind == EVENT:
            marker = (msg.get("EventList") or "").lower()
            if marker == "complete" or msg.name.endswith("Complete"):
                self._finish(msg)
                return True
            self.events.append(msg)
        return False

    def _finish(self, complete: AmiMessage | None) -> None:
        if not self.future.done():
            assert self.response is not None
            self.future.set_result(
                AmiResult(self.name, self.response, tuple(self.events), complete)
            )


class AmiLinkProtocol(AMIProtocol):
    """asyncio protocol of one AMI connection, created by ``AmiManager``'s ``protocol_factory``."""

    def __init__(self, manager: AmiManager) -> None:
        self.factory = manager
        self.log = manager.log
        self.framer = AmiFramer(manager.settings.max_message_bytes)
        self.pending: dict[str, PendingAction] = {}
        self.late_responses = 0
        self.callback_failures = 0
        self._seq = manager.seq
        self._close_cause: BaseException | None = None
        loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[BaseException] = loop.create_future()
        self.booted: asyncio.Future[None] = loop.create_future()
        """Done when Asterisk says ``FullyBooted`` on this connection."""

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.closed = False
        self.version = None

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
        except Exception:  # never raise into the transport: that would drop the link
            self.log.exception("ami_framer_failed", node=self.factory.settings.node)
            return
        pending = self.pending
        factory = self.factory
        # The usual case (one catch-all that only enqueues) skips the pattern loop.
        sink = factory._sink
        dispatch = factory.dispatch
        seq = self._seq
        for msg in messages:
            msg.seq = next(seq)
            try:
                action_id = msg.action_id
                if action_id is not None:
                    waiter = pending.get(action_id)
                    if waiter is not None:
                        if waiter.feed(msg):
                            del pending[action_id]
                        continue
                if msg.kind == EVENT:
                    if msg.name == "FullyBooted" and not self.booted.done():
                        self.booted.set_result(None)
                    if sink is not None:
                        sink(factory, msg)
                    else:
                        dispatch(msg)
                else:
                    self.late_responses += 1
            except Exception:  # a raising callback must never drop the link
                self.callback_failures += 1
                self.log.exception(
                    "ami_event_callback_failed",
                    node=self.factory.settings.node,
                    ami_event=msg.name,
                )

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        cause: BaseException = (
            self._close_cause or exc or ConnectionResetError("AMI connection closed by the peer")
        )
        self.fail_pending(cause)
        if not self.lost.done():
            self.lost.set_result(cause)
        self.factory.link_closed(self)

    # -- used by the client -------------------------------------------------
    def submit(self, name: str, action_id: str, data: bytes) -> PendingAction:
        """Register an action's waiter and write its (already checked) bytes."""
        if self.closed or self.transport.is_closing():
            raise AmiNotConnected(f"AMI link to {self.factory.settings.node} is closed")
        if action_id in self.pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")
        waiter = PendingAction(name, action_id, self.lost.get_loop().create_future())
        self.pending[action_id] = waiter
        self.transport.write(data)
        return waiter

    def forget(self, action_id: str) -> None:
        """Stop waiting for an action (deadline passed); a late answer is counted, not used."""
        self.pending.pop(action_id, None)

    def fail_pending(self, cause: BaseException) -> None:
        """Fail every waiting action at once with ``AmiLinkLost`` (cause chained).

        None is queued for re-sending (panoramisk would replay them after reconnect).
        """
        waiters = list(self.pending.values())
        self.pending.clear()
        node = self.factory.settings.node
        for waiter in waiters:
            if waiter.future.done():
                continue
            error = AmiLinkLost(
                f"AMI link to {node} lost before {waiter.name} was answered; it is not re-sent",
                action=waiter.name,
                action_id=waiter.action_id,
            )
            error.__cause__ = cause
            waiter.future.set_exception(error)

    def abort(self, cause: BaseException) -> None:
        """Drop the connection now (dead peer, shutdown); ``cause`` is what waiters see."""
        if self._close_cause is None:
            self._close_cause = cause
        self.transport.abort()

    # panoramisk entry points that would bypass our checks or re-queue actions
    def send(self, data: Any, as_list: bool = False) -> asyncio.Future[Any]:
        raise TypeError("send actions through AmiClient.action(), which checks every header")

    def close(self) -> None:
        self.abort(AmiNotConnected("AMI link closed by ccpbx"))


class AmiManager(Manager):
    """panoramisk Manager with reconnect, ping, login and action replay taken over by ccpbx."""

    def __init__(
        self,
        settings: AmiSettings,
        on_event: EventSink,
        on_link_closed: Callable[[AmiLinkProtocol], None] | None = None,
    ) -> None:
        super().__init__(
            host=settings.host,
            port=settings.port,
            encoding="utf-8",
            events=settings.events,
            ping_delay=0,
            ping_interval=0,
            reconnect_timeout=0,
            log=structlog.get_logger("ccpbx.ami.link"),
        )
        self.settings = settings
        self.protocol: AmiLinkProtocol | None = None
        self.seq = itertools.count(1)
        self.config["protocol_factory"] = functools.partial(AmiLinkProtocol, self)
        self._on_link_closed = on_link_closed
        self._sink: EventSink | None = None
        # Drop panoramisk's own FullyBooted hook (it re-sends unanswered actions).
        self.callbacks.clear()
        self.patterns.clear()
        self.register_event("*", on_event)

    async def open(self) -> AmiLinkProtocol:
        """Open one TCP connection within ``connect_timeout``; no Login is sent here."""
        loop = asyncio.get_running_loop()
        self.loop = loop
        _transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                self.config["protocol_factory"], self.settings.host, self.settings.port
            ),
            self.settings.connect_timeout,
        )
        assert isinstance(protocol, AmiLinkProtocol)
        self.protocol = protocol
        return protocol

    def link_closed(self, link: AmiLinkProtocol) -> None:
        if self.protocol is link:
            self.protocol = None
        if self._on_link_closed is not None:
            self._on_link_closed(link)

    def register_event(self, pattern: str, callback: Any = None) -> Any:
        registered = super().register_event(pattern, callback)
        only_catch_all = [p for p, _ in self.patterns] == ["*"] and len(self.callbacks["*"]) == 1
        self._sink = self.callbacks["*"][0] if only_catch_all else None
        return registered

    def dispatch(self, event: AmiMessage) -> list[str]:
        """Call the catch-all callback (and any fnmatch patterns) for one event."""
        sink = self._sink
        if sink is not None:  # the usual case: one catch-all that only enqueues
            sink(self, event)
            return _CATCH_ALL
        matches: list[str] = []
        for pattern, regexp in self.patterns:
            if pattern == "*" or regexp.match(event.name):
                matches.append(pattern)
                for callback in self.callbacks[pattern]:
                    callback(self, event)
        return matches

    # Switched off: ccpbx's supervisor owns these.
    def connect(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("AmiManager.connect is disabled; AmiClient supervises the link")

    def connection_made(self, f: Any) -> None:
        raise RuntimeError("AmiManager.connection_made is disabled; use open()")

    def connection_lost(self, exc: Any) -> None:
        """panoramisk would schedule a fixed 2 s reconnect here; ccpbx reconnects itself."""

    def ping(self) -> None:
        """panoramisk's unchecked ping is replaced by the client's watchdog."""

    async def send_awaiting_actions(self, *_: Any) -> None:
        """Nothing is ever replayed after a reconnect."""
        self.awaiting_actions.clear()

    def send_action(self, action: Any, as_list: Any = None, **kwargs: Any) -> Any:
        raise TypeError("send actions through AmiClient.action(), which checks every header")
