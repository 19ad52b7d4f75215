"""Which Asterisk process a link serves: the boot gate, restart detection, channel identity."""

from __future__ import annotations

import asyncio
from typing import Any

from ccpbx.ami import AmiClient
from ccpbx.ami.instance import (
    UNKNOWN,
    AsteriskInstance,
    ChannelRef,
    instance_from_core_status,
    restarted,
    same_channel,
)
from ccpbx.ami.protocol import AmiMessage

from .fake_peer import ActionHandler, FakeAmi, FakeConnection, eventually, fast_settings, named

FIRST = AsteriskInstance("2026-12-03 11:49:50")
SECOND = AsteriskInstance("2026-12-03 11:49:57")


def test_same_name_on_another_instance_is_another_channel() -> None:
    """A restarted Asterisk reuses channel names and may reuse uniqueids: a channel is
    the same only with the same uniqueid on the same instance; names never count."""
    old = ChannelRef(FIRST, "1764763801.12", "PJSIP/1006-00000000")
    new = ChannelRef(SECOND, "1764763801.12", "PJSIP/1006-00000000")
    renamed = ChannelRef(FIRST, "1764763801.12", "PJSIP/1006-00000001")
    other = ChannelRef(FIRST, "1764763801.13", "PJSIP/1006-00000000")
    assert not same_channel(old, new)
    assert same_channel(old, renamed)
    assert not same_channel(old, other)
    assert not old.lives_on(SECOND)
    assert old.lives_on(FIRST)
    assert old.lives_on(UNKNOWN)  # cannot tell: trust what Asterisk lists


def test_instance_is_read_from_core_status() -> None:
    """CoreStartupDate and CoreStartupTime name the process; without them it is unknown,
    and an unknown or first instance is never taken for a restart."""
    found = instance_from_core_status(
        {"CoreStartupDate": "2026-12-03", "CoreStartupTime": "11:49:50", "SystemName": "pbx1"}
    )
    assert found == AsteriskInstance("2026-12-03 11:49:50", "pbx1")
    assert instance_from_core_status({"Response": "Success"}) is UNKNOWN
    assert restarted(FIRST, SECOND)
    assert not restarted(FIRST, FIRST)
    assert not restarted(None, FIRST)
    assert not restarted(FIRST, UNKNOWN)
    assert not restarted(UNKNOWN, SECOND)


def _core_status(started: list[str]) -> ActionHandler:
    def answer(conn: FakeConnection, action: AmiMessage) -> None:
        date, time = started[0].split()
        conn.respond(action, "Success", ("CoreStartupDate", date), ("CoreStartupTime", time))

    return answer


async def test_reconnect_to_a_restarted_asterisk_is_reported(
    fake: FakeAmi, logs: list[dict[str, Any]]
) -> None:
    """Each connect asks CoreStatus before serving: a reconnect to the same process is not
    a restart; one to a process with another start time is (``restarted`` in the hooks,
    counted in health, logged as ami_asterisk_restarted)."""
    started = [FIRST.started]
    fake.handlers["CoreStatus"] = _core_status(started)
    seen: list[bool] = []
    async with AmiClient(fast_settings(fake.port)) as client:

        async def hook() -> None:
            seen.append(client.restarted)

        client.on_connected(hook)
        await client.wait_ready(timeout=2)
        await eventually(lambda: len(seen) == 1)
        assert client.instance == FIRST
        fake.connections[0].cut()
        await eventually(lambda: len(seen) == 2)
        started[0] = SECOND.started
        fake.connections[1].cut()
        await eventually(lambda: len(seen) == 3)
        assert seen == [False, False, True]
        assert client.instance == SECOND
        health = client.health()
        assert (health.asterisk_started, health.asterisk_restarts) == (SECOND.started, 1)
    assert [e["now"] for e in named(logs, "ami_asterisk_restarted")] == [SECOND.started]


async def test_link_serves_only_once_asterisk_is_fully_booted(fake: FakeAmi) -> None:
    """Logged in to an Asterisk still booting, the client is 'booting': not ready, actions
    refused, no hook run; FullyBooted makes it ready."""
    conns: list[FakeConnection] = []

    def login(conn: FakeConnection, action: AmiMessage) -> None:
        conn.respond(action, "Success", ("Message", "Authentication accepted"))
        conns.append(conn)

    fake.handlers["Login"] = login
    hooks: list[str] = []
    async with AmiClient(fast_settings(fake.port)) as client:

        async def hook() -> None:
            hooks.append("connected")

        client.on_connected(hook)
        await eventually(lambda: client.health().state == "booting")
        await asyncio.sleep(0.05)
        assert not client.ready
        assert hooks == []
        assert [a.name for _, a in fake.actions] == ["Login"]
        conns[0].event("FullyBooted", ("Status", "Fully Booted"))
        await client.wait_ready(timeout=2)
        await eventually(lambda: hooks == ["connected"])
        assert client.health().state == "connected"
