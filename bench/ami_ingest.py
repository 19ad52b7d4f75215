"""AMI ingest benchmark: events/s through ccpbx's AmiClient vs a bare panoramisk Manager.

A separate process plays a minimal AMI server on 127.0.0.1. When the client sends
``UserEvent``, it writes the whole event stream plus an end marker in one go.

(a) ccpbx: AmiClient -> framer -> bounded queue -> consumer task -> ChannelView.apply
(b) panoramisk 1.4: Manager with its own AMIProtocol and one no-op '*' callback

The figure is (events in the stream) / (time from sending UserEvent to the end
marker being handled). Run:  .venv/bin/python bench/ami_ingest.py [--events N]
[--rounds R] [--file RECORDED_RAW_AMI_STREAM[.gz] [--repeat K]]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing
import random
import socket
import statistics
import sys
import time
from pathlib import Path

from panoramisk import Manager
from targets import check

from ccpbx.ami import AmiClient, AmiFramer, AmiMessage, AmiSettings, ChannelView

END_MARKER = b"Event: BenchEnd\r\nPrivilege: user,all\r\n\r\n"

CALLER_NAMES = [
    "José Álvarez",
    "Zoë van der Berg",
    "Łukasz Wróblewski",
    "Françoise Dubois",
    "Jürgen Müller",
    "Ahmed Al-Sayed",
    "<unknown>",
    "Sanne de Vries",
    "Ólafur Þórsson",
    "Chloé Martin",
]


def _channel_headers(prefix: str, ch: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (f"{prefix}Channel", ch["channel"]),
        (f"{prefix}ChannelState", ch["state"]),
        (f"{prefix}ChannelStateDesc", ch["statedesc"]),
        (f"{prefix}CallerIDNum", ch["cidnum"]),
        (f"{prefix}CallerIDName", ch["cidname"]),
        (f"{prefix}ConnectedLineNum", ch["connum"]),
        (f"{prefix}ConnectedLineName", ch["conname"]),
        (f"{prefix}Language", "nl"),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", ch["context"]),
        (f"{prefix}Exten", ch["exten"]),
        (f"{prefix}Priority", ch["priority"]),
        (f"{prefix}Uniqueid", ch["uniqueid"]),
        (f"{prefix}Linkedid", ch["linkedid"]),
        (f"{prefix}TenantID", ""),
    ]


def _event(name: str, *groups: list[tuple[str, str]], privilege: str = "call,all") -> bytes:
    lines = [f"Event: {name}", f"Privilege: {privilege}"]
    for group in groups:
        lines.extend(f"{k}: {v}" for k, v in group)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def generate_calls(n_calls: int, seed: int = 7) -> list[bytes]:
    """Return the events of ``n_calls`` inbound queue calls, each as raw AMI bytes."""
    rng = random.Random(seed)
    events: list[bytes] = []
    base = 1_763_900_000
    counter = 0
    for call in range(n_calls):
        counter += 2
        ts = base + call
        caller = {
            "channel": f"PJSIP/carrier-{counter:08x}",
            "state": "0",
            "statedesc": "Down",
            "cidnum": f"+316{rng.randrange(10**7, 10**8)}",
            "cidname": rng.choice(CALLER_NAMES),
            "connum": "<unknown>",
            "conname": "<unknown>",
            "context": "from-carrier",
            "exten": "0201234567",
            "priority": "1",
            "uniqueid": f"{ts}.{counter}",
            "linkedid": f"{ts}.{counter}",
        }
        agent = {
            "channel": f"PJSIP/agent-{rng.randrange(100, 999)}-{counter + 1:08x}",
            "state": "0",
            "statedesc": "Down",
            "cidnum": "201",
            "cidname": "Agent 201",
            "connum": caller["cidnum"],
            "conname": caller["cidname"],
            "context": "agents",
            "exten": "s",
            "priority": "1",
            "uniqueid": f"{ts}.{counter + 1}",
            "linkedid": caller["linkedid"],
        }

        def cc(caller: dict[str, str] = caller) -> list[tuple[str, str]]:
            return _channel_headers("", caller)

        def ac(agent: dict[str, str] = agent) -> list[tuple[str, str]]:
            return _channel_headers("", agent)

        events.append(_event("Newchannel", cc()))
        events.append(_event("VarSet", cc(), [("Variable", "CCPBX_CAMPAIGN"), ("Value", "42")]))
        caller["exten"], caller["priority"] = "0201234567", "2"
        events.append(
            _event(
                "Newexten",
                cc(),
                [("Extension", "0201234567"), ("Application", "Answer"), ("AppData", "")],
                privilege="dialplan,all",
            )
        )
        caller["state"], caller["statedesc"] = "6", "Up"
        events.append(_event("Newstate", cc()))
        caller["priority"] = "3"
        events.append(
            _event(
                "Newexten",
                cc(),
                [("Extension", "0201234567"), ("Application", "Queue"), ("AppData", "sales")],
                privilege="dialplan,all",
            )
        )
        events.append(_event("Newchannel", ac()))
        events.append(
            _event(
                "DialBegin",
                _channel_headers("", caller),
                _channel_headers("Dest", agent),
                [("DialString", agent["channel"].rsplit("-", 1)[0].split("/", 1)[1])],
            )
        )
        agent["state"], agent["statedesc"] = "5", "Ringing"
        events.append(_event("Newstate", ac()))
        agent["state"], agent["statedesc"] = "6", "Up"
        events.append(_event("Newstate", ac()))
        events.append(
            _event(
                "DialEnd",
                _channel_headers("", caller),
                _channel_headers("Dest", agent),
                [("DialStatus", "ANSWER")],
            )
        )
        bridge = [
            ("BridgeUniqueid", f"b{call:07d}-1f2e-4c3d-8e9f-00000000{call % 10000:04d}"),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", "0"),
            ("BridgeVideoSourceMode", "none"),
        ]
        events.append(_event("BridgeCreate", bridge))
        bridge[5] = ("BridgeNumChannels", "1")
        events.append(_event("BridgeEnter", bridge, cc()))
        bridge[5] = ("BridgeNumChannels", "2")
        events.append(_event("BridgeEnter", bridge, ac()))
        events.append(_event("BridgeLeave", bridge, ac()))
        for ch in (agent, caller):
            events.append(
                _event(
                    "HangupRequest",
                    _channel_headers("", ch),
                    [("Cause", "16")],
                )
            )
            events.append(
                _event(
                    "Hangup",
                    _channel_headers("", ch),
                    [("Cause", "16"), ("Cause-txt", "Normal Clearing")],
                )
            )
    return events


def build_stream(n_events: int) -> tuple[bytes, int]:
    """Generated calls until at least ``n_events`` events; returns (bytes, event count)."""
    per_call = len(generate_calls(1))
    events = generate_calls(max(1, -(-n_events // per_call)))
    return b"".join(events), len(events)


def load_stream(path: Path) -> tuple[bytes, int]:
    """A recorded raw AMI byte stream; counts the events in it with our framer."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    if not data.endswith((b"\r\n\r\n", b"\n\n")):
        data += b"\r\n\r\n"
    framer = AmiFramer()
    n = sum(1 for m in framer.feed(data) if m.is_event)
    if b"\r\n\r\n" not in data and b"\n\n" in data:
        print("note: LF-only stream; panoramisk frames on CRLF and will not see its events")
    return data, n


