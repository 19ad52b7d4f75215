"""FastAGI server over loopback, with a scripted peer playing Asterisk's side."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from ccpbx.agi import (
    AgiCommandTimeout,
    AgiHangup,
    AgiInvalidCommand,
    AgiSession,
    AgiUsageError,
    FastAgiServer,
)

from .fake_asterisk import FakeAsterisk, answer_ok, env_block

StartServer = Callable[..., Awaitable[FastAgiServer]]
STATUS_OK = 'SET VARIABLE "CCPBX_AGI_STATUS" "ok"'
STATUS_FAILED = 'SET VARIABLE "CCPBX_AGI_STATUS" "failed"'


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[FastAgiServer] = []

    async def start(handlers: dict[str, Any], **options: Any) -> FastAgiServer:
        options.setdefault("header_timeout", 5.0)
        options.setdefault("command_timeout", 5.0)
        server = FastAgiServer("127.0.0.1", 0, handlers, **options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close(grace=0)


async def converse(server: FastAgiServer, env: bytes, responder: Any = answer_ok) -> FakeAsterisk:
    return await asyncio.wait_for(FakeAsterisk(server.port, responder).run(env), 10)


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - server counters have no event to await
            await asyncio.sleep(0.005)


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_normal_session_runs_commands_and_reports_ok(start_server: StartServer) -> None:
    """A handler's commands go out quoted, get their replies, and status ok is set last."""
    seen: dict[str, Any] = {}

    async def ivr(session: AgiSession) -> None:
        seen["context"] = structlog.contextvars.get_contextvars()
        seen["query"] = dict(session.env.query)
        seen["args"] = session.env.args
        await session.answer()
        seen["digit"] = await session.stream_file("welcome", "12")
        seen["lang"] = await session.get_variable("CHANNEL(language)")
        await session.set_variable("ROUTE", "sales")

    def responder(line: str) -> bytes:
        if line.startswith("STREAM FILE"):
            return b"200 result=49 endpos=1200\n"
        if line.startswith("GET VARIABLE"):
            return b"200 result=1 (nl)\n"
        return b"200 result=0\n"

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block("ivr?flow=main", args=("a1", "a 2")), responder)
    assert fake.closed_by_server
    assert fake.commands == [
        "ANSWER",
        'STREAM FILE "welcome" "12"',
        'GET VARIABLE "CHANNEL(language)"',
        'SET VARIABLE "ROUTE" "sales"',
        STATUS_OK,
    ]
    assert seen["digit"] == "1"
    assert seen["lang"] == "nl"
    assert seen["query"] == {"flow": "main"}
    assert seen["args"] == ("a1", "a 2")
    assert seen["context"] == {
        "uniqueid": "1763900000.1",
        "channel": "PJSIP/carrier-00000001",
        "script": "ivr",
    }
    (ended,) = events(logs, "agi_session_ended")
    assert ended["outcome"] == "ok"
    assert ended["commands"] == 5
    stats = server.stats()
    assert (stats.sessions_total, stats.sessions_ok, stats.sessions_active) == (1, 1, 0)
    assert stats.connections_active == 0


async def test_peer_that_connects_and_closes_costs_nothing(start_server: StartServer) -> None:
    """A peer closing before any byte ends its task at once, long before the header timeout."""
    server = await start_server({"ivr": answer_session}, header_timeout=60)
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        await writer.wait_closed()
    await wait_until(lambda: server.stats().header_errors == 20)
    await wait_until(lambda: server.stats().connections_active == 0)  # not after 60 s
    fake = await converse(server, env_block())
    assert fake.commands == ["ANSWER", STATUS_OK]


