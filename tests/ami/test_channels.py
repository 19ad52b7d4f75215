"""ChannelView: pure event application, exact resync, and wiring to a client."""

from __future__ import annotations

from ccpbx.ami import AmiClient, ChannelView
from ccpbx.ami.protocol import AmiFramer, AmiMessage

from .fake_peer import FakeAmi, FakeConnection, eventually, fast_settings


def ev(name: str, seq: int = 0, **headers: str) -> AmiMessage:
    """Build an event the way the framer does (through the wire format)."""
    text = f"Event: {name}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    msg = AmiFramer().feed((text + "\r\n").encode())[0]
    msg.seq = seq
    return msg


def chan(uid: str, name: str, state: str = "Down", code: str = "0", **more: str) -> dict[str, str]:
    return {
        "Channel": name,
        "ChannelState": code,
        "ChannelStateDesc": state,
        "CallerIDNum": "+31612345678",
        "CallerIDName": "José",
        "Context": "from-carrier",
        "Exten": "0201234567",
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": uid,
        **more,
    }


def test_channel_lifecycle_is_tracked() -> None:
    """Newchannel, Newstate, NewCallerid, Newexten, Bridge enter/leave and Hangup apply."""
    view = ChannelView(clock=lambda: 100.0)
    view.apply(ev("Newchannel", **chan("1.1", "PJSIP/carrier-1")))
    view.apply(ev("Newstate", **chan("1.1", "PJSIP/carrier-1", "Up", "6")))
    view.apply(ev("NewCallerid", **chan("1.1", "PJSIP/carrier-1", "Up", "6", CallerIDName="Zoë")))
    assert view.snapshot()[0]["caller_id_name"] == "Zoë"
    view.apply(
        ev(
            "Newexten",
            **chan("1.1", "PJSIP/carrier-1", "Up", "6", Priority="2"),
            Application="Queue",
        )
    )
    assert view.snapshot()[0]["priority"] == "2"
    view.apply(
        ev("BridgeEnter", BridgeUniqueid="br-1", **chan("1.1", "PJSIP/carrier-1", "Up", "6"))
    )
    (snap,) = view.snapshot()
    assert snap["state"] == "Up"
    assert snap["state_code"] == "6"
    assert snap["application"] == "Queue"
    assert snap["bridge_id"] == "br-1"
    assert snap["created"] == 100.0
    assert snap["linkedid"] == "1.1"
    view.apply(
        ev("BridgeLeave", BridgeUniqueid="br-1", **chan("1.1", "PJSIP/carrier-1", "Up", "6"))
    )
    assert view.snapshot()[0]["bridge_id"] is None
    view.apply(ev("Hangup", Cause="16", **chan("1.1", "PJSIP/carrier-1", "Up", "6")))
    assert view.snapshot() == []


def test_rename_changes_the_channel_name() -> None:
    """A Rename event updates the channel name kept under the same Uniqueid."""
    view = ChannelView()
    view.apply(ev("Newchannel", **chan("1.1", "Local/100@agents-0001;1")))
    view.apply(ev("Rename", Newname="PJSIP/agent-7-0002", **chan("1.1", "Local/100@agents-0001;1")))
    channel = view.get("1.1")
    assert channel is not None
    assert channel.channel == "PJSIP/agent-7-0002"


def test_unrelated_events_are_ignored() -> None:
    """Events that are not channel events leave the view unchanged."""
    view = ChannelView()
    assert not view.apply(ev("PeerStatus", Peer="PJSIP/1"))
    assert len(view) == 0


def test_install_replaces_view_and_skips_older_queued_events() -> None:
    """After a resync at position S, queued events at or before S are not applied again."""
    view = ChannelView(clock=lambda: 1000.0)
    view.apply(ev("Newchannel", 1, **chan("old", "PJSIP/old-1")))
    entries = [
        ev("CoreShowChannel", 20, Duration="00:01:05", **chan("2.1", "PJSIP/x-2", "Up", "6"))
    ]
    assert view.install(10, entries)
    assert [c["uniqueid"] for c in view.snapshot()] == ["2.1"]
    assert view.snapshot()[0]["created"] == 1000.0 - 65
    assert not view.apply(ev("Hangup", 9, **chan("2.1", "PJSIP/x-2")))  # older than snapshot
    assert "2.1" in view
    assert view.apply(ev("Hangup", 11, **chan("2.1", "PJSIP/x-2")))
    assert "2.1" not in view


