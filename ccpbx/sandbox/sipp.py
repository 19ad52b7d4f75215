"""SIPp playing customers (and later agent phones and carriers) against the sandbox.

Scenarios are generated from a few parameters so that timings and key presses
can be set per test; each runs in the same runtime (root) as Asterisk.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from ccpbx.sandbox.asterisk import AsteriskInstance, free_udp_port
from ccpbx.sandbox.rtp import DTMF_EVENTS, rfc2833_pcap, speech_pcap

_DTMF_KEYS = frozenset("0123456789*#")
_counter = itertools.count(1)
# SIPp UAC runs in progress (run_sipp blocks a thread each), so they can be stopped.
_running: set[tuple[AsteriskInstance, subprocess.Popen[str]]] = set()
_stopped: weakref.WeakSet[AsteriskInstance] = weakref.WeakSet()
_lock = threading.Lock()
_MEDIA_MARKER = "@ccpbx-media@"


def sdp_offer(origin: str) -> str:
    """The audio offer every test endpoint makes: PCMU plus RFC 2833 events (SIPp keywords)."""
    return (
        "      v=0\n"
        f"      o={origin} 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n"
        "      s=-\n"
        "      c=IN IP[media_ip_type] [media_ip]\n"
        "      t=0 0\n"
        "      m=audio [media_port] RTP/AVP 0 101\n"
        "      a=rtpmap:0 PCMU/8000\n"
        "      a=rtpmap:101 telephone-event/8000\n"
        "      a=fmtp:101 0-15\n"
        "      a=sendrecv\n"
    )


_INVITE = """
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
      User-Agent: ccpbx-test-caller
      Content-Type: application/sdp
      Content-Length: [len]

""" + sdp_offer("caller")

_ACK = """
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
"""

_BYE = """
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
"""

_OK_TO_BYE = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
"""

_OK_TO_REINVITE = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

