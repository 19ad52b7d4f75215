"""SIPp playing an agent's SIP desk phone: REGISTER with digest auth, then answer calls.

SIPp cannot take a new incoming call inside a client scenario, so a phone is two
SIPp processes: a registrar client that registers the phone's contact (with
digest authentication) and a server that answers every INVITE on that contact
and stays in the call until the PBX hangs up, sending silence the whole time as a real
phone does (Asterisk hangs up a phone whose media stops for ``rtp_timeout``). The
server logs one line per INVITE, so a test can count how many times the phone rang.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ccpbx.sandbox.asterisk import AsteriskInstance, Phone, free_udp_port
from ccpbx.sandbox.phone_features import (
    DIALOG_CAPTURE,
    answer_reinvite,
    attended_transfer,
    blind_transfer,
    hold_and_resume,
)
from ccpbx.sandbox.rtp import media_pcap
from ccpbx.sandbox.sipp import sdp_offer, server_argv

_counter = itertools.count(1)
MEDIA_LOOP_MS = 20_000
"""Length of the silence the phone plays in a loop while in a call."""

_REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx phone registration">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@127.0.0.1:{contact_port}>
      Expires: {expires}
      Max-Forwards: 70
      User-Agent: ccpbx-test-phone
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{user}@127.0.0.1:{contact_port}>
      Expires: {expires}
      [authentication username={user} password={password}]
      Max-Forwards: 70
      User-Agent: ccpbx-test-phone
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""

_ANSWER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx phone answering">
  <recv request="INVITE" crlf="true"{capture}
  <nop><action><log message="INVITE [call_id]"/></action></nop>{log_capture}
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]ph[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
  ]]></send>
  <pause milliseconds="{answer_after_ms}"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]ph[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}  ]]></send>
  <recv request="ACK" crlf="true"/>{in_call}
  <label id="media"/>
  <nop><action><exec play_pcap_audio="{silence_pcap}"/></action></nop>{reinvite_wait}
  <recv request="BYE" timeout="{media_ms}" ontimeout="media"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>{after}
</scenario>
"""


_HEADER_MARK = "HEADER "


def _ereg(headers: tuple[str, ...]) -> str:
    """SIPp actions that keep each of ``headers`` of the message received."""
    out = []
    for n, header in enumerate(headers):
        if not header.replace("-", "").isalnum():
            raise ValueError(f"not a SIP header name: {header!r}")
        out.append(
            f'<ereg regexp=".*" search_in="hdr" header="{header}:" check_it="false" '
            f'assign_to="hdr{n}"/>'
        )
    return "".join(out)


def _actions(actions: str) -> str:
    """The end of the INVITE's ``recv`` element, with ``actions`` if any."""
    return f"><action>{actions}</action></recv>" if actions else "/>"


def _capture(headers: tuple[str, ...]) -> str:
    """The INVITE's ``recv`` actions that keep each of ``headers``."""
    return _actions(_ereg(headers))


def _log_capture(headers: tuple[str, ...]) -> str:
    """A SIPp step that logs each kept header, one line each (``HEADER name: value``;
    the value is empty when the INVITE had no such header)."""
    logs = "".join(
        f'<log message="{_HEADER_MARK}{header}: [$hdr{n}]"/>' for n, header in enumerate(headers)
    )
    return f"\n  <nop><action>{logs}</action></nop>" if logs else ""