def test_install_replays_newer_events_already_applied() -> None:
    """Events newer than the list's response that were applied before install are re-applied:
    a channel that hung up meanwhile is not resurrected, a new one is kept."""
    view = ChannelView()
    view.apply(ev("Newchannel", 5, **chan("gone", "PJSIP/a-1")))
    view.apply(ev("Newchannel", 12, **chan("new", "PJSIP/b-2")))
    view.apply(ev("Hangup", 13, **chan("gone", "PJSIP/a-1")))
    entries = [ev("CoreShowChannel", 14, **chan("gone", "PJSIP/a-1", "Up", "6"))]
    assert view.install(10, entries)
    assert sorted(c["uniqueid"] for c in view.snapshot()) == ["new"]


def test_install_reports_inexact_when_replay_window_overflowed() -> None:
    """If newer events fell out of the replay window, install says the view is not exact."""
    view = ChannelView(replay_window=2)
    for seq in range(11, 15):
        view.apply(ev("Newstate", seq, **chan("1.1", "PJSIP/a-1")))
    assert not view.install(10, [])


async def test_view_resyncs_from_client_after_each_connect(fake: FakeAmi) -> None:
    """Attached to a client, the view is loaded from CoreShowChannels on connect and reconnect,
    and follows live events in between."""
    fake.channels = [list(chan("1.1", "PJSIP/carrier-1", "Up", "6", Duration="00:00:03").items())]
    view = ChannelView()
    async with AmiClient(fast_settings(fake.port)) as client:
        view.attach(client)
        await eventually(lambda: "1.1" in view)
        conn = fake.connections[0]
        conn.event("Newchannel", *chan("1.2", "PJSIP/agent-2").items())
        await eventually(lambda: "1.2" in view)
        fake.channels = [list(chan("3.1", "PJSIP/carrier-3", "Ring", "4").items())]
        before = view.resyncs
        conn.cut()
        assert await view.wait_resync(before, timeout=2) == before + 1
        assert [c["uniqueid"] for c in view.snapshot()] == ["3.1"]
        assert view.snapshot()[0]["state"] == "Ring"


async def test_resync_that_times_out_is_asked_again(fake: FakeAmi) -> None:
    """A CoreShowChannels left unanswered on a live link is retried; the view gets loaded."""
    fake.channels = [list(chan("1.1", "PJSIP/carrier-1", "Up", "6").items())]
    asked: list[str] = []
    answer = fake._answer

    async def first_ignored(conn: FakeConnection, action: AmiMessage) -> None:
        asked.append(action.action_id or "")
        if len(asked) > 1:
            fake.handlers.pop("CoreShowChannels")
            await answer(conn, action)

    fake.handlers["CoreShowChannels"] = first_ignored
    view = ChannelView()
    async with AmiClient(fast_settings(fake.port, action_timeout=0.1)) as client:
        view.attach(client)
        assert await view.wait_resync(0, timeout=2) == 1
        assert "1.1" in view
        assert len(asked) == 2
        assert len(fake.connections) == 1


def test_created_time_comes_from_asterisk_timestamp_when_sent() -> None:
    """With timestampevents=yes the channel's created time is the Newchannel Timestamp."""
    view = ChannelView(clock=lambda: 5.0)
    view.apply(ev("Newchannel", Timestamp="1795456606.765926", **chan("1.1", "PJSIP/a-1")))
    view.apply(ev("Newchannel", **chan("1.2", "PJSIP/b-2")))
    created = {c["uniqueid"]: c["created"] for c in view.snapshot()}
    assert created == {"1.1": 1795456606.765926, "1.2": 5.0}
