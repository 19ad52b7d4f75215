"""Key presses of a SIPp caller: RFC 2833 pcaps (:mod:`ccpbx.sandbox.rtp`) written
where the SIPp in the sandbox can play them."""

from __future__ import annotations

from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.rtp import DTMF_EVENTS, rfc2833_pcap
from ccpbx.sandbox.sipp import Step


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