@dataclass
class SippPhone:
    """A registered test phone; ``stop()`` ends it."""

    asterisk: AsteriskInstance
    phone: Phone
    answer_after_ms: int = 200
    port: int = field(default_factory=free_udp_port)
    process: subprocess.Popen[bytes] | None = None
    name: str = field(default_factory=lambda: f"phone-{next(_counter)}")
    capture: tuple[str, ...] = ()
    """Headers of each INVITE to write to the phone's log (see :meth:`headers`)."""
    reinvites: bool = False
    """Answer the PBX's re-INVITEs in a call (connected-line updates), as phones do."""
    transfer_to: str = ""
    """Blind-transfer each call answered to this extension (REFER) after
    ``transfer_after_ms``, instead of staying in it."""
    transfer_after_ms: int = 1000
    attended: bool = False
    """Make the transfer attended: call ``transfer_to`` first (a consult call), then
    REFER with Replaces naming that call."""
    hold_after_ms: int = 0
    """Put each call answered on hold (re-INVITE, ``a=sendonly``) this long after the
    answer, for ``hold_ms``, then take it off hold and stay in it (0: never)."""
    hold_ms: int = 3000

    @property
    def _workdir_inside(self) -> str:
        return f"{self.asterisk.inside}/sipp"

    @property
    def _workdir(self) -> Path:
        return self.asterisk.runtime.host_path(self._workdir_inside)

    def _sipp(self, *argv: str) -> list[str]:
        inside = self._workdir_inside
        cmd = ["sh", "-c", f'cd {inside} && exec "$@"', "sipp", "sipp", *argv]
        return self.asterisk.runtime.command(cmd)

    def start(self, timeout_s: float = 20.0) -> None:
        """Start answering on the phone's contact, then register it."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        user, password = self.phone.name, self.phone.password
        answer = self._workdir / f"{self.name}-answer.xml"
        silence = self._workdir / f"{self.name}-silence.pcap"
        silence.write_bytes(media_pcap([(MEDIA_LOOP_MS, False)]))
        answer.write_text(
            _ANSWER.format(
                user=user,
                answer_after_ms=self.answer_after_ms,
                sdp=sdp_offer("phone"),
                silence_pcap=f"{self._workdir_inside}/{silence.name}",
                media_ms=MEDIA_LOOP_MS,
                **self._features(sdp_offer("phone")),
            )
        )
        # A transfer's progress NOTIFYs can arrive back to back, faster than the scenario
        # steps through them: SIPp answers those itself (200 OK), as a phone does.
        extra = ["-aa"] if self.transfer_to else []
        register = self._workdir / f"{self.name}-register.xml"
        register.write_text(
            _REGISTER.format(user=user, password=password, contact_port=self.port, expires=3600)
        )
        self.process = subprocess.Popen(
            self._sipp(
                *server_argv(self._workdir_inside, answer.name, self.port, self.name, *extra)
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        result = subprocess.run(
            self._sipp(
                f"127.0.0.1:{self.asterisk.settings.sip_port}",
                "-sf",
                f"{self._workdir_inside}/{register.name}",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_udp_port()),
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                f"{int(timeout_s)}s",
                "-timeout_error",
            ),
            capture_output=True,
            text=True,
            timeout=timeout_s + 10,
            check=False,
        )
        if result.returncode != 0:
            self.stop()
            raise RuntimeError(f"phone {user} failed to register:\n{result.stdout[-2000:]}")

    def invites(self) -> int:
        """How many INVITEs (calls offered) this phone received."""
        log = self._workdir / f"{self.name}.log"
        if not log.exists():
            return 0
        return sum(1 for line in log.read_text(errors="replace").splitlines() if "INVITE " in line)

    def _features(self, sdp: str) -> dict[str, str]:
        """The answering scenario's optional parts (all empty for a plain phone)."""
        user = self.phone.name
        parts = {
            "capture": _capture(self.capture),
            "log_capture": _log_capture(self.capture),
            "in_call": "",
            "reinvite_wait": "",
            "after": "",
        }
        if self.transfer_to:
            if not self.transfer_to.replace("+", "").isalnum():
                raise ValueError(f"not an extension: {self.transfer_to!r}")
            parts["capture"] = _actions(DIALOG_CAPTURE + _ereg(self.capture))
            if self.attended:
                transfer = attended_transfer(
                    user,
                    self.phone.password,
                    self.transfer_to,
                    self.asterisk.settings.sip_port,
                    sdp,
                    self.transfer_after_ms,
                )
            else:
                transfer = blind_transfer(user, self.transfer_to, sdp, self.transfer_after_ms)
            parts["in_call"] = f'\n{transfer}\n  <nop next="phone_end"/>'
            parts["after"] = '\n  <label id="phone_end"/>'
            return parts
        if self.hold_after_ms:
            parts["capture"] = _actions(DIALOG_CAPTURE + _ereg(self.capture))
            hold = hold_and_resume(user, sdp, self.hold_after_ms, self.hold_ms)
            parts["in_call"] = f"\n{hold}"
        if self.reinvites:
            parts["reinvite_wait"] = (
                '\n  <recv request="INVITE" optional="true" next="phone_reinvite"/>'
            )
            reinvite = answer_reinvite(user, sdp, "phone_reinvite", "media")
            parts["after"] = f'\n  <nop next="phone_end"/>\n{reinvite}\n  <label id="phone_end"/>'
        return parts

    def log_lines(self, prefix: str) -> list[str]:
        """Lines of the phone's log that start with ``prefix`` (``REFER``, ``NOTIFY``, ...)."""
        log = self._workdir / f"{self.name}.log"
        if not log.exists():
            return []
        return [
            line for line in log.read_text(errors="replace").splitlines() if line.startswith(prefix)
        ]

    def headers(self) -> list[dict[str, str]]:
        """The ``capture`` headers of each INVITE this phone received, in order
        (a header the INVITE lacked is absent)."""
        log = self._workdir / f"{self.name}.log"
        if not log.exists():
            return []
        seen: list[dict[str, str]] = []
        for line in log.read_text(errors="replace").splitlines():
            if "INVITE " in line:
                seen.append({})
            elif line.startswith(_HEADER_MARK) and seen:
                header, _, value = line.removeprefix(_HEADER_MARK).partition(": ")
                if value:
                    seen[-1][header] = value
        return seen

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        time.sleep(0)
