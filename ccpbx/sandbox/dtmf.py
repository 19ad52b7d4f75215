"""RFC 2833 key presses for SIPp callers, as pcaps SIPp plays into the call.

SIPp's own ``dtmf_2833_*.pcap`` files come from one recording: each digit carries a
fixed RTP timestamp, and Asterisk drops an event whose timestamp is not newer than
the last one it saw on the stream. Pressing 7 then 1 with them loses the 1, and a
key pressed twice is heard once. The pcaps made here have RTP sequence numbers and
timestamps that grow from one press to the next.
"""

from __future__ import annotations

import math
import struct

from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step

DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


class Keypad:
    """RFC 2833 key presses as pcaps SIPp plays, with RTP sequence numbers and
    timestamps that only grow from one press to the next.

    SIPp's own `dtmf_2833_*.pcap` files come from one recording: each digit carries a
    fixed RTP timestamp (1 < 0 < 2 < ... < 9 < * < #), and Asterisk drops an event whose
    timestamp is not newer than the last one it saw. Pressing 7 then 1 with them loses
    the 1, and a key pressed twice is heard once, so these are generated per press.
    """

    def __init__(self, asterisk: AsteriskInstance) -> None:
        self.inside = f"{asterisk.inside}/sipp/dtmf"
        self.host_path = asterisk.runtime.host_path
        self.host_path(self.inside).mkdir(parents=True, exist_ok=True)
        self.count = 0

    def press(self, digits: str, gap_ms: int = 500, last: bool = False) -> list[Step]:
        """Steps pressing `digits`, `gap_ms` apart; `last`: no pause after the final key
        (the PBX may hang up at once, and SIPp counts a BYE during a pause as an error)."""
        steps: list[Step] = []
        for digit in digits:
            self.count += 1
            name = f"{self.inside}/press-{self.count}-{DTMF_EVENTS[digit]}.pcap"
            self.host_path(name).write_bytes(rfc2833_pcap(DTMF_EVENTS[digit], self.count))
            steps += [Step("audio", name), Step.pause(gap_ms)]
        return steps[:-1] if last else steps


_SSRC = 0x0CC9B0C0
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _frame(rtp: bytes, ip_id: int, usec: int) -> bytes:
    """One pcap record: an RTP packet in UDP/IPv4 on loopback (SIPp rewrites the ports)."""
    udp = struct.pack("!HHHH", 10000, 10002, 8 + len(rtp), 0) + rtp
    ip = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            ip_id & 0xFFFF,
            0,
            64,
            17,
            0,
            bytes([127, 0, 0, 1]),
            bytes([127, 0, 0, 1]),
        )
        + udp
    )
    frame = b"\x00" * 12 + b"\x08\x00" + ip
    return struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame


def rfc2833_pcap(event: int, index: int) -> bytes:
    """One key press (160 ms, then three end packets) as a pcap of RTP over UDP/IPv4."""
    ts = 8000 * 4 * index  # a fresh RTP timestamp per press
    seq = 1000 + 20 * index
    frames = []
    for i in range(8 + 3):
        end = i >= 8
        duration = 160 * (min(i, 8) + 1)
        rtp = struct.pack(
            "!BBHII", 0x80, (0x80 if i == 0 else 0) | 101, seq + min(i, 8), ts, _SSRC
        ) + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        usec = 20_000 * min(i, 8) + (i - 8 if end else 0) * 100
        frames.append(_frame(rtp, index, 1_000_000 + usec))
    return _PCAP_HEADER + b"".join(frames)


def _ulaw(sample: int) -> int:
    """G.711 mu-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def speech_pcap(milliseconds: int, index: int) -> bytes:
    """``milliseconds`` of a caller talking (a warbling tone, well above silence) as
    PCMU RTP in 20 ms packets, for voicemail, recording and answering-machine tests."""
    packets = max(1, milliseconds // 20)
    base_ts = 0x40000000 + index * 8000 * 120  # apart from key presses and other segments
    seq = (30000 + index * 6000) & 0xFFFF
    frames = []
    for n in range(packets):
        payload = bytes(
            _ulaw(
                int(
                    8000
                    * math.sin(2 * math.pi * (300 + 100 * ((n // 25) % 3)) * (n * 160 + k) / 8000)
                )
            )
            for k in range(160)
        )
        rtp = (
            struct.pack(
                "!BBHII",
                0x80,
                (0x80 if n == 0 else 0),
                (seq + n) & 0xFFFF,
                (base_ts + 160 * n) & 0xFFFFFFFF,
                _SSRC,
            )
            + payload
        )
        frames.append(_frame(rtp, n, 1_000_000 + 20_000 * n))
    return _PCAP_HEADER + b"".join(frames)
