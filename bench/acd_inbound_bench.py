"""Inbound capacity on the real sandbox: IVR -> ACD queue -> agent, beside a plain dialplan.

One sandbox Asterisk; ``--agents`` desk phones (2001...) register with digest auth,
all answered by one SIPp process. SIPp callers come in through the carrier trunk at
a fixed rate for ``--seconds`` per step; each caller hangs up ``--hold-ms`` after
being answered. Rates rise step by step (``--rates``) until a step fails.

- ccpbx path: DID 8100 -> FastAGI IVR (flow version looked up and the call recorded in
  PostgreSQL; plays ``beep``) -> queue node -> ``queue`` script -> music on hold ->
  the ACD puts the caller through to a free persistent agent (redirect into the
  agent's conference). A call passes when SIPp saw no error and the ACD answered it.
- plain path (no ccpbx): extension 9999 added to the same Asterisk's dialplan:
  ``Answer(); Playback(beep); Dial(PJSIP/<random agent>)``. A call passes when SIPp saw
  no error (a hang-up by the PBX before the caller's BYE is an error).

Printed per step: calls, failures, ACD answer count and wait p50/p99; then the highest
rate with no failure for each path, and their ratio.

    .venv/bin/python bench/acd_inbound_bench.py [--agents 60] [--rates 5,10,20,40]
        [--seconds 8] [--hold-ms 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from targets import check

from ccpbx import logs
from ccpbx.acd import AgentMode, Membership, QueueConfig
from ccpbx.daemon import Daemon
from ccpbx.ivr import store as ivr_store
from ccpbx.queues import AgentRecord, QueueSpec
from ccpbx.queues import store as acd_store
from ccpbx.sandbox import postgres
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone, free_udp_port
from ccpbx.sandbox.phones import _REGISTER, SippPhone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import run_sipp
from ccpbx.sandbox.stack import daemon_config
from ccpbx.store.migrate import migrate

DID, PLAIN = "8100", "9999"
FLOW = f"""
flow: acdbench
dids: ["{DID}"]
languages: [en]
sound_languages: [en]
start: hello
prompts: {{beep: beep}}
nodes:
  hello: {{kind: play, prompts: [beep], next: line}}
  line:
    kind: queue
    queue: bench
    target: "ccpbx-queue-enter,s,1"
"""

CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench caller">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bench" <sip:15550100@[local_ip]:[local_port]>;tag=[pid]b[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:15550100@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:15550100@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:15550100@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""

REGISTER_ALL = _REGISTER.replace("{user}", "[field0]").replace("{password}", "[field1]")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def register_all(asterisk: AsteriskInstance, phones: list[Phone], contact_port: int) -> None:
    """Register every phone's AOR on one contact (the shared answering SIPp)."""
    inside = f"{asterisk.inside}/sipp"
    workdir = asterisk.runtime.host_path(inside)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench-users.csv").write_text(
        "SEQUENTIAL\n" + "".join(f"{p.name};{p.password}\n" for p in phones)
    )
    xml = REGISTER_ALL.format(contact_port=contact_port, expires=3600)
    (workdir / "bench-register.xml").write_text(xml)
    argv = [
        "sipp", f"127.0.0.1:{asterisk.settings.sip_port}", "-sf", f"{inside}/bench-register.xml",
        "-inf", f"{inside}/bench-users.csv", "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-m", str(len(phones)), "-r", "50", "-nostdin", "-timeout", "60s", "-timeout_error",
    ]  # fmt: skip
    cmd = asterisk.runtime.command(["sh", "-c", f'cd {inside} && exec "$@"', "sipp", *argv])
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"registration failed:\n{result.stdout[-2000:]}")


def sipp_counts(stdout: str) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's final screen."""

    def last(label: str) -> int:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", stdout)
        return int(found[-1]) if found else 0

    return last("Successful call"), last("Failed call")


async def step(
    asterisk: AsteriskInstance,
    daemon: Daemon,
    service: str,
    rate: int,
    seconds: float,
    hold_ms: int,
    answered: list[dict[str, Any]],
    kinds: dict[str, int],
    verbose: bool,
) -> dict[str, Any]:
    calls = int(rate * seconds)
    before = len(answered)
    kinds_before = dict(kinds)
    cpu = time.process_time()
    started = time.monotonic()
    result = await asyncio.to_thread(
        run_sipp,
        asterisk,
        CALLER.format(hold_ms=hold_ms),
        service=service,
        calls=calls,
        rate=rate,
        limit=calls,
        timeout_s=seconds + hold_ms / 1000 + 60,
    )
    elapsed = time.monotonic() - started
    cpu_ms = (time.process_time() - cpu) * 1000
    ok, failed = sipp_counts(result.stdout)
    failed = max(failed, calls - ok)
    waits = [float(e.get("wait_s", 0.0)) * 1000 for e in answered[before:]]
    out: dict[str, Any] = {
        "rate": rate, "calls": calls, "ok": ok, "failed": failed, "seconds": round(elapsed, 1),
    }  # fmt: skip
    if service == DID:
        for kind in ("call_enqueued", "call_abandoned"):
            out[kind.removeprefix("call_")] = kinds.get(kind, 0) - kinds_before.get(kind, 0)
        out["acd_answered"] = len(waits)
        out["ccpbx_cpu_ms_per_call"] = round(cpu_ms / max(1, calls), 2)
        out["wait_p50_ms"] = round(statistics.median(waits), 1) if waits else None
        out["wait_p99_ms"] = round(pct(waits, 0.99), 1) if waits else None
        out["passed"] = failed == 0 and len(waits) >= calls
    else:
        out["passed"] = failed == 0
    if not out["passed"] and verbose:
        print(result.stdout[-2500:], result.errors[-2000:], sep="\n")
        log = (asterisk.log_dir / "messages.log").read_text(errors="replace").splitlines()
        print("\n".join(log[-40:]))
    await asyncio.sleep(hold_ms / 1000 + 2)  # let the last calls end
    return out


