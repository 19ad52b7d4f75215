"""``ChannelView``: the daemon's view of Asterisk's live channels, keyed by Uniqueid.

``apply(event)`` is pure state change (no I/O). ``resync(client)`` replaces the
view from ``CoreShowChannels``; it is exact even while events keep flowing:
events that arrived after the list's response (by stream position ``seq``) and
were already applied are re-applied on top of the snapshot, and queued events
older than the snapshot are skipped when they reach ``apply``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from ccpbx.ami.errors import AmiActionTimeout
from ccpbx.ami.protocol import AmiMessage

if TYPE_CHECKING:
    from ccpbx.ami.client import AmiClient

_RESYNC_ATTEMPTS = 3

CHANNEL_EVENTS = (
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "Newexten",
    "Rename",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup",
)


@dataclass(slots=True)
class Channel:
    """One live channel as last seen."""

    uniqueid: str
    channel: str
    state: str
    state_code: str
    caller_id_num: str
    caller_id_name: str
    connected_line_num: str
    connected_line_name: str
    context: str
    exten: str
    priority: str
    linkedid: str
    bridge_id: str | None
    created: float
    application: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _duration_seconds(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        h, m, s = (int(p) for p in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


class ChannelView:
    """Live channels keyed by Uniqueid, fed by channel events and resynced from Asterisk."""

    def __init__(self, *, clock: Callable[[], float] = time.time, replay_window: int = 50_000):
        self._clock = clock
        self._channels: dict[str, Channel] = {}
        self._floor = 0
        self._recent: deque[AmiMessage] = deque(maxlen=replay_window)
        self._log = structlog.get_logger("ccpbx.ami.channels")
        self.resyncs = 0
        self._installed = asyncio.Event()
        self._apply: dict[str, Callable[[AmiMessage], object]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._upsert,
            "NewCallerid": self._upsert,
            "NewConnectedLine": self._upsert,
            "Newexten": self._on_newexten,
            "Rename": self._on_rename,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "Hangup": self._on_hangup,
        }

    # -- reading -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._channels)

    def __contains__(self, uniqueid: object) -> bool:
        return uniqueid in self._channels

    def get(self, uniqueid: str) -> Channel | None:
        return self._channels.get(uniqueid)

    def snapshot(self) -> list[dict[str, Any]]:
        """Plain data of every channel, oldest first (for /status and tests)."""
        chans = sorted(self._channels.values(), key=lambda c: (c.created, c.uniqueid))
        return [c.as_dict() for c in chans]

    # -- events ----------------------------------------------------------------
    def apply(self, msg: AmiMessage) -> bool:
        """Apply one event; False if it is not a channel event or predates the snapshot."""
        handler = self._apply.get(msg.name)
        if handler is None:
            return False
        seq = msg.seq
        if seq and seq <= self._floor:
            return False
        self._recent.append(msg)
        handler(msg)
        return True

    def _record(self, msg: AmiMessage, created: float | None = None) -> Channel:
        g = msg._first.get  # exact header names as Asterisk sends them (fast path)
        return Channel(
            uniqueid=g("Uniqueid") or "",
            channel=g("Channel") or "",
            state=g("ChannelStateDesc") or "",
            state_code=g("ChannelState") or "",
            caller_id_num=g("CallerIDNum") or "",
            caller_id_name=g("CallerIDName") or "",
            connected_line_num=g("ConnectedLineNum") or "",
            connected_line_name=g("ConnectedLineName") or "",
            context=g("Context") or "",
            exten=g("Exten") or "",
            priority=g("Priority") or "",
            linkedid=g("Linkedid") or "",
            bridge_id=g("BridgeId") or None,
            created=self._created(g("Timestamp")) if created is None else created,
            application=g("Application") or "",
        )

    def _created(self, timestamp: str | None) -> float:
        """Asterisk's event time (``timestampevents = yes``) if sent, else our clock."""
        if timestamp:
            try:
                return float(timestamp)
            except ValueError:
                pass
        return self._clock()

    def _on_newchannel(self, msg: AmiMessage) -> None:
        uniqueid = msg.get("Uniqueid")
        if uniqueid:
            old = self._channels.get(uniqueid)
            rec = self._record(msg, old.created if old else None)
            if old is not None:
                rec.bridge_id = old.bridge_id
            self._channels[uniqueid] = rec

    def _upsert(self, msg: AmiMessage) -> Channel | None:
        uniqueid = msg.get("Uniqueid")
        if not uniqueid:
            return None
        chan = self._channels.get(uniqueid)
        if chan is None:
            chan = self._channels[uniqueid] = self._record(msg)
            return chan
        g = msg._first.get
        chan.channel = g("Channel") or chan.channel
        chan.state = g("ChannelStateDesc", chan.state)
        chan.state_code = g("ChannelState", chan.state_code)
        chan.caller_id_num = g("CallerIDNum", chan.caller_id_num)
        chan.caller_id_name = g("CallerIDName", chan.caller_id_name)
        chan.connected_line_num = g("ConnectedLineNum", chan.connected_line_num)
        chan.connected_line_name = g("ConnectedLineName", chan.connected_line_name)
        chan.context = g("Context", chan.context)
        chan.exten = g("Exten", chan.exten)
        chan.priority = g("Priority", chan.priority)
        chan.linkedid = g("Linkedid", chan.linkedid)
        return chan

    def _on_newexten(self, msg: AmiMessage) -> None:
        chan = self._upsert(msg)
        if chan is not None:
            chan.application = msg.get("Application") or chan.application

    def _on_rename(self, msg: AmiMessage) -> None:
        chan = self._upsert(msg)
        new_name = msg.get("Newname")
        if chan is not None and new_name:
            chan.channel = new_name

    def _on_bridge_enter(self, msg: AmiMessage) -> None:
        chan = self._upsert(msg)
        if chan is not None:
            chan.bridge_id = msg.get("BridgeUniqueid") or chan.bridge_id

    def _on_bridge_leave(self, msg: AmiMessage) -> None:
        chan = self._upsert(msg)
        if chan is not None and chan.bridge_id == msg.get("BridgeUniqueid"):
            chan.bridge_id = None

    def _on_hangup(self, msg: AmiMessage) -> None:
        uniqueid = msg.get("Uniqueid")
        if uniqueid:
            self._channels.pop(uniqueid, None)

    # -- resync ------------------------------------------------------------------
    def forget_all(self, *, reason: str) -> int:
        """Drop every channel at once (they died with their Asterisk); return how many."""
        gone = len(self._channels)
        self._channels = {}
        self._log.warning("ami_channels_forgotten", channels=gone, reason=reason)
        return gone

    def install(
        self, snapshot_seq: int, entries: list[AmiMessage] | tuple[AmiMessage, ...]
    ) -> bool:
        """Replace the view with ``CoreShowChannel`` entries taken at stream position
        ``snapshot_seq``; re-apply newer events already applied. False if the replay
        window was too small to be exact (the view is still replaced)."""
        now = self._clock()
        replay = [m for m in self._recent if m.seq > snapshot_seq]
        recent = self._recent
        # Exact unless an event newer than the snapshot may have fallen out of the window.
        exact = len(recent) < (recent.maxlen or 0) or recent[0].seq <= snapshot_seq
        channels: dict[str, Channel] = {}
        for entry in entries:
            rec = self._record(entry, now - _duration_seconds(entry.get("Duration")))
            if rec.uniqueid:
                channels[rec.uniqueid] = rec
        self._channels = channels
        self._floor = max(self._floor, snapshot_seq)
        for msg in replay:
            self._apply[msg.name](msg)
        self.resyncs += 1
        self._installed.set()
        self._log.info(
            "ami_channels_resynced", channels=len(channels), replayed=len(replay), exact=exact
        )
        return exact

    async def wait_resync(
        self,
        after: int,
        timeout: float | None = None,
    ) -> int:
        """Wait until more than ``after`` resyncs have been installed; return the count.

        Typical use: ``n = view.resyncs``, break the link, ``await view.wait_resync(n, 10)``.
        """
        async with asyncio.timeout(timeout):
            while self.resyncs <= after:
                self._installed.clear()
                await self._installed.wait()
        return self.resyncs

    async def resync(
        self,
        client: AmiClient,
        *,
        timeout: float | None = None,
    ) -> int:
        """Replace the view from ``CoreShowChannels``; return the number of channels."""
        result = await client.action("CoreShowChannels", timeout=timeout)
        entries = [e for e in result.events if e.name == "CoreShowChannel"]
        self.install(result.response.seq, entries)
        return len(self._channels)

    def attach(self, client: AmiClient) -> None:
        """Feed this view from ``client``'s events and resync it after every (re)connect
        and after an event-queue overflow; after a reconnect to a restarted Asterisk
        every channel is dropped first (none of them exists any more)."""
        for name in CHANNEL_EVENTS:
            client.on_event(name, self.apply)

        async def resync() -> None:
            if client.restarted:
                self.forget_all(reason="asterisk_restarted")
            # A list that timed out on a live link is asked again: a stale view shows
            # ghost channels. When the link is gone, the next connect resyncs anyway.
            for attempt in range(1, _RESYNC_ATTEMPTS + 1):
                try:
                    await self.resync(client)
                    return
                except AmiActionTimeout:
                    self._log.warning("ami_channels_resync_timeout", attempt=attempt)
                    if attempt == _RESYNC_ATTEMPTS:
                        raise

        resync.__qualname__ = "ChannelView.resync"
        client.on_connected(resync)
        client.on_resync(resync)