async def test_half_header_then_eof_closes_without_spinning(start_server: StartServer) -> None:
    """Half a header followed by EOF closes the connection; CPU stays idle meanwhile."""
    server = await start_server({"ivr": answer_session}, header_timeout=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: ivr\nagi_chan")
    writer.write_eof()
    cpu = time.process_time()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await wait_until(lambda: server.stats().connections_active == 0)
    await asyncio.sleep(0.3)
    assert time.process_time() - cpu < 0.25
    writer.close()
    await writer.wait_closed()
    assert server.stats().header_errors == 1


async def answer_session(session: AgiSession) -> None:
    await session.answer()


async def test_stalled_half_headers_time_out_and_loop_stays_responsive(
    start_server: StartServer,
) -> None:
    """100 peers stalling mid-header time out; the loop lag stays bounded and calls still work."""
    server = await start_server({"ivr": answer_session}, header_timeout=1.0)
    lags: list[float] = []
    stop = asyncio.Event()

    async def monitor() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)

    monitor_task = asyncio.create_task(monitor())
    stalled = []
    for _ in range(100):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network_script: ivr\nagi_channel: PJSIP/x\nagi_uni")
        stalled.append((reader, writer))
    await wait_until(lambda: server.stats().connections_active == 100)
    cpu = time.process_time()
    fake = await converse(server, env_block())  # served while the 100 are stalled
    assert fake.commands == ["ANSWER", STATUS_OK]
    closed = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in stalled)), 10)
    cpu_used = time.process_time() - cpu
    stop.set()
    await monitor_task
    for _, writer in stalled:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert closed == [b""] * 100
    assert server.stats().header_timeouts == 100
    assert server.stats().connections_active == 0
    assert max(lags) < 0.2, f"event loop lag {max(lags):.3f} s"
    assert cpu_used < 0.9  # about 1 s of waiting: a spinning server would burn all of it


async def test_caller_data_with_line_breaks_never_reaches_the_wire(
    start_server: StartServer,
) -> None:
    """Caller-supplied CR/LF (query, variable value) is refused; only the status line is sent."""

    async def ivr(session: AgiSession) -> None:
        await session.set_variable("CALLER_NOTE", session.env.query["note"])

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block("ivr?note=hi%0AEXEC%20System%20evil%0D"))
    assert fake.commands == [STATUS_FAILED]
    assert b"EXEC" not in fake.received
    (failed,) = events(logs, "agi_handler_failed")
    assert "AgiInjectionError" in failed["error"]
    assert failed["status_set"] is True


async def test_variable_value_with_cr_from_asterisk_is_not_echoed(
    start_server: StartServer,
) -> None:
    """A value read back from the channel holding CR/LF cannot be written back raw."""

    async def ivr(session: AgiSession) -> None:
        name = await session.get_variable("CALLERID(name)")
        assert name == "Eve\rEXEC System x\nmore"
        await session.set_variable("COPY", name)

    def responder(line: str) -> bytes:
        if line.startswith("GET VARIABLE"):
            return b"200 result=1 (Eve\rEXEC System x\nmore)\n"
        return b"200 result=0\n"

    server = await start_server({"ivr": ivr})
    with capture_logs():
        fake = await converse(server, env_block(), responder)
    assert fake.commands == ['GET VARIABLE "CALLERID(name)"', STATUS_FAILED]


async def test_hangup_line_mid_command_ends_handler_cleanly(start_server: StartServer) -> None:
    """HANGUP before a reply raises AgiHangup in the handler; logged at info, no status set."""
    reached_after = False

    async def ivr(session: AgiSession) -> None:
        nonlocal reached_after
        await session.stream_file("long-prompt")
        reached_after = True

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block(), lambda _line: b"HANGUP\n200 result=-1\n")
    assert fake.commands == ['STREAM FILE "long-prompt" ""']
    assert not reached_after
    (hangup,) = events(logs, "agi_session_hangup")
    assert hangup["log_level"] == "info"
    assert hangup["reason"] == "hangup_line"
    assert not events(logs, "agi_handler_failed")
    assert server.stats().sessions_hangup == 1


async def test_commands_after_hangup_get_their_own_replies(start_server: StartServer) -> None:
    """After a HANGUP the overtaken reply is skipped; dead-channel reads still work."""
    got: list[object] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.stream_file("prompt")
        except AgiHangup as exc:
            got.append(exc.reason)
            got.append(await session.get_variable("HANGUPCAUSE"))

    def responder(line: str) -> bytes:
        if line.startswith("STREAM"):
            return b"HANGUP\n"
        return b"200 result=-1 endpos=10\n200 result=1 (16)\n"

    server = await start_server({"ivr": ivr})
    with capture_logs():
        fake = await converse(server, env_block(), responder)
    assert got == ["hangup_line", "16"]
    assert fake.commands == ['STREAM FILE "prompt" ""', 'GET VARIABLE "HANGUPCAUSE"']


async def test_eof_mid_command_is_a_hangup(start_server: StartServer) -> None:
    """Asterisk closing the link while a command waits raises AgiHangup(eof)."""
    reasons: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.answer()
        except AgiHangup as exc:
            reasons.append(exc.reason)
            raise

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block(), lambda _line: None)
        await wait_until(lambda: server.stats().sessions_hangup == 1)
    assert fake.commands == ["ANSWER"]
    assert reasons == ["eof"]
    assert not events(logs, "agi_handler_failed")