async def run(args: argparse.Namespace) -> None:
    agents = [str(n) for n in range(2001, 2001 + args.agents)]
    phones = [Phone(a, f"pw-bench-{a}", rewrite_contact=False) for a in agents]
    asterisk = AsteriskInstance(
        ensure_runtime(), f"bench-acd-{int(time.time())}", AsteriskSettings(phones=phones)
    )
    asterisk.start()
    answering = SippPhone(asterisk, phones[0], answer_after_ms=50)
    server_url = postgres.configured_url()
    if not await postgres.reachable(server_url):
        raise SystemExit(f"PostgreSQL not reachable at {server_url} (set DATABASE_URL)")
    url = await postgres.create_database(server_url, prefix="ccpbx_acdbench")
    daemon: Daemon | None = None
    try:
        answering.start()
        register_all(asterisk, phones[1:], answering.port)
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            from ccpbx.ivr.validate import check_text

            checked = check_text(FLOW)
            assert checked.flow is not None, checked
            await ivr_store.activate(conn, checked.flow, FLOW)
            for agent in agents:
                record = AgentRecord(
                    agent, mode=AgentMode.PERSISTENT, queues={"bench": Membership()}
                )
                await acd_store.save_agent(conn, record)
        finally:
            await conn.close()
        plain = [
            "1,Answer()",
            "2,Playback(beep)",
            # Agents in turn, from the channel's sequence number (func_rand is not loaded).
            "3,Set(SEQ=${UNIQUEID})",
            # MATH takes one operator at a time. Dial option I: no connected-line update
            # re-INVITE to the caller (the scripted caller would take it as an error).
            f"4,Dial(PJSIP/${{MATH(${{MATH(${{CUT(SEQ,.,2)}}%{args.agents},int)}}+2001,int)}},10,I)",
            "5,Hangup()",
        ]
        for line in plain:
            asterisk.cli(f"dialplan add extension {PLAIN},{line} into ccpbx-inbound")

        daemon = Daemon(daemon_config(asterisk, url, log_format="console"))
        await daemon.start()
        await daemon.ami.wait_ready(15)
        await daemon.acd.wait_ready(30)
        await daemon.acd.configure_queue(
            QueueSpec(QueueConfig("bench", wrapup_s=0.0), {}, record=False)
        )
        for i in range(0, len(agents), 10):
            await asyncio.gather(*(daemon.acd.login(a, a) for a in agents[i : i + 10]))
        print(f"{len(agents)} persistent agents connected", flush=True)

        answered: list[dict[str, Any]] = []
        kinds: dict[str, int] = {}
        feed = daemon.acd.subscribe()

        async def collect() -> None:
            async for item in feed:
                kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
                if item["kind"] == "call_answered":
                    answered.append(item)

        collector = asyncio.create_task(collect())
        best: dict[str, int] = {}
        cpu_at_best = float("nan")
        # ccpbx first: the SIPp phones send no RTP, and the endpoints' rtp_timeout (120 s)
        # ends the agents' persistent legs after two minutes.
        paths = [("ccpbx", DID), ("plain", PLAIN)]
        for name, service in [p for p in paths if p[0] in args.paths]:
            for rate in args.rates:
                row = await step(
                    asterisk,
                    daemon,
                    service,
                    rate,
                    args.seconds,
                    args.hold_ms,
                    answered,
                    kinds,
                    args.verbose,
                )
                print(f"{name:6s} {row}", flush=True)
                if not row["passed"]:
                    break
                best[name] = rate
                if "ccpbx_cpu_ms_per_call" in row:
                    cpu_at_best = float(row["ccpbx_cpu_ms_per_call"])
        feed.close()
        await collector
        p, c = best.get("plain", 0), best.get("ccpbx", 0)
        print(
            f"\nhighest rate with no failure: plain dialplan {p} calls/s, "
            f"IVR -> queue -> agent (ccpbx) {c} calls/s; ratio ccpbx/plain "
            f"{(c / p) if p else float('nan'):.2f} (steps {args.rates}, {args.seconds} s each, "
            f"caller holds {args.hold_ms} ms, {args.agents} agents)"
        )
        if "ccpbx" in args.paths:
            check(f"ccpbx CPU per inbound call (at {c} calls/s)", cpu_at_best, "<=", 2, "ms")
        if "plain" in args.paths and "ccpbx" in args.paths:
            check(
                "inbound calls/s through ccpbx vs the plain dialplan",
                c / p if p else float("nan"),
                ">=",
                1.0,
                "x",
            )
    finally:
        if daemon is not None:
            await daemon.stop()
        answering.stop()
        asterisk.stop()
        asterisk.remove()
        await postgres.drop_database(server_url, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument(
        "--rates", type=lambda s: [int(x) for x in s.split(",")], default=[5, 10, 20, 40]
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--hold-ms", type=int, default=2000)
    parser.add_argument("--paths", default="plain,ccpbx", help="which paths to measure")
    parser.add_argument("--verbose", action="store_true", help="show SIPp and Asterisk on failure")
    args = parser.parse_args()
    logs.configure("info" if args.verbose else "warning", "console")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
