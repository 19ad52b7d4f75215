"""The protocol plugged under panoramisk's Manager, on a real loopback connection."""

from __future__ import annotations

import pytest

from ccpbx.ami.errors import AmiLinkLost
from ccpbx.ami.link import AmiManager
from ccpbx.ami.protocol import AmiMessage, encode_action

from .fake_peer import FakeAmi, eventually, fast_settings


async def test_raising_callback_does_not_drop_the_link(fake: FakeAmi) -> None:
    """A Manager callback that raises is counted and logged; the connection stays open."""
    seen: list[str] = []

    def sink(_manager: object, msg: AmiMessage) -> None:
        if msg.name == "Boom":
            raise RuntimeError("callback bug")
        seen.append(msg.name)

    manager = AmiManager(fast_settings(fake.port), sink)
    link = await manager.open()
    try:
        await fake.until(lambda: len(fake.connections) == 1)
        fake.connections[0].event("Boom")
        fake.connections[0].event("After")
        await eventually(lambda: seen == ["After"])
        assert link.callback_failures == 1
        assert not link.closed
        waiter = link.submit("Ping", "p1", encode_action("Ping", "p1"))
        assert (await waiter.future).ok
    finally:
        link.close()
        await link.lost


async def test_fnmatch_patterns_still_dispatch(fake: FakeAmi) -> None:
    """With patterns besides the catch-all, panoramisk-style fnmatch dispatch applies."""
    everything: list[str] = []
    queue_only: list[str] = []
    manager = AmiManager(fast_settings(fake.port), lambda _m, msg: everything.append(msg.name))
    manager.register_event("Queue*", lambda _m, msg: queue_only.append(msg.name))
    link = await manager.open()
    try:
        await fake.until(lambda: len(fake.connections) == 1)
        for name in ("QueueMemberAdded", "Newchannel", "QueueCallerJoin"):
            fake.connections[0].event(name)
        await eventually(lambda: len(everything) == 3)
        assert queue_only == ["QueueMemberAdded", "QueueCallerJoin"]
    finally:
        link.close()
        await link.lost


async def test_panoramisk_reconnect_ping_and_replay_are_switched_off(fake: FakeAmi) -> None:
    """The Manager's own connect, unchecked send and action replay cannot run."""
    manager = AmiManager(fast_settings(fake.port), lambda _m, _e: None)
    with pytest.raises(RuntimeError):
        manager.connect()
    with pytest.raises(TypeError):
        manager.send_action({"Action": "Originate", "Channel": "PJSIP/1"})
    link = await manager.open()
    with pytest.raises(TypeError):
        link.send({"Action": "Hangup", "Channel": "PJSIP/1"})
    fake.unanswered = {"Originate"}
    waiter = link.submit("Originate", "o1", encode_action("Originate", "o1"))
    await fake.until(lambda: bool(fake.named("Originate")))
    fake.connections[0].cut()
    cause = await link.lost
    assert isinstance(cause, ConnectionError)
    assert isinstance(waiter.future.exception(), AmiLinkLost)
    assert not manager.awaiting_actions  # nothing queued for re-sending
    assert manager.protocol is None