async def test_511_dead_channel_is_a_hangup(start_server: StartServer) -> None:
    """A 511 reply raises AgiHangup(dead_channel) and no status is set afterwards."""
    reasons: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.answer()
        except AgiHangup as exc:
            reasons.append(exc.reason)
            raise

    reply = b"511 Command Not Permitted on a dead channel or intercept routine\n"
    server = await start_server({"ivr": ivr})
    with capture_logs():
        fake = await converse(server, env_block(), lambda _line: reply)
    assert reasons == ["dead_channel"]
    assert fake.commands == ["ANSWER"]


async def test_handler_that_raises_sets_failed_status(start_server: StartServer) -> None:
    """Any other exception is logged as agi_handler_failed and CCPBX_AGI_STATUS=failed is set."""

    async def ivr(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("routing table missing")

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block())
    assert fake.commands == ["ANSWER", STATUS_FAILED]
    assert fake.closed_by_server
    (failed,) = events(logs, "agi_handler_failed")
    assert failed["log_level"] == "error"
    assert "routing table missing" in failed["error"]
    assert server.stats().handler_failures == 1


async def test_plain_function_handler_is_a_handler_failure(start_server: StartServer) -> None:
    """A non-async handler is reported as failed, not crashed on."""

    def ivr(session: AgiSession) -> None:
        return None

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block())
    assert fake.commands == [STATUS_FAILED]
    (failed,) = events(logs, "agi_handler_failed")
    assert "non-awaitable" in failed["error"]


async def test_unknown_script_is_logged_and_closed(start_server: StartServer) -> None:
    """An unknown script path gets no command at all; the dialplan falls back."""
    server = await start_server({"ivr": answer_session})
    with capture_logs() as logs:
        fake = await converse(server, env_block("nope?x=1"))
    assert fake.received == b""
    assert fake.closed_by_server
    (unknown,) = events(logs, "agi_unknown_script")
    assert unknown["request"] == "agi://127.0.0.1:4573/nope?x=1"
    assert server.stats().unknown_scripts == 1


async def test_command_timeout_then_late_reply_is_skipped(start_server: StartServer) -> None:
    """A reply past the deadline raises AgiCommandTimeout and is skipped when it comes."""
    got: list[object] = []

    async def ivr(session: AgiSession) -> None:
        with pytest.raises(AgiCommandTimeout):
            await session.command("ANSWER", deadline=0.2)
        got.append(await session.get_variable("X"))

    def responder(line: str) -> bytes:
        if line == "ANSWER":
            return b""
        if line.startswith("GET VARIABLE"):
            return b"200 result=0 (late answer)\n200 result=1 (x-value)\n"
        return b"200 result=0\n"

    server = await start_server({"ivr": ivr})
    fake = await converse(server, env_block(), responder)
    assert got == ["x-value"]
    assert fake.commands == ["ANSWER", 'GET VARIABLE "X"', STATUS_OK]


async def test_510_and_520_raise_typed_errors(start_server: StartServer) -> None:
    """Unknown commands and bad syntax raise AgiInvalidCommand and AgiUsageError."""
    got: list[str] = []

    async def ivr(session: AgiSession) -> None:
        with pytest.raises(AgiInvalidCommand):
            await session.command("FROB")
        with pytest.raises(AgiUsageError) as usage:
            await session.command("STREAM FILE")
        got.append(usage.value.result.text)

    def responder(line: str) -> bytes:
        if line == "FROB":
            return b"510 Invalid or unknown command\n"
        if line == "STREAM FILE":
            return b"520-Invalid command syntax.  Proper usage follows:\n usage\n520 End\n"
        return b"200 result=0\n"

    server = await start_server({"ivr": ivr})
    fake = await converse(server, env_block(), responder)
    assert got == ["Invalid command syntax.  Proper usage follows:\n usage"]
    assert fake.commands[-1] == STATUS_OK


async def test_close_cancels_live_sessions(start_server: StartServer) -> None:
    """close(grace=0) cancels a handler waiting on Asterisk and closes its connection."""
    started = asyncio.Event()

    async def ivr(session: AgiSession) -> None:
        started.set()
        await session.command("WAIT FOR DIGIT", 60000, deadline=120)

    server = await start_server({"ivr": ivr})
    run = asyncio.create_task(converse(server, env_block(), lambda _line: b""))
    await asyncio.wait_for(started.wait(), 5)
    with capture_logs() as logs:
        await asyncio.wait_for(server.close(grace=0), 5)
    fake = await run
    assert fake.closed_by_server
    assert events(logs, "agi_session_cancelled")
    assert server.stats().sessions_active == 0