# -- the fake AMI server (separate process, blocking sockets) -------------------


def _reply(conn: socket.socket, action_id: str, *lines: str) -> None:
    text = f"Response: Success\r\nActionID: {action_id}\r\n" + "".join(f"{x}\r\n" for x in lines)
    conn.sendall((text + "\r\n").encode())


def serve(listener: socket.socket, stream: bytes) -> None:
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
            framer = AmiFramer(actions=True)
            while data := conn.recv(65536):
                for msg in framer.feed(data):
                    aid = msg.action_id or ""
                    if msg.name == "Login":
                        _reply(conn, aid, "Message: Authentication accepted")
                    elif msg.name == "CoreShowChannels":
                        _reply(conn, aid, "EventList: start", "Message: Channels will follow")
                        conn.sendall(
                            (
                                "Event: CoreShowChannelsComplete\r\n"
                                f"ActionID: {aid}\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
                            ).encode()
                        )
                    elif msg.name == "UserEvent":
                        _reply(conn, aid)
                        conn.sendall(stream + END_MARKER)
                    else:
                        _reply(conn, aid)


# -- the two clients ------------------------------------------------------------------


async def run_ccpbx(port: int) -> tuple[float, dict[str, object]]:
    settings = AmiSettings(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        ping_interval=600,
        action_timeout=120,
        event_queue_size=100_000,
    )
    view = ChannelView()
    done = asyncio.get_running_loop().create_future()
    async with AmiClient(settings) as client:
        view.attach(client)

        def end(_msg: AmiMessage) -> None:
            if not done.done():
                done.set_result(time.perf_counter())

        client.on_event("BenchEnd", end)
        await client.wait_ready(timeout=10)
        await asyncio.sleep(0.2)  # let the on-connect resync finish
        c0, t0 = time.process_time(), time.perf_counter()
        await client.action("UserEvent", UserEvent="BenchGo")
        t1 = await done
        c1 = time.process_time()
        health = client.health()
    extra = {
        "cpu_s": round(c1 - c0, 3),
        "dropped": health.events_dropped,
        "handler_failures": health.handler_failures,
        "channels_left": len(view),
    }
    return t1 - t0, extra


