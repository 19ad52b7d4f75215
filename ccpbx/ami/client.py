"""``AmiClient``: one supervised AMI session per Asterisk node.

The supervisor task connects, logs in (a refused login is an error, retried with
backoff), runs the on-connected hooks, pings every ``ping_interval`` with its own
deadline (no answer: the link is dead, it is dropped and re-opened), and
reconnects with exponential backoff and jitter. A new link serves (``ready``, hooks
run) only once Asterisk is fully booted (``FullyBooted``) and ``CoreStatus`` has said
which Asterisk process it is (:mod:`ccpbx.ami.instance`): hooks read ``restarted`` to
know whether every channel of the previous link died. Every action has a deadline;
actions pending when the link drops fail at once with ``AmiLinkLost``; nothing
is ever re-sent. Events go through a bounded queue to one consumer task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random as _random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal

import structlog

from ccpbx.ami.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiError,
    AmiLinkLost,
    AmiLoginError,
    AmiNotConnected,
)
from ccpbx.ami.events import EventDispatcher, EventHandler
from ccpbx.ami.instance import UNKNOWN, AsteriskInstance, instance_from_core_status, restarted
from ccpbx.ami.link import AmiLinkProtocol, AmiManager, AmiResult
from ccpbx.ami.protocol import HeaderInput, encode_action, iter_header_pairs
from ccpbx.ami.settings import AmiSettings
from ccpbx.backoff import Backoff

Hook = Callable[[], Awaitable[None]]
LinkState = Literal["connecting", "booting", "connected", "disconnected", "closed"]


@dataclass(frozen=True, slots=True)
class AmiHealth:
    """Health of one AMI session, as plain data for /status."""

    node: str
    state: LinkState
    since: float
    last_error: str | None
    reconnects: int
    failed_attempts: int
    events_received: int
    events_dropped: int
    event_queue_depth: int
    handler_failures: int
    pending_actions: int
    ami_version: str | None
    garbage_lines: int
    oversized_dropped: int
    late_responses: int
    asterisk_started: str | None = None
    """Start time of the Asterisk process last served (CoreStatus), if known."""
    asterisk_restarts: int = 0
    """Reconnects that found another Asterisk process than the link before."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AmiClient:
    """Supervised AMI session to one Asterisk node (see module docstring)."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._log = structlog.get_logger("ccpbx.ami").bind(node=settings.node)
        self._backoff = Backoff(
            settings.backoff_initial, settings.backoff_max, settings.backoff_jitter, random
        )
        self._dispatcher = EventDispatcher(
            settings.event_queue_size, self._request_resync, self._log
        )
        self._manager = AmiManager(settings, self._dispatcher.offer)
        self._link: AmiLinkProtocol | None = None
        self._ready = asyncio.Event()
        self._connected_hooks: list[Hook] = []
        self._resync_hooks: list[Hook] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_again = False
        self._closing = False
        self._ids = itertools.count(1)
        self._id_prefix = f"ccpbx-{secrets.token_hex(4)}-"
        self._state: LinkState = "disconnected"
        self._since = clock()
        self._last_error: str | None = None
        self._connects = 0
        self._failed_attempts = 0
        self._ami_version: str | None = None
        self._garbage = self._oversized = self._late = 0  # totals of closed links
        self._instance: AsteriskInstance | None = None
        self._restarted = False
        self._restarts = 0

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        """Start the consumer and supervisor tasks; returns at once (see ``wait_ready``)."""
        if self._supervisor is not None:
            raise RuntimeError("AmiClient already started")
        if self._closing:
            raise RuntimeError("AmiClient is closed")
        self._spawn(self._dispatcher.consume(), "ami-consumer")
        self._supervisor = self._spawn(self._supervise(), "ami-supervisor")

    async def close(self) -> None:
        """Stop reconnecting, drop the link (pending actions fail), stop and await every task."""
        if self._closing:
            return
        self._closing = True
        self._ready.clear()
        link = self._link
        if link is not None:
            link.abort(AmiNotConnected(f"AMI client for {self.settings.node} closed"))
        while self._tasks:  # a cancelled task may have spawned another: repeat until none
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)
        if link is not None and not link.lost.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.lost), 1.0)
        self._set_state("closed", self._last_error)
        self._log.info("ami_closed")

    async def __aenter__(self) -> AmiClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until logged in; ``AmiNotConnected`` (with the last error) after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise AmiNotConnected(
                f"AMI {self.settings.node} not ready after {timeout}s"
                f" (state {self._state}, last error: {self._last_error or 'none'})",
                last_error=self._last_error,
            ) from None

    @property
    def ready(self) -> bool:
        """True while a logged-in link to a fully booted Asterisk is up."""
        return self._ready.is_set()

    @property
    def instance(self) -> AsteriskInstance:
        """The Asterisk process of the current (or last) link; ``UNKNOWN`` before any."""
        return self._instance or UNKNOWN

    @property
    def restarted(self) -> bool:
        """The current link's Asterisk is another process than the previous link's:
        every channel seen before is gone (read it in an on-connected hook)."""
        return self._restarted

    def health(self) -> AmiHealth:
        d = self._dispatcher
        link = self._link
        return AmiHealth(
            node=self.settings.node,
            state=self._state,
            since=self._since,
            last_error=self._last_error,
            reconnects=max(0, self._connects - 1),
            failed_attempts=self._failed_attempts,
            events_received=d.received,
            events_dropped=d.dropped,
            event_queue_depth=d.depth,
            handler_failures=d.handler_failures,
            pending_actions=len(link.pending) if link is not None else 0,
            ami_version=self._ami_version,
            garbage_lines=self._garbage + (link.framer.stats.garbage_lines if link else 0),
            oversized_dropped=self._oversized
            + (link.framer.stats.oversized_dropped if link else 0),
            late_responses=self._late + (link.late_responses if link else 0),
            asterisk_started=(self._instance.started or None) if self._instance else None,
            asterisk_restarts=self._restarts,
        )

    # -- registration --------------------------------------------------------
    def on_event(self, name: str, handler: EventHandler) -> EventHandler:
        """Call ``handler(msg)`` (sync or async) for each event ``name``, or ``"*"`` for all."""
        return self._dispatcher.on(name, handler)

    def on_connected(self, hook: Hook) -> Hook:
        """Run ``await hook()`` after every (re)connect and login, in registration order."""
        self._connected_hooks.append(hook)
        return hook

    def on_resync(self, hook: Hook) -> Hook:
        """Run ``await hook()`` when events were dropped and the queue has drained."""
        self._resync_hooks.append(hook)
        return hook

    # -- actions ---------------------------------------------------------------
    async def action(
        self,
        name: str,
        headers: Mapping[str, HeaderInput] | None = None,
        /,
        *,
        timeout: float | None = None,
        check: bool = True,
        **more_headers: HeaderInput,
    ) -> AmiResult:
        """Send one action and wait for its full answer, at most ``timeout`` seconds.

        Headers come from ``headers`` and keyword arguments; a list value is sent
        as repeated headers. CR, LF or NUL in any name or value raises
        ``AmiInjectionError`` before anything is sent. Raises ``AmiActionTimeout``,
        ``AmiLinkLost`` (link dropped; not re-sent), ``AmiNotConnected``, and
        ``AmiActionError`` for ``Response: Error`` unless ``check=False``.
        """
        merged: dict[str, HeaderInput] = dict(headers or {})
        merged.update(more_headers)
        pairs = list(iter_header_pairs(merged))
        action_id = f"{self._id_prefix}{next(self._ids)}"
        data = encode_action(name, action_id, pairs)
        link = self._link
        if link is None or not self._ready.is_set():
            raise AmiNotConnected(
                f"AMI {self.settings.node} is {self._state}; {name} not sent",
                last_error=self._last_error,
            )
        return await self._send(link, name, action_id, data, timeout, check)

    async def command(
        self,
        cli: str,
        *,
        timeout: float | None = None,
    ) -> list[str]:
        """Run an Asterisk CLI command through the ``Command`` action; return its output lines."""
        result = await self.action("Command", {"Command": cli}, timeout=timeout)
        return list(result.response.output)

    async def _send(
        self,
        link: AmiLinkProtocol,
        name: str,
        action_id: str,
        data: bytes,
        deadline: float | None,
        check: bool,
    ) -> AmiResult:
        if deadline is None:
            deadline = self.settings.action_timeout
        waiter = link.submit(name, action_id, data)
        try:
            async with asyncio.timeout(deadline):
                result = await waiter.future
        except TimeoutError:
            raise AmiActionTimeout(
                f"AMI {name} got no complete answer from {self.settings.node} within {deadline}s",
                action=name,
                action_id=action_id,
            ) from None
        finally:
            link.forget(action_id)
        if check and not result.ok:
            raise AmiActionError(
                f"AMI {name} failed on {self.settings.node}:"
                f" {result.message or result.response.name}",
                result.response,
                action=name,
            )
        return result

    # -- supervision -------------------------------------------------------------
    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("ami_task_failed", task=task.get_name(), exc_info=task.exception())

    def _set_state(self, state: LinkState, error: str | None = None) -> None:
        if state != self._state:
            self._state = state
            self._since = self._clock()
        self._last_error = error if error is not None else self._last_error

    async def _supervise(self) -> None:
        while not self._closing:
            self._set_state("connecting")
            try:
                link = await self._connect()
            except AmiLoginError as exc:
                self._failed_attempts += 1
                self._set_state("disconnected", str(exc))
                self._log.error("ami_login_failed", error=str(exc))
            except (OSError, TimeoutError, AmiError) as exc:
                self._failed_attempts += 1
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._set_state("disconnected", error)
                self._log.warning("ami_connect_failed", error=error)
            else:
                self._backoff.reset()
                await self._run_link(link)
            if self._closing:
                return
            delay = self._backoff.next_delay()
            self._log.info(
                "ami_reconnect_scheduled", delay=round(delay, 3), attempt=self._backoff.attempt
            )
            await asyncio.sleep(delay)

    async def _connect(self) -> AmiLinkProtocol:
        link = await self._manager.open()
        s = self.settings
        try:
            pairs = [("Username", s.username), ("Secret", s.secret), ("Events", s.events)]
            action_id = f"{self._id_prefix}{next(self._ids)}"
            data = encode_action("Login", action_id, pairs)
            result = await self._send(link, "Login", action_id, data, s.action_timeout, False)
            if not result.ok:
                raise AmiLoginError(
                    f"Asterisk at {s.node} refused AMI login for user {s.username!r}:"
                    f" {result.message or result.response.name}",
                    node=s.node,
                    username=s.username,
                )
        except BaseException as exc:
            link.abort(exc)
            raise
        return link

    async def _run_link(self, link: AmiLinkProtocol) -> None:
        self._link = link
        self._connects += 1
        self._ami_version = link.framer.version
        self._set_state("booting")
        self._last_error = None
        keepalive = self._spawn(self._keepalive(link), "ami-keepalive")
        try:
            if await self._serve_when_booted(link):
                self._ready.set()
                self._set_state("connected")
                self._log.info(
                    "ami_connected",
                    ami_version=self._ami_version,
                    reconnects=max(0, self._connects - 1),
                    asterisk_started=self.instance.started or None,
                    asterisk_restarted=self._restarted,
                )
                self._spawn(
                    self._run_hooks(self._connected_hooks, "connected"), "ami-connected-hooks"
                )
            cause = await asyncio.shield(link.lost)
        finally:
            self._ready.clear()
            self._link = None
            self._garbage += link.framer.stats.garbage_lines
            self._oversized += link.framer.stats.oversized_dropped
            self._late += link.late_responses
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        if not self._closing:
            error = f"{type(cause).__name__}: {cause}"
            self._set_state("disconnected", error)
            self._log.warning("ami_link_lost", error=error)

    async def _serve_when_booted(self, link: AmiLinkProtocol) -> bool:
        """Wait for ``FullyBooted`` (at most ``boot_timeout``), then learn which Asterisk
        process this is; False if the link was lost meanwhile."""
        s = self.settings
        waiters: list[asyncio.Future[Any]] = [link.booted, link.lost]
        await asyncio.wait(waiters, timeout=s.boot_timeout, return_when=asyncio.FIRST_COMPLETED)
        if link.lost.done():
            return False
        if not link.booted.done():
            self._log.warning("ami_fully_booted_missing", waited_s=s.boot_timeout)
        action_id = f"{self._id_prefix}{next(self._ids)}"
        try:
            result = await self._send(
                link,
                "CoreStatus",
                action_id,
                encode_action("CoreStatus", action_id),
                s.action_timeout,
                False,
            )
            found = instance_from_core_status(result.response) if result.ok else UNKNOWN
        except AmiActionTimeout:
            found = UNKNOWN
        except (AmiLinkLost, AmiNotConnected):
            return False
        before = self._instance
        self._restarted = restarted(before, found)
        if self._restarted:
            self._restarts += 1
            self._log.warning(
                "ami_asterisk_restarted",
                before=before.started if before else None,
                now=found.started,
            )
        if found.known or before is None:
            self._instance = found
        return True

    async def _keepalive(self, link: AmiLinkProtocol) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval)
            action_id = f"{self._id_prefix}{next(self._ids)}"
            try:
                await self._send(
                    link, "Ping", action_id, encode_action("Ping", action_id), s.ping_timeout, False
                )
            except AmiActionTimeout:
                self._log.warning("ami_ping_timeout", timeout=s.ping_timeout)
                link.abort(TimeoutError(f"no answer to Ping within {s.ping_timeout}s"))
                return
            except (AmiLinkLost, AmiNotConnected):
                return

    async def _run_hooks(self, hooks: list[Hook], kind: str) -> None:
        for hook in list(hooks):
            try:
                await hook()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception(
                    "ami_hook_failed", kind=kind, hook=getattr(hook, "__qualname__", repr(hook))
                )

    def _request_resync(self) -> None:
        if self._resync_task is not None and not self._resync_task.done():
            self._resync_again = True
            return
        self._resync_task = self._spawn(self._resync_loop(), "ami-resync")

    async def _resync_loop(self) -> None:
        while True:
            self._resync_again = False
            await self._run_hooks(self._resync_hooks, "resync")
            if not self._resync_again:
                return