async def test_close_lets_sessions_finish_within_grace(start_server: StartServer) -> None:
    """close(grace) stops accepting but lets a running session complete normally."""
    release = asyncio.Event()

    async def ivr(session: AgiSession) -> None:
        await release.wait()
        await session.answer()

    server = await start_server({"ivr": ivr})
    port = server.port
    run = asyncio.create_task(converse(server, env_block()))
    await wait_until(lambda: server.stats().sessions_active == 1)
    closing = asyncio.create_task(server.close(grace=5))
    await asyncio.sleep(0)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    release.set()
    fake = await run
    await closing
    assert fake.commands == ["ANSWER", STATUS_OK]


async def test_helpers_send_asterisk_argument_order(start_server: StartServer) -> None:
    """Each helper sends the command and argument order res_agi documents."""
    got: dict[str, object] = {}

    async def ivr(session: AgiSession) -> None:
        got["data"] = await session.get_data("enter-account", 3000, 6)
        got["digit"] = await session.wait_for_digit(2000)
        got["said"] = await session.say_digits("0123", "#")
        got["full"] = await session.get_full_variable("${CALLERID(num)}")
        got["exec"] = await session.exec("Playback", "beep", "noanswer")
        await session.verbose("hello", 3)
        await session.hangup()

    def responder(line: str) -> bytes:
        if line.startswith("GET DATA"):
            return b"200 result=0042 (timeout)\n"
        if line.startswith("WAIT FOR DIGIT"):
            return b"200 result=35\n"
        if line.startswith("GET FULL VARIABLE"):
            return b"200 result=1 (31201234567)\n"
        return b"200 result=0\n"

    server = await start_server({"ivr": ivr})
    fake = await converse(server, env_block(), responder)
    assert fake.commands == [
        'GET DATA "enter-account" "3000" "6"',
        'WAIT FOR DIGIT "2000"',
        'SAY DIGITS "0123" "#"',
        'GET FULL VARIABLE "${CALLERID(num)}"',
        'EXEC "Playback" "beep,noanswer"',
        'VERBOSE "hello" "3"',
        "HANGUP",
        STATUS_OK,
    ]
    assert got == {"data": "0042", "digit": "#", "said": None, "full": "31201234567", "exec": 0}


async def test_exec_refuses_an_argument_with_a_comma(start_server: StartServer) -> None:
    """A comma inside one EXEC argument would split it in the application: refused unsent."""

    async def ivr(session: AgiSession) -> None:
        await session.exec("Dial", session.env.query["to"])

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block("ivr?to=PJSIP/100,,G(evil)"))
    assert fake.commands == [STATUS_FAILED]
    assert "AgiInjectionError" in events(logs, "agi_handler_failed")[0]["error"]


async def test_failed_command_then_dead_channel_is_a_hangup(start_server: StartServer) -> None:
    """result=-1 followed by a 511 on the status line is logged as a hang-up, not a failure."""

    def responder(line: str) -> bytes:
        if line.startswith("STREAM FILE"):
            return b"200 result=-1 endpos=0\n"
        return b"511 Command Not Permitted on a dead channel or intercept routine\n"

    async def ivr(session: AgiSession) -> None:
        await session.stream_file("prompt")

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block(), responder)
    assert fake.commands == ['STREAM FILE "prompt" ""', STATUS_FAILED]
    assert not events(logs, "agi_handler_failed")
    assert events(logs, "agi_session_hangup")[0]["reason"] == "command_failed"
    assert server.stats().sessions_hangup == 1


async def test_failed_command_on_live_channel_is_a_failure(start_server: StartServer) -> None:
    """result=-1 on a live channel (e.g. a missing sound file) fails the handler."""

    def responder(line: str) -> bytes:
        return b"200 result=-1 endpos=0\n" if line.startswith("STREAM") else b"200 result=0\n"

    async def ivr(session: AgiSession) -> None:
        await session.stream_file("no-such-file")

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block(), responder)
    assert fake.commands[-1] == STATUS_FAILED
    assert "AgiCommandFailed" in events(logs, "agi_handler_failed")[0]["error"]


async def test_oversized_header_is_refused(start_server: StartServer) -> None:
    """A header beyond max_header_bytes closes the connection without running a handler."""
    server = await start_server({"ivr": answer_session}, max_header_bytes=2048)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: ivr\nagi_callerid: " + b"9" * 4096 + b"\n\n")
    with capture_logs() as logs:
        assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()
    assert events(logs, "agi_header_invalid")
    assert server.stats().header_errors == 1
    assert server.stats().sessions_total == 0