async def run_panoramisk(port: int) -> tuple[float, dict[str, object]]:
    loop = asyncio.get_running_loop()
    logged_in = loop.create_future()
    done = loop.create_future()
    manager = Manager(
        loop=loop,
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        ping_delay=600,
        ping_interval=600,
        on_login=lambda m: logged_in.done() or logged_in.set_result(True),
    )

    def noop(_manager: object, _event: object) -> None:
        return None

    def end(_manager: object, _event: object) -> None:
        if not done.done():
            done.set_result(time.perf_counter())

    manager.register_event("*", noop)
    manager.register_event("BenchEnd", end)
    manager.connect()
    await asyncio.wait_for(logged_in, 10)
    c0, t0 = time.process_time(), time.perf_counter()
    await manager.send_action({"Action": "UserEvent", "UserEvent": "BenchGo"})
    t1 = await done
    c1 = time.process_time()
    manager.close()
    await asyncio.sleep(0)
    return t1 - t0, {"cpu_s": round(c1 - c0, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per run (generated)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per client (median kept)")
    parser.add_argument("--file", type=Path, help="replay this recorded raw AMI byte stream")
    parser.add_argument(
        "--repeat",
        type=int,
        help="replay --file this many times (default: enough to reach --events events)",
    )
    args = parser.parse_args()

    if args.file:
        stream, n_events = load_stream(args.file)
        repeat = args.repeat or max(1, -(-args.events // max(1, n_events)))
        stream, n_events = stream * repeat, n_events * repeat
        source = f"{args.file} x{repeat}"
    else:
        stream, n_events = build_stream(args.events)
        source = "generated"
    framer = AmiFramer()
    msgs = framer.feed(stream)
    headers = statistics.mean(len(m.fields()) for m in msgs) if msgs else 0.0
    print(
        f"stream: {source}, {n_events} events, {len(stream) / 1e6:.1f} MB,"
        f" {len(stream) / max(1, n_events):.0f} bytes and {headers:.1f} headers per event"
    )

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(listener, stream), daemon=True
    )
    server.start()
    listener.close()
    try:
        rates: dict[str, list[float]] = {"ccpbx": [], "panoramisk": []}
        cpu_rates: dict[str, list[float]] = {"ccpbx": [], "panoramisk": []}
        for rnd in range(args.rounds):
            for name, runner in (("ccpbx", run_ccpbx), ("panoramisk", run_panoramisk)):
                elapsed, extra = asyncio.run(runner(port))
                rate = n_events / elapsed
                rates[name].append(rate)
                cpu = float(str(extra["cpu_s"]))
                cpu_rates[name].append(n_events / cpu if cpu else float("nan"))
                info = " ".join(f"{k}={v}" for k, v in extra.items())
                print(
                    f"round {rnd + 1} {name:>10}: {rate:>9,.0f} events/s wall"
                    f" ({elapsed:.2f} s), {cpu_rates[name][-1]:>9,.0f} events per CPU-second;"
                    f" {info}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.join()
    for label, table in (("wall-clock events/s", rates), ("events per CPU-second", cpu_rates)):
        ours = statistics.median(table["ccpbx"])
        theirs = statistics.median(table["panoramisk"])
        print(
            f"median {label}: ccpbx AmiClient+ChannelView {ours:,.0f},"
            f" bare panoramisk {theirs:,.0f}, ratio {ours / theirs:.2f}"
        )
        if table is rates:
            check("AMI events parsed and applied per second", ours, ">=", 50_000, "events/s")
            check("AMI speed vs bare panoramisk", ours / theirs, ">=", 1.0, "x")
    print(f"python {sys.version.split()[0]}; client in one process (one core), server in another")


if __name__ == "__main__":
    main()