""" + sdp_offer("caller")


@dataclass(frozen=True)
class Step:
    """One thing the caller does after answer: pause, press a key, or play audio."""

    kind: str  # "pause" | "dtmf" | "talk" | "audio"
    value: str | int

    @staticmethod
    def pause(ms: int) -> Step:
        return Step("pause", ms)

    @staticmethod
    def talk(ms: int) -> Step:
        """The caller speaks for ``ms`` milliseconds (PCMU audio, not silence)."""
        return Step("talk", ms)

    @staticmethod
    def dtmf(digits: str, gap_ms: int = 400) -> list[Step]:
        """Press ``digits`` ``gap_ms`` apart. No pause follows the last key: the PBX may
        hang up at once, and SIPp counts a BYE during a pause as an error."""
        steps: list[Step] = []
        for digit in digits:
            if digit not in _DTMF_KEYS:
                raise ValueError(f"not a DTMF key: {digit!r}")
            steps += [Step("dtmf", digit), Step.pause(gap_ms)]
        return steps[:-1]


def server_argv(workdir: str, scenario: str, port: int, name: str, *extra: str) -> list[str]:
    """SIPp arguments for a server (UAS) on 127.0.0.1:``port`` running ``scenario`` (a file
    in ``workdir``, a path inside the sandbox), logging to ``name``.log and its errors to
    ``name``.errors.log there; ``extra`` options go before the logging ones."""
    return [
        "-sf",
        f"{workdir}/{scenario}",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(free_udp_port()),
        "-nostdin",
        *extra,
        "-trace_logs",
        "-log_file",
        f"{workdir}/{name}.log",
        "-trace_err",
        "-error_file",
        f"{workdir}/{name}.errors.log",
    ]


def caller_scenario(
    caller: str = "15550100",
    name: str = "Test Caller",
    steps: Sequence[Step] = (),
    wait_bye_ms: int = 10_000,
    *,
    accept_reinvites: bool = False,
) -> str:
    """A customer: INVITE, wait for answer, do ``steps``, then wait for the PBX to
    hang up for up to ``wait_bye_ms`` before hanging up itself. With
    ``accept_reinvites``, a re-INVITE while waiting (Asterisk updating the connected
    line once an agent answers) is accepted and the wait goes on."""
    body = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>',
        '<scenario name="ccpbx caller">',
        '  <send retrans="500"><![CDATA['
        + _INVITE.format(caller=escape(caller), name=escape(name))
        + "]]></send>",
        '  <recv response="100" optional="true"/>',
        '  <recv response="180" optional="true"/>',
        '  <recv response="183" optional="true"/>',
        '  <recv response="200" rtd="true"/>',
        f"  <send><![CDATA[{_ACK.format(caller=escape(caller))}]]></send>",
    ]
    for step in steps:
        if step.kind == "pause":
            body.append(f'  <pause milliseconds="{int(step.value)}"/>')
        elif step.kind == "dtmf":
            # run_sipp writes a pcap per press (see ccpbx.sandbox.rtp) in place of the marker.
            marker = f"{_MEDIA_MARKER}dtmf@{step.value}@"
            body.append(f'  <nop><action><exec play_pcap_audio="{marker}"/></action></nop>')
        elif step.kind == "talk":
            marker = f"{_MEDIA_MARKER}talk@{int(step.value)}@"
            body.append(f'  <nop><action><exec play_pcap_audio="{marker}"/></action></nop>')
            body.append(f'  <pause milliseconds="{int(step.value)}"/>')
        elif step.kind == "audio":
            body.append(
                f'  <nop><action><exec play_pcap_audio="{escape(str(step.value))}"/></action></nop>'
            )
        else:
            raise ValueError(f"unknown step kind {step.kind!r}")
    wait = f'timeout="{int(wait_bye_ms)}" ontimeout="hangup"'
    body.append('  <label id="wait_bye"/>')
    if accept_reinvites:
        # SIPp takes the timeout of the first of these alternatives: both carry it.
        body.append(f'  <recv request="INVITE" optional="true" next="reinvite" {wait}/>')
    body += [
        f'  <recv request="BYE" {wait}/>',
        f"  <send><![CDATA[{_OK_TO_BYE}]]></send>",
        '  <nop next="done"/>',
    ]
    if accept_reinvites:
        body += [
            '  <label id="reinvite"/>',
            f"  <send><![CDATA[{_OK_TO_REINVITE}]]></send>",
            '  <recv request="ACK" crlf="true" next="wait_bye"/>',
        ]
    body += [
        '  <label id="hangup"/>',
        f'  <send retrans="500"><![CDATA[{_BYE.format(caller=escape(caller))}]]></send>',
        '  <recv response="200"/>',
        '  <label id="done"/>',
        '  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000"/>',
        "</scenario>",
    ]
    return "\n".join(body) + "\n"


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_sipp(
    asterisk: AsteriskInstance,
    scenario_xml: str,
    *,
    service: str,
    calls: int = 1,
    rate: float = 1.0,
    limit: int | None = None,
    timeout_s: float = 60.0,
    extra: Sequence[str] = (),
) -> SippResult:
    """Run one SIPp UAC scenario against the sandbox Asterisk; wait for it to end."""
    name = f"sipp-{next(_counter)}"
    workdir_inside = f"{asterisk.inside}/sipp"
    workdir = asterisk.runtime.host_path(workdir_inside)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.xml").write_text(_write_media(scenario_xml, workdir, workdir_inside, name))
    media = free_udp_port()
    argv = [
        "sipp",
        f"127.0.0.1:{asterisk.settings.sip_port}",
        "-sf",
        f"{workdir_inside}/{name}.xml",
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_udp_port()),
        "-mp",
        str(media),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit or calls),
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        f"{workdir_inside}/{name}.errors.log",
        *extra,
    ]
    with _lock:
        if asterisk in _stopped:
            return SippResult(-9, "", "", "SIPp not started: its Asterisk is being stopped")
        proc = subprocess.Popen(
            asterisk.runtime.command(
                ["sh", "-c", f'cd {workdir_inside} && exec "$@"', "sipp", *argv]
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # SIPp echoes stray datagrams it discards (an RTCP packet on its SIP port).
            errors="replace",
        )
        _running.add((asterisk, proc))
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        finally:
            _running.discard((asterisk, proc))
    errors_path = workdir / f"{name}.errors.log"
    errors = errors_path.read_text(errors="replace") if errors_path.exists() else ""
    return SippResult(proc.returncode, stdout, stderr, errors)


def stop_sipp(asterisk: AsteriskInstance) -> int:
    """Kill the SIPp scenarios still running against ``asterisk`` (an interrupted demo
    or test) and start no more against it; their ``run_sipp`` calls then return.
    Returns how many were running."""
    with _lock:
        _stopped.add(asterisk)
        procs = [proc for owner, proc in _running if owner is asterisk]
    for proc in procs:
        proc.kill()
    return len(procs)


def _write_media(scenario_xml: str, workdir: Path, inside: str, name: str) -> str:
    """Replace each media marker (a key press, a stretch of talk) with a pcap of its own
    whose RTP sequence numbers and timestamps grow through the call."""

    parts = scenario_xml.split(_MEDIA_MARKER)
    out = [parts[0]]
    for index, part in enumerate(parts[1:], start=1):
        kind, value, rest = part.split("@", 2)
        if kind == "dtmf":
            event = DTMF_EVENTS[value]
            pcap, data = f"{name}-key{index}-{event}.pcap", rfc2833_pcap(event, index)
        else:
            pcap, data = f"{name}-talk{index}.pcap", speech_pcap(int(value), index)
        (workdir / pcap).write_bytes(data)
        out.append(f"{inside}/{pcap}{rest}")
    return "".join(out)


def scenario_path(asterisk: AsteriskInstance, name: str) -> Path:
    return asterisk.runtime.host_path(f"{asterisk.inside}/sipp/{name}")
