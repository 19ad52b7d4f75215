"""SIPp playing the carrier an outbound campaign dials through: it plays the customers.

Asterisk's ``[carrier]`` trunk points at 127.0.0.1:``carrier_port``; a SIPp server
there answers every INVITE. What happens to a call is decided by the last two
digits NN of the called number, so a test knows each contact's outcome in advance:

    NN < answer_pct                              -> "answer": 180, 200 after
                                                    answer_delay_s, a person says a
                                                    short hello then is silent, BYE
                                                    after talk_s unless Asterisk's BYE
                                                    comes first
    ... next busy_pct                            -> "busy": 486 Busy Here
    ... next congestion_pct                      -> "congestion": 503 Service Unavailable
    ... next machine_pct (default 0)             -> "machine": answered like "answer", but
                                                    a long greeting then silence (an
                                                    answering machine for AMD)
    the rest                                     -> "no_answer": 180 until Asterisk
                                                    CANCELs (200, 487, ACK)

The same rule is written twice: in Python (:meth:`Carrier.behaviour_of`) and in the
SIPp scenario (regular expression and tests on the Request-URI); the scenario logs
what it chose, so a test can check that both agree.

While talking, the carrier accepts re-INVITEs (Asterisk sends one when it bridges the
call; the talk time then starts again) and answers INFO, NOTIFY, OPTIONS and UPDATE.
Answered calls send PCMU RTP: a person says hello for 0.6 s, a machine speaks for
3.5 s, then both stay silent (so AMD tells them apart).

SIPp logs lines ``ccpbx-carrier <kind> <ms on SIPp's clock> ...``: ``from <Call-ID>
<From URI> <its user>``, ``invite <number> <behaviour> <Call-ID>``, ``answered
<Call-ID>``, ``reinvite <Call-ID>`` and ``end <Call-ID> <how>``; :meth:`Carrier.log`
parses them into :class:`CarrierCall` records (numbers seen and how often:
:meth:`Carrier.numbers`; a number in two calls at once: :meth:`Carrier.overlaps`; calls
still up: :meth:`Carrier.active`).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.rtp import media_pcap
from ccpbx.sandbox.sipp import sdp_offer, server_argv

BEHAVIOURS = ("answer", "busy", "congestion", "machine", "no_answer")
LOG_TAG = "ccpbx-carrier"
_TRAILING_DIGITS = re.compile(r"[0-9]{2}$")
_counter = itertools.count(1)
_PLANNED_TIMEOUT = re.compile(r"receive timeout on message .*, jumping to label")


def behaviour_of(
    number: str, answer_pct: int, busy_pct: int, congestion_pct: int, machine_pct: int = 0
) -> str:
    """What the carrier does with a call to ``number`` (see module docstring)."""
    match = _TRAILING_DIGITS.search(number)
    if match is None:
        raise ValueError(f"number must end with two digits: {number!r}")
    nn = int(match.group())
    for behaviour, bound in zip(
        BEHAVIOURS[:4], _bounds(answer_pct, busy_pct, congestion_pct, machine_pct), strict=True
    ):
        if nn < bound:
            return behaviour
    return "no_answer"


def _bounds(*pcts: int) -> list[int]:
    return list(itertools.accumulate(pcts))


@dataclass
class CarrierCall:
    """One call the carrier received, from its log. Times are seconds on SIPp's clock
    (comparable with each other within one carrier run)."""

    call_id: str
    number: str
    behaviour: str
    invited_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    end: str | None = None
    """How it ended: "bye_received" (Asterisk hung up), "bye_sent" (the customer did),
    "cancelled" (Asterisk gave up ringing), "rejected" (busy/congestion, ACK received),
    "ring_limit" (nobody cancelled: 480 after the carrier's own ring limit)."""
    caller: str = ""
    """The user of the INVITE's From (the caller ID Asterisk sent)."""
    reinvites: int = 0
    """re-INVITEs accepted while talking (Asterisk sends them when it bridges the call)."""

    def overlaps(self, other: CarrierCall) -> bool:
        """Both calls were up at the same moment (an unfinished call lasts forever)."""
        end_self = self.ended_at if self.ended_at is not None else float("inf")
        end_other = other.ended_at if other.ended_at is not None else float("inf")
        return self.invited_at < end_other and other.invited_at < end_self


@dataclass
class Carrier:
    """The SIPp carrier on the sandbox's carrier port (see module docstring).

    ``start()``/``stop()`` or ``with Carrier(asterisk, ...) as carrier:``.
    """

    asterisk: AsteriskInstance
    answer_pct: int = 50
    busy_pct: int = 20
    congestion_pct: int = 10
    machine_pct: int = 0
    answer_delay_s: float = 0.5
    talk_s: float = 5.0
    ring_limit_s: float = 120.0
    process: subprocess.Popen[bytes] | None = None
    name: str = field(default_factory=lambda: f"carrier-{next(_counter)}")

    def __post_init__(self) -> None:
        pcts = (self.answer_pct, self.busy_pct, self.congestion_pct, self.machine_pct)
        if any(p < 0 for p in pcts) or sum(pcts) > 100:
            raise ValueError(f"percentages must be >= 0 and add up to at most 100: {pcts}")
        if self.answer_delay_s < 0 or self.talk_s <= 0 or self.ring_limit_s <= 0:
            raise ValueError("answer_delay_s must be >= 0, talk_s and ring_limit_s > 0")

    # -- the rule ------------------------------------------------------------------
    def behaviour_of(self, number: str) -> str:
        """ "answer" | "busy" | "congestion" | "machine" | "no_answer" for ``number``."""
        return behaviour_of(
            number, self.answer_pct, self.busy_pct, self.congestion_pct, self.machine_pct
        )

    # -- paths -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.asterisk.settings.carrier_port

    @property
    def _inside(self) -> str:
        return f"{self.asterisk.inside}/sipp"

    def _host(self, name: str) -> Path:
        return self.asterisk.runtime.host_path(f"{self._inside}/{name}")

    @property
    def log_path(self) -> Path:
        return self._host(f"{self.name}.log")

    @property
    def errors_path(self) -> Path:
        return self._host(f"{self.name}.errors.log")

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Write the scenario and media, start SIPp and wait until it listens on the
        carrier port."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        self._host("").mkdir(parents=True, exist_ok=True)
        talk_ms = int(self.talk_s * 1000)
        person = f"{self.name}-person.pcap"
        machine = f"{self.name}-machine.pcap"
        self._host(person).write_bytes(media_pcap([(600, True), (talk_ms + 1000, False)]))
        self._host(machine).write_bytes(media_pcap([(3500, True), (talk_ms + 1000, False)]))
        scenario = carrier_scenario(
            bounds=_bounds(self.answer_pct, self.busy_pct, self.congestion_pct, self.machine_pct),
            answer_delay_ms=int(self.answer_delay_s * 1000),
            talk_ms=talk_ms,
            ring_limit_ms=int(self.ring_limit_s * 1000),
            person_pcap=f"{self._inside}/{person}",
            machine_pcap=f"{self._inside}/{machine}",
        )
        self._host(f"{self.name}.xml").write_text(scenario)
        for path in (self.log_path, self.errors_path):
            path.unlink(missing_ok=True)
        # -aa: 200 OK to INFO, NOTIFY, OPTIONS and UPDATE at any time.
        argv = ["sipp", *server_argv(self._inside, f"{self.name}.xml", self.port, self.name, "-aa")]
        cmd = ["sh", "-c", f'cd {self._inside} && exec "$@"', "sipp", *argv]
        self.process = subprocess.Popen(
            self.asterisk.runtime.command(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_listening(timeout_s)

    def _wait_listening(self, timeout_s: float) -> None:
        """Return once SIPp holds the carrier port; fail (with SIPp's errors) if it
        exits first, e.g. on a scenario it refuses."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"carrier SIPp exited with {self.process.returncode} at start:"
                    f" {self.errors()[-2000:]}"
                )
            if self.process is not None and udp_port_bound(self.port, self.process.pid):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"carrier SIPp did not listen on port {self.port} in {timeout_s} s")

    def stop(self) -> None:
        """End SIPp (calls still up are left to Asterisk to time out or hang up)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Carrier:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what happened ---------------------------------------------------------------------
    def log(self) -> list[CarrierCall]:
        """Every call received so far, in order of arrival."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return parse_log(text)

    def numbers(self) -> Counter[str]:
        """How many calls each number received."""
        return Counter(call.number for call in self.log())

    def active(self) -> list[CarrierCall]:
        """Calls not ended yet (ringing, talking, or waiting for an ACK)."""
        return [call for call in self.log() if call.ended_at is None]

    def overlaps(self) -> list[tuple[CarrierCall, CarrierCall]]:
        """Pairs of calls to the same number that were up at the same moment."""
        by_number: dict[str, list[CarrierCall]] = {}
        for call in self.log():
            by_number.setdefault(call.number, []).append(call)
        return [
            (a, b)
            for calls in by_number.values()
            for a, b in itertools.combinations(calls, 2)
            if a.overlaps(b)
        ]

    def errors(self) -> str:
        """SIPp's error log as it is (it also notes every planned receive timeout)."""
        return self.errors_path.read_text(errors="replace") if self.errors_path.exists() else ""

    def problems(self) -> list[str]:
        """Lines of SIPp's error log that are real problems (unexpected messages, aborted
        calls): not its header, nor the receive timeouts the scenario uses on purpose."""
        return [
            line
            for line in self.errors().splitlines()
            if line.strip()
            and line.strip() != "The following events occurred:"
            and not _PLANNED_TIMEOUT.search(line)
        ]


def udp_port_bound(port: int, pid: int, proc: Path = Path("/proc")) -> bool:
    """Process ``pid`` holds a socket bound to UDP ``port`` (127.0.0.1 or any; Linux)."""
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    try:
        rows = [line.split() for line in (proc / "net/udp").read_text().splitlines()[1:]]
        inodes = {f"socket:[{row[9]}]" for row in rows if len(row) > 9 and row[1] in wanted}
        if not inodes:
            return False
        fds = list((proc / str(pid) / "fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in inodes:
                return True
        except OSError:
            continue
    return False


def parse_log(text: str) -> list[CarrierCall]:
    """Parse the carrier's log lines into calls (other lines are ignored)."""
    calls: dict[str, CarrierCall] = {}
    callers: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] != LOG_TAG:
            continue
        kind, at = parts[1], int(parts[2]) / 1000
        if kind == "from":
            callers[parts[3]] = parts[5] if len(parts) > 5 else ""
        elif kind == "invite" and len(parts) == 6:
            number, behaviour, call_id = parts[3], parts[4], parts[5]
            calls[call_id] = CarrierCall(
                call_id, number, behaviour, at, caller=callers.get(call_id, "")
            )
        elif kind == "answered" and parts[3] in calls:
            calls[parts[3]].answered_at = at
        elif kind == "reinvite" and parts[3] in calls:
            calls[parts[3]].reinvites += 1
        elif kind == "end" and len(parts) == 5 and parts[3] in calls:
            calls[parts[3]].ended_at = at
            calls[parts[3]].end = parts[4]
    return list(calls.values())


_REPLY_HEAD = """
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]cr[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
"""


def _reply(status: str, *, retrans: bool = False, body: str = "", next_label: str = "") -> str:
    attrs = ' retrans="500"' if retrans else ""
    attrs += f' next="{next_label}"' if next_label else ""
    content = (
        "Content-Type: application/sdp\n      Content-Length: [len]\n\n" + body
        if body
        else "Content-Length: 0\n"
    )
    return (
        f"  <send{attrs}><![CDATA[\n      SIP/2.0 {status}{_REPLY_HEAD}      {content}  ]]></send>"
    )


def _log(kind: str, *rest: str) -> str:
    words = " ".join((LOG_TAG, kind, "[clock_tick]", *rest))
    return f'  <nop><action><log message="{words}"/></action></nop>'


def carrier_scenario(
    *,
    bounds: list[int],
    answer_delay_ms: int,
    talk_ms: int,
    ring_limit_ms: int,
    person_pcap: str,
    machine_pcap: str,
) -> str:
    """The SIPp server scenario (see module docstring); ``bounds`` are the cumulative
    percentages of answer, busy, congestion and machine."""
    tests = "\n".join(
        f'      <test assign_to="is_{b}" variable="nn" compare="less_than" value="{bound}"/>'
        for b, bound in zip(BEHAVIOURS[:4], bounds, strict=True)
    )
    branches = "\n".join(f'  <nop next="{b}" test="is_{b}"/>' for b in BEHAVIOURS[:4])
    ok_to_bye = """  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>"""
    rejected = []
    for kind, status in (("busy", "486 Busy Here"), ("congestion", "503 Service Unavailable")):
        rejected += [
            f'  <label id="{kind}"/>',
            _log("invite", "[$number]", kind, "[call_id]"),
            _reply(status),
            '  <recv request="ACK" crlf="true"/>',
            _log("end", "[call_id]", "rejected"),
            '  <nop next="done"/>',
            "",
        ]
    answered = []
    for kind, pcap in (("answer", person_pcap), ("machine", machine_pcap)):
        answered += [
            f'  <label id="{kind}"/>',
            _log("invite", "[$number]", kind, "[call_id]"),
            _reply("180 Ringing"),
            f'  <recv request="CANCEL" timeout="{max(1, answer_delay_ms)}"'
            f' ontimeout="{kind}_now" next="cancelled"/>',
            f'  <label id="{kind}_now"/>',
            _reply("200 OK", retrans=True, body=sdp_offer("carrier")),
            '  <recv request="ACK" crlf="true"/>',
            _log("answered", "[call_id]"),
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>',
            '  <nop next="talk"/>',
        ]
    xml = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx carrier">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp="^INVITE sip:([^@;>]*([0-9][0-9]))@" search_in="msg" check_it="true"
            assign_to="request_line,number,nn_text"/>
      <todouble assign_to="nn" variable="nn_text"/>
{tests}
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="remote_from"/>
      <ereg regexp="sip:([^@;>]*)@" search_in="hdr" header="From:" assign_to="from_uri,caller"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="local_to"/>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true"
            assign_to="invite_cseq"/>
    </action>
  </recv>
{_log("request", "[call_id]", "[$request_line]")}
{_log("from", "[call_id]", "[$from_uri]", "[$caller]")}
{branches}

  <!-- no_answer: ring until Asterisk gives up -->
{_log("invite", "[$number]", "no_answer", "[call_id]")}
{_reply("180 Ringing")}
  <recv request="CANCEL" timeout="{ring_limit_ms}" ontimeout="ring_limit" next="cancelled"/>
  <label id="ring_limit"/>
{_reply("480 Temporarily Unavailable")}
  <recv request="ACK" crlf="true"/>
{_log("end", "[call_id]", "ring_limit")}
  <nop next="done"/>

{chr(10).join(rejected)}
{chr(10).join(answered)}

  <label id="talk"/>
  <!-- SIPp takes the timeout of the first of these alternatives: both carry it -->
  <recv request="INVITE" optional="true" next="reinvite"
        timeout="{talk_ms}" ontimeout="hang_up"/>
  <recv request="BYE" timeout="{talk_ms}" ontimeout="hang_up"/>
{ok_to_bye}
{_log("end", "[call_id]", "bye_received")}
  <nop next="done"/>
  <label id="hang_up"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_to];tag=[pid]cr[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
{_log("end", "[call_id]", "bye_sent")}
  <nop next="done"/>

  <!-- a re-INVITE (Asterisk updates the connected line or media when the call is
       bridged): accept it and go on talking (the talk time starts again) -->
  <label id="reinvite"/>
{_log("reinvite", "[call_id]")}
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{sdp_offer("carrier")}  ]]></send>
  <recv request="ACK" crlf="true" next="talk"/>

  <label id="cancelled"/>
{_reply("200 OK")}
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]cr[call_number]
      [last_Call-ID:]
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0
  ]]></send>
  <recv request="ACK" crlf="true"/>
{_log("end", "[call_id]", "cancelled")}

  <label id="done"/>
</scenario>
"""
    return xml
