"""RTP media for SIPp to play into a call, as pcap files: RFC 2833 key presses,
a caller talking, digital silence.

SIPp's own ``dtmf_2833_*.pcap`` files come from one recording: each digit carries a
fixed RTP timestamp, and Asterisk drops an event whose timestamp is not newer than
the last one it saw on the stream. Pressing 7 then 1 with them loses the 1, and a
key pressed twice is heard once. The key presses made here have RTP sequence numbers
and timestamps that grow from one press to the next.
"""

from __future__ import annotations

import math
import struct

DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}

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
    return media_pcap(
        [(milliseconds, True)],
        ssrc=_SSRC,
        first_seq=30000 + index * 6000,
        first_ts=0x40000000 + index * 8000 * 120,  # apart from key presses and other segments
    )


def media_pcap(
    segments: list[tuple[int, bool]],
    *,
    ssrc: int = 0x0CCCA221,
    first_seq: int = 20000,
    first_ts: int = 0x10000000,
) -> bytes:
    """PCMU RTP in 20 ms packets: each (milliseconds, speaking) segment is speech (a
    warbling tone, well above silence) or digital silence; one stream throughout."""
    frames = []
    n = 0
    for milliseconds, speaking in segments:
        for _ in range(max(1, milliseconds // 20)):
            if speaking:
                payload = bytes(
                    _ulaw(int(8000 * _sine((300 + 100 * ((n // 25) % 3)) * (n * 160 + k) / 8000)))
                    for k in range(160)
                )
            else:
                payload = b"\xff" * 160
            rtp = (
                struct.pack(
                    "!BBHII",
                    0x80,
                    (0x80 if n == 0 else 0),
                    (first_seq + n) & 0xFFFF,
                    (first_ts + 160 * n) & 0xFFFFFFFF,
                    ssrc,
                )
                + payload
            )
            frames.append(_frame(rtp, n, 1_000_000 + 20_000 * n))
            n += 1
    return _PCAP_HEADER + b"".join(frames)


def _sine(cycles: float) -> float:
    return math.sin(2 * math.pi * cycles)
