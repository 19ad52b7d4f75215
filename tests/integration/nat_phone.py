"""A SIP phone on one UDP socket, as a real desk phone behind a home router is: it
registers (digest), answers one INVITE from the same socket, sends PCMU and counts the
RTP it gets back, until the PBX hangs up. Run inside a network namespace:

    python nat_phone.py PBX_HOST PBX_PORT USER PASSWORD REALM LOCAL_IP

It prints ``registered`` once the REGISTER is accepted, then one JSON line with what
happened in the call. (SIPp cannot register and take a call on one socket, and behind
a NAT the PBX can reach only the socket that registered.)
"""

from __future__ import annotations

import hashlib
import json
import re
import select
import socket
import struct
import sys
import time
import uuid

SIP_PORT = 5060
MEDIA_PORT = 40000


def digest_authorization(user: str, password: str, method: str, uri: str, challenge: str) -> str:
    """The Authorization value answering a ``Digest ...`` challenge (MD5, qop=auth if asked)."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge.split(" ", 1)[1]))
    ha1 = hashlib.md5(f"{user}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    nc, cnonce = "00000001", uuid.uuid4().hex[:16]
    if "qop" in fields:
        data = f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}"
    else:
        data = f"{ha1}:{fields['nonce']}:{ha2}"
    header = (
        f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}",'
        f' uri="{uri}", response="{hashlib.md5(data.encode()).hexdigest()}", algorithm=MD5'
    )
    if "opaque" in fields:
        header += f', opaque="{fields["opaque"]}"'
    if "qop" in fields:
        header += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    return header


def _parse(data: bytes) -> tuple[str, list[tuple[str, str]], str]:
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    first, *lines = head.split("\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines)]
    return first, headers, body


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


class Phone:
    def __init__(self, pbx: tuple[str, int], user: str, password: str, realm: str, ip: str):
        self.pbx, self.user, self.password, self.realm, self.ip = pbx, user, password, realm, ip
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((ip, SIP_PORT))
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind((ip, MEDIA_PORT))

    def _recv(self, timeout: float) -> tuple[str, list[tuple[str, str]], str]:
        self.sip.settimeout(timeout)
        data, _ = self.sip.recvfrom(65535)
        return _parse(data)

    def _register_request(self, cseq: int, call_id: str, auth: str = "") -> bytes:
        uri = f"sip:{self.pbx[0]}:{self.pbx[1]}"
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.ip}:{SIP_PORT};branch=z9hG4bK{uuid.uuid4().hex};rport",
            f"From: <sip:{self.user}@{self.realm}>;tag=reg{call_id[:8]}",
            f"To: <sip:{self.user}@{self.realm}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{self.user}@{self.ip}:{SIP_PORT}>",
            "Expires: 600",
            "Max-Forwards: 70",
            "User-Agent: ccpbx-nat-phone",
        ]
        if auth:
            lines.append(f"Authorization: {auth}")
        return "\r\n".join([*lines, "Content-Length: 0", "", ""]).encode()

    def register(self) -> None:
        call_id = uuid.uuid4().hex
        self.sip.sendto(self._register_request(1, call_id), self.pbx)
        status, headers, _ = self._recv(10)
        if not status.startswith("SIP/2.0 401"):
            raise SystemExit(f"REGISTER: expected 401, got {status}")
        uri = f"sip:{self.pbx[0]}:{self.pbx[1]}"
        auth = digest_authorization(
            self.user, self.password, "REGISTER", uri, _header(headers, "www-authenticate")
        )
        self.sip.sendto(self._register_request(2, call_id, auth), self.pbx)
        status, _, _ = self._recv(10)
        if not status.startswith("SIP/2.0 200"):
            raise SystemExit(f"REGISTER: expected 200, got {status}")

    def _reply(
        self, headers: list[tuple[str, str]], status: str, to_tag: str, sdp: str = ""
    ) -> bytes:
        lines = [f"SIP/2.0 {status}"]
        lines += [f"Via: {v}" for k, v in headers if k == "via"]
        to = _header(headers, "to")
        lines += [
            f"From: {_header(headers, 'from')}",
            f"To: {to}" + ("" if "tag=" in to else f";tag={to_tag}"),
            f"Call-ID: {_header(headers, 'call-id')}",
            f"CSeq: {_header(headers, 'cseq')}",
            f"Contact: <sip:{self.user}@{self.ip}:{SIP_PORT}>",
        ]
        if sdp:
            lines.append("Content-Type: application/sdp")
        lines += [f"Content-Length: {len(sdp)}", "", sdp]
        return "\r\n".join(lines).encode()

    def answer_one_call(self, timeout: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            first, headers, body = self._recv(max(0.1, deadline - time.monotonic()))
            if first.startswith("INVITE "):
                break
            if first.startswith("OPTIONS "):
                self.sip.sendto(self._reply(headers, "200 OK", "opt"), self.pbx)
        # The PBX's media address, from its offer.
        conn = re.search(r"^c=IN IP4 (\S+)", body, re.M)
        port = re.search(r"^m=audio (\d+)", body, re.M)
        if not (conn and port):
            raise SystemExit(f"INVITE without an audio offer: {body!r}")
        remote = (conn.group(1), int(port.group(1)))
        invite_headers = "\n".join(f"{k}: {v}" for k, v in headers)
        invite_contact = _header(headers, "contact")
        sdp = "\r\n".join(
            [
                "v=0",
                f"o=phone 1 1 IN IP4 {self.ip}",
                "s=-",
                f"c=IN IP4 {self.ip}",  # behind the NAT: an address the PBX cannot reach
                "t=0 0",
                f"m=audio {MEDIA_PORT} RTP/AVP 0",
                "a=rtpmap:0 PCMU/8000",
                "a=sendrecv",
                "",
            ]
        )
        ok = self._reply(headers, "200 OK", "ph1", sdp)
        self.sip.sendto(ok, self.pbx)
        seq, stamp, ssrc = 1, 0, 0x1234ABCD
        sent = received = 0
        sources: set[str] = set()
        next_packet = time.monotonic()
        acked = False
        last_ok = time.monotonic()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.sip, self.media], [], [], 0.005)
            if self.media in ready:
                data, source = self.media.recvfrom(2048)
                if len(data) >= 12 and data[0] >> 6 == 2:
                    received += 1
                    sources.add(f"{source[0]}:{source[1]}")
            if self.sip in ready:
                first, h, _ = _parse(self.sip.recvfrom(65535)[0])
                if first.startswith("ACK "):
                    acked = True
                elif first.startswith("BYE "):
                    self.sip.sendto(self._reply(h, "200 OK", "ph1"), self.pbx)
                    return {
                        "acked": acked,
                        "offer": remote[0],
                        "invite_contact": invite_contact,
                        "invite_headers": invite_headers,
                        "rtp_sent": sent,
                        "rtp_received": received,
                        "rtp_sources": sorted(sources),
                    }
                elif first.startswith("INVITE "):
                    self.sip.sendto(ok, self.pbx)  # a retransmission: our 200 was lost
            if not acked and time.monotonic() - last_ok > 0.5:
                self.sip.sendto(ok, self.pbx)
                last_ok = time.monotonic()
            if time.monotonic() >= next_packet:
                header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, stamp, ssrc)
                self.media.sendto(header + b"\xff" * 160, remote)
                seq, stamp, sent = seq + 1, stamp + 160, sent + 1
                next_packet += 0.02
        raise SystemExit("the PBX never hung up")


def main(argv: list[str]) -> int:
    host, port, user, password, realm, ip = argv
    phone = Phone((host, int(port)), user, password, realm, ip)
    phone.register()
    print("registered", flush=True)
    print(json.dumps(phone.answer_one_call(timeout=60)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
