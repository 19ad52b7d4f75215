"""AmiClient against a fake AMI peer: login, deadlines, link loss, no replay, keepalive."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ccpbx.ami import (
    AmiActionError,
    AmiActionTimeout,
    AmiClient,
    AmiInjectionError,
    AmiLinkLost,
    AmiNotConnected,
)
from ccpbx.ami.protocol import AmiMessage

from .fake_peer import FakeAmi, FakeConnection, eventually, fast_settings, named

Logs = list[dict[str, Any]]


async def test_login_ok_reports_connected_and_version(client: AmiClient, logs: Logs) -> None:
    """After login the client is ready and its health says connected, with the AMI version."""
    health = client.health()
    assert client.ready
    assert health.state == "connected"
    assert health.ami_version == "11.0.0"
    assert health.last_error is None
    result = await client.action("CoreStatus", timeout=1)
    assert result.ok
    assert result.message == "CoreStatus done"


async def test_failed_login_is_a_clear_error_and_is_retried(fake: FakeAmi, logs: Logs) -> None:
    """A refused login is logged as ami_login_failed with a clear message, then retried."""
    fake.refuse_logins = 2
    async with AmiClient(fast_settings(fake.port)) as client:
        await client.wait_ready(timeout=2)
        failures = named(logs, "ami_login_failed")
        assert len(failures) == 2
        assert "refused AMI login for user 'ccpbx'" in failures[0]["error"]
        assert "Authentication failed" in failures[0]["error"]
        assert "s3cret" not in str(logs)
        assert len(fake.named("Login")) == 3
        assert client.health().failed_attempts == 2


async def test_wrong_secret_keeps_retrying_and_wait_ready_explains(fake: FakeAmi) -> None:
    """With a wrong secret wait_ready fails with the login error; the client keeps trying."""
    async with AmiClient(fast_settings(fake.port, secret="wrong")) as client:
        await fake.until(lambda: len(fake.named("Login")) >= 2)
        with pytest.raises(AmiNotConnected, match="refused AMI login"):
            await client.wait_ready(timeout=0.05)
        assert client.health().state in ("connecting", "disconnected")
        assert "refused AMI login" in (client.health().last_error or "")


async def test_action_deadline_exceeded(client: AmiClient, fake: FakeAmi) -> None:
    """An unanswered action raises AmiActionTimeout; the link stays up and is usable."""
    fake.unanswered = {"CoreStatus"}
    with pytest.raises(AmiActionTimeout, match=r"within 0\.05s"):
        await client.action("CoreStatus", timeout=0.05)
    assert client.health().pending_actions == 0
    assert (await client.action("Ping")).ok
    assert len(fake.connections) == 1


async def test_late_answer_after_deadline_is_ignored(client: AmiClient, fake: FakeAmi) -> None:
    """An answer arriving after the deadline does not complete anything or break the link."""
    held: list[tuple[FakeConnection, AmiMessage]] = []
    fake.handlers["Status"] = lambda conn, action: held.append((conn, action))
    with pytest.raises(AmiActionTimeout):
        await client.action("Status", timeout=0.05)
    conn, action = held[0]
    conn.respond(action, "Success", ("Message", "late"))
    assert (await client.action("Ping")).ok  # answered after the late response (TCP order)
    assert len(fake.connections) == 1
    assert client.health().late_responses == 1


async def test_garbage_from_peer_is_counted_and_link_kept(client: AmiClient, fake: FakeAmi) -> None:
    """Lines without a colon from the peer are skipped, counted in health, link kept."""
    fake.connections[0].write(b"\x00\xffnot a header\r\n\r\n")
    assert (await client.action("Ping")).ok
    assert client.health().garbage_lines == 1
    assert len(fake.connections) == 1


async def test_error_response_raises_unless_unchecked(client: AmiClient, fake: FakeAmi) -> None:
    """Response: Error raises AmiActionError carrying the response; check=False returns it."""
    fake.handlers["Redirect"] = lambda conn, a: conn.respond(
        a, "Error", ("Message", "Channel not specified")
    )
    with pytest.raises(AmiActionError, match="Channel not specified") as info:
        await client.action("Redirect", Channel="")
    assert info.value.response is not None
    result = await client.action("Redirect", Channel="", check=False)
    assert not result.ok


async def test_list_action_returns_response_and_events(client: AmiClient, fake: FakeAmi) -> None:
    """A list action (EventList start..Complete) returns its response plus the list events."""
    fake.channels = [
        [("Channel", "PJSIP/a-1"), ("Uniqueid", "1.1")],
        [("Channel", "PJSIP/b-2"), ("Uniqueid", "1.2")],
    ]
    result = await client.action("CoreShowChannels")
    assert result.response["EventList"] == "start"
    assert [e["Uniqueid"] for e in result.events] == ["1.1", "1.2"]
    assert result.complete is not None
    assert result.complete.name == "CoreShowChannelsComplete"


async def test_link_cut_mid_action_fails_at_once_and_nothing_is_replayed(
    fake: FakeAmi, logs: Logs
) -> None:
    """Actions pending when the link drops fail with AmiLinkLost; none is re-sent later."""
    risky = ["Originate", "Redirect", "Hangup", "QueueAdd", "Bridge"]
    fake.unanswered = set(risky)
    async with AmiClient(fast_settings(fake.port, action_timeout=30)) as client:
        await client.wait_ready(timeout=2)
        calls = [asyncio.create_task(client.action(name, Channel="PJSIP/1")) for name in risky]
        await fake.until(lambda: all(fake.named(n) for n in risky))
        fake.connections[0].cut()
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            assert isinstance(result, AmiLinkLost)
            assert "not re-sent" in str(result)
            assert isinstance(result.__cause__, ConnectionError)
        await fake.until(lambda: len(fake.connections) == 2)
        await client.wait_ready(timeout=2)
        assert (await client.action("CoreStatus")).ok  # a full round trip on the new link
        second = [a.name for i, a in fake.actions if i == 1]
        assert second == ["Login", "CoreStatus", "CoreStatus"]  # the client's own, then ours
        for name in risky:
            assert len(fake.named(name)) == 1
        assert named(logs, "ami_link_lost")
        assert client.health().reconnects == 1


async def test_reconnect_uses_exponential_backoff(logs: Logs) -> None:
    """Refused connections are retried after 0.01, 0.02, 0.04, 0.04 s; success resets it."""
    placeholder = await FakeAmi().start()
    port = placeholder.port
    await placeholder.close()  # nothing listens on the port now
    settings = fast_settings(port, backoff_initial=0.01, backoff_max=0.04)
    async with AmiClient(settings, random=lambda: 0.5) as client:
        await eventually(lambda: len(named(logs, "ami_reconnect_scheduled")) >= 4)
        delays = [e["delay"] for e in named(logs, "ami_reconnect_scheduled")[:4]]
        assert delays == [0.01, 0.02, 0.04, 0.04]
        assert named(logs, "ami_connect_failed")
        async with FakeAmi() as fake:
            fake_server = fake._server
            assert fake_server is not None
            fake_server.close()
            await fake_server.wait_closed()
            fake.port = port
            fake._server = await asyncio.start_server(fake._serve, "127.0.0.1", port)
            await client.wait_ready(timeout=2)
            before = len(named(logs, "ami_reconnect_scheduled"))
            fake.connections[0].cut()
            await eventually(lambda: len(named(logs, "ami_reconnect_scheduled")) > before)
            assert named(logs, "ami_reconnect_scheduled")[before]["delay"] == 0.01
            await client.wait_ready(timeout=2)


async def test_ping_watchdog_detects_silent_peer(fake: FakeAmi, logs: Logs) -> None:
    """A peer that stops answering Ping is declared dead: pending fail, then reconnect."""
    settings = fast_settings(fake.port, ping_interval=0.05, ping_timeout=0.05, action_timeout=30)
    async with AmiClient(settings) as client:
        await client.wait_ready(timeout=2)
        fake.unanswered = {"Ping", "Status"}  # the TCP link stays open, nothing answers
        with pytest.raises(AmiLinkLost) as info:
            await client.action("Status")
        assert isinstance(info.value.__cause__, TimeoutError)
        assert "Ping" in str(info.value.__cause__)
        assert named(logs, "ami_ping_timeout")
        await fake.until(lambda: len(fake.connections) >= 2)
        await client.wait_ready(timeout=2)
        assert len(fake.named("Status")) == 1


async def test_raising_handler_does_not_drop_the_link(
    client: AmiClient, fake: FakeAmi, logs: Logs
) -> None:
    """A handler that raises is logged (ami_event_handler_failed); later events still arrive."""
    seen: list[str] = []

    def boom(msg: AmiMessage) -> None:
        raise RuntimeError("handler bug")

    async def record(msg: AmiMessage) -> None:
        seen.append(msg.name)

    client.on_event("Boom", boom)
    client.on_event("*", record)
    fake.connections[0].event("Boom")
    fake.connections[0].event("After")
    await eventually(lambda: seen == ["Boom", "After"])
    failures = named(logs, "ami_event_handler_failed")
    assert failures[0]["ami_event"] == "Boom"
    assert "boom" in failures[0]["handler"]
    assert client.health().handler_failures == 1
    assert (await client.action("Ping")).ok
    assert len(fake.connections) == 1


async def test_event_order_is_preserved_across_sync_and_async_handlers(
    client: AmiClient, fake: FakeAmi
) -> None:
    """Events reach handlers in arrival order, even when async handlers yield."""
    seen: list[int] = []

    async def slow(msg: AmiMessage) -> None:
        if int(msg["N"]) % 7 == 0:
            await asyncio.sleep(0)
        seen.append(int(msg["N"]))

    client.on_event("Tick", slow)
    client.on_event("Tick", lambda msg: seen.append(-int(msg["N"])))
    for n in range(1, 301):
        fake.connections[0].event("Tick", ("N", str(n)))
    await eventually(lambda: len(seen) == 600)
    expected: list[int] = []
    for n in range(1, 301):
        expected += [n, -n]
    assert seen == expected


async def test_queue_overflow_drops_counts_and_resyncs_once_drained(
    fake: FakeAmi, logs: Logs
) -> None:
    """A stuck consumer never blocks the reader: events are dropped, then a resync runs."""
    gate = asyncio.Event()
    applied: list[int] = []
    resyncs: list[int] = []

    async def blocked(msg: AmiMessage) -> None:
        await gate.wait()
        applied.append(int(msg["N"]))

    async def resync() -> None:
        resyncs.append(len(applied))

    async with AmiClient(fast_settings(fake.port, event_queue_size=5)) as client:
        client.on_event("Tick", blocked)
        client.on_resync(resync)
        await client.wait_ready(timeout=2)
        for n in range(50):
            fake.connections[0].event("Tick", ("N", str(n)))
        await eventually(lambda: client.health().events_received >= 51)  # + FullyBooted
        assert (await client.action("Ping")).ok  # the reader is not blocked
        health = client.health()
        assert health.events_dropped >= 40
        assert len(named(logs, "ami_event_queue_overflow")) == 1
        assert resyncs == []
        gate.set()
        await eventually(lambda: resyncs != [])
        assert applied == sorted(applied)
        assert len(applied) + client.health().events_dropped == 50
        assert resyncs == [len(applied)]
        assert named(logs, "ami_resync_requested")


@pytest.mark.parametrize(
    "headers",
    [
        {"CallerID": "Mallory <1>\r\nAction: Hangup\r\nChannel: PJSIP/x"},
        {"CallerID": "x\ny"},
        {"Exten": "1\x00"},
        {"Bad\r\nName": "v"},
    ],
)
async def test_injection_is_refused_before_anything_is_sent(
    client: AmiClient, fake: FakeAmi, headers: dict[str, str]
) -> None:
    """CR, LF or NUL in a header name or value raises AmiInjectionError; nothing is written."""
    before = fake.bytes_received
    with pytest.raises(AmiInjectionError) as info:
        await client.action("Originate", headers, timeout=1)
    assert isinstance(info.value, ValueError)
    assert fake.bytes_received == before
    await client.action("Ping")
    assert [a.name for _, a in fake.actions] == ["Login", "CoreStatus", "Ping"]


async def test_action_while_disconnected_fails_fast(fake: FakeAmi) -> None:
    """Without a logged-in link an action raises AmiNotConnected at once."""
    fake.refuse_logins = 1000
    async with AmiClient(fast_settings(fake.port)) as client:
        with pytest.raises(AmiNotConnected, match="not sent"):
            await client.action("CoreStatus")


async def test_on_connected_hooks_run_after_every_reconnect(fake: FakeAmi) -> None:
    """Hooks registered with on_connected run after the first login and after each reconnect."""
    runs: list[int] = []
    async with AmiClient(fast_settings(fake.port)) as client:

        async def hook() -> None:
            runs.append(len(fake.connections))

        client.on_connected(hook)
        await eventually(lambda: runs == [1])
        fake.connections[0].cut()
        await eventually(lambda: runs == [1, 2])


async def test_shutdown_event_and_close_by_peer_reconnect(
    client: AmiClient, fake: FakeAmi, logs: Logs
) -> None:
    """A peer that says Shutdown and closes the socket is reconnected to."""
    conn = fake.connections[0]
    conn.event("Shutdown", ("Shutdown", "Uncleanly"), ("Restart", "False"))
    conn.writer.close()
    await fake.until(lambda: len(fake.connections) == 2)
    await client.wait_ready(timeout=2)
    assert named(logs, "ami_link_lost")


async def test_close_fails_pending_and_leaves_no_task(fake: FakeAmi) -> None:
    """close() fails pending actions with AmiLinkLost and awaits every task it created."""
    fake.unanswered = {"QueueStatus"}
    client = AmiClient(fast_settings(fake.port, action_timeout=30))
    await client.start()
    await client.wait_ready(timeout=2)
    pending = asyncio.create_task(client.action("QueueStatus"))
    await fake.until(lambda: bool(fake.named("QueueStatus")))
    await client.close()
    with pytest.raises(AmiLinkLost):
        await pending
    assert client.health().state == "closed"
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")]
    assert leftovers == []
    with pytest.raises(AmiNotConnected):
        await client.action("Ping")


async def test_command_output_old_and_new_style(client: AmiClient, fake: FakeAmi) -> None:
    """command() returns output lines from Output: headers and from a Follows body."""

    def new_style(conn: FakeConnection, action: AmiMessage) -> None:
        conn.respond(
            action,
            "Success",
            ("Message", "Command output follows"),
            ("Output", "Asterisk 22.10.1"),
            ("Output", "built by debian"),
        )

    fake.handlers["Command"] = new_style
    assert await client.command("core show version") == ["Asterisk 22.10.1", "built by debian"]

    def old_style(conn: FakeConnection, action: AmiMessage) -> None:
        conn.write(
            f"Response: Follows\r\nPrivilege: Command\r\nActionID: {action.action_id}\r\n"
            "Channel   State\n\nPJSIP/1   Up\n--END COMMAND--\r\n\r\n".encode()
        )

    fake.handlers["Command"] = old_style
    assert await client.command("core show channels") == ["Channel   State", "", "PJSIP/1   Up"]
