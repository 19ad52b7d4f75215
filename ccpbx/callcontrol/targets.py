"""What an agent's call-control request names, checked (pure, no I/O): the target of a
transfer or three-way call, the transfer mode, the DTMF digits to send.

A target is ``agent:<number>`` (another agent), ``queue:<name>`` (an ACD queue) or an
outside number in E.164 (``+<digits>``). Each bad value raises ``InvalidInput``
naming its field.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ccpbx.errors import InvalidInput
from ccpbx.queues.model import AGENT_RE, QUEUE_RE

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
DIGITS_RE = re.compile(r"^[0-9*#A-D]{1,32}$")


class TargetKind(enum.StrEnum):
    AGENT = "agent"
    QUEUE = "queue"
    NUMBER = "number"


class TransferMode(enum.StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a transfer or a three-way call goes."""

    kind: TargetKind
    value: str
    """The agent number, the queue name or the E.164 number."""

    def __str__(self) -> str:
        return self.value if self.kind is TargetKind.NUMBER else f"{self.kind}:{self.value}"


def parse_target(text: object, *, field: str = "to") -> Target:
    """``"agent:1002"``, ``"queue:support"`` or ``"+12125550100"`` as a :class:`Target`."""
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"{field} must be agent:N, queue:NAME or +E164", field=field)
    kind, sep, value = text.partition(":")
    if sep and kind == TargetKind.AGENT and AGENT_RE.match(value):
        return Target(TargetKind.AGENT, value)
    if sep and kind == TargetKind.QUEUE and QUEUE_RE.match(value):
        return Target(TargetKind.QUEUE, value)
    if not sep and E164_RE.match(text):
        return Target(TargetKind.NUMBER, text)
    raise InvalidInput(
        f"{field} must be agent:N, queue:NAME or +E164, got {text!r}", field=field, value=text
    )


def parse_mode(text: object) -> TransferMode:
    """``blind`` (the default when absent) or ``attended``."""
    if text is None:
        return TransferMode.BLIND
    try:
        return TransferMode(str(text))
    except ValueError:
        raise InvalidInput("mode must be blind or attended", field="mode") from None


def check_digits(text: object) -> str:
    """DTMF digits to send: 1 to 32 of 0-9 * # A-D."""
    if not isinstance(text, str) or not DIGITS_RE.match(text):
        raise InvalidInput("digits: 1 to 32 of 0-9 * # A-D", field="digits")
    return text