async def test_connections_over_the_limit_are_refused(start_server: StartServer) -> None:
    """Past max_connections a new peer is dropped at once; existing ones are unaffected."""
    server = await start_server({"ivr": answer_session}, max_connections=2)
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    await wait_until(lambda: server.stats().connections_active == 2)
    with capture_logs():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    assert server.stats().connections_refused == 1
    for _, held_writer in held:
        held_writer.close()
        await held_writer.wait_closed()


async def test_minus_one_then_hangup_line_raises_agihangup(start_server: StartServer) -> None:
    """As Asterisk 22 does on a hang-up: `result=-1`, then HANGUP; the handler sees AgiHangup."""
    reasons: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.wait_for_digit(8000)
        except AgiHangup as exc:
            reasons.append(exc.reason)
            raise

    server = await start_server({"ivr": ivr})
    with capture_logs() as logs:
        fake = await converse(server, env_block(), lambda _line: b"200 result=-1\nHANGUP\n")
    assert reasons == ["hangup_line"]
    assert fake.commands == ['WAIT FOR DIGIT "8000"']
    assert events(logs, "agi_session_hangup")[0]["reason"] == "hangup_line"
    assert not events(logs, "agi_handler_failed")


async def _idle_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _refused(source: str, port: int) -> bool:
    reader, writer = await _idle_from(source, port)
    try:
        with contextlib.suppress(ConnectionError):
            return await asyncio.wait_for(reader.read(), 5) == b""
        return True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _close_all(held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in held:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_one_source_holding_idle_connections_cannot_starve_another(
    start_server: StartServer,
) -> None:
    """A host holding its share of connections that never send an environment gets no
    more; a call from another host is still served, and health() says who was refused."""
    now = [1000.0]
    server = await start_server(
        {"ivr": answer_session},
        max_connections=50,
        max_pending_per_source=8,
        refusal_memory_s=30.0,
        clock=lambda: now[0],
    )
    assert server.health() == ("listening", {})
    held = [await _idle_from("127.0.0.2", server.port) for _ in range(8)]
    try:
        await wait_until(lambda: server.stats().connections_active == 8)
        with capture_logs() as logs:
            assert await _refused("127.0.0.2", server.port)
        assert events(logs, "agi_connection_refused")[0]["limit"] == "max_pending_per_source"
        call = await converse(server, env_block("ivr"))
        assert call.commands == ["ANSWER", STATUS_OK]
        assert server.stats().source_refusals == 1
        assert server.stats().connections_refused == 0
        state, detail = server.health()
        assert state == "refusing"
        assert (detail["refused_source"], detail["refused_by"]) == (
            "127.0.0.2",
            "max_pending_per_source",
        )
        now[0] += 31
        assert server.health() == ("listening", {})
    finally:
        await _close_all(held)
    # The idle ones gone, the same host is served again.
    await wait_until(lambda: server.stats().connections_active == 0)
    held = [await _idle_from("127.0.0.2", server.port) for _ in range(8)]
    await _close_all(held)


async def test_a_source_is_capped_in_all_its_connections(start_server: StartServer) -> None:
    """Sessions that did send their environment count against their host's total share."""
    release = asyncio.Event()

    async def held_call(session: AgiSession) -> None:
        await session.answer()
        await release.wait()

    server = await start_server(
        {"ivr": held_call}, max_connections=50, max_connections_per_source=3
    )
    calls = [asyncio.create_task(converse(server, env_block("ivr"))) for _ in range(3)]
    await wait_until(lambda: server.stats().sessions_active == 3)
    with capture_logs() as logs:
        assert await _refused("127.0.0.1", server.port)
    assert events(logs, "agi_connection_refused")[0]["limit"] == "max_connections_per_source"
    release.set()
    for done in await asyncio.gather(*calls):
        assert done.commands == ["ANSWER", STATUS_OK]
    await wait_until(lambda: server.stats().connections_active == 0)
    assert (await converse(server, env_block("ivr"))).commands == ["ANSWER", STATUS_OK]


async def test_each_command_round_trip_is_reported(start_server: StartServer) -> None:
    """on_reply hears every command with the time from sending it to its reply."""
    heard: list[tuple[str, float]] = []
    server = await start_server(
        {"ivr": answer_session}, on_reply=lambda command, s: heard.append((command, s))
    )
    await converse(server, env_block("ivr"))
    assert [command for command, _ in heard] == ["ANSWER", "SET VARIABLE"]
    assert all(0 <= seconds < 5 for _, seconds in heard)
