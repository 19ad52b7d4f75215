"""What a ring-mode agent's phone shows when the ACD rings it for a caller.

Desk phones and softphones show the display name of the INVITE's From (and of its
P-Asserted-Identity) on the ringing screen, with the number beside or below it;
Alert-Info only picks a ring tone and X- headers are shown by no phone. So the queue
name goes in front of the display name and the customer's number is the identity
itself, so that the phone's call list and its call-back key reach the customer:

    "support: Jane Doe" <+12125550101>     (a caller who sent a name)
    "support: +12125550101" <+12125550101> (a caller who sent only a number)
    "support: unknown caller" <>           (neither, or nothing that can be shown)

Pure code: the caller's number and name come from the channel as Asterisk reports it.
"""

from __future__ import annotations

import re

NUMBER_RE = re.compile(r"^\+?[0-9A-Za-z*#._-]{1,40}$")
"""A number that can be the user part of a SIP URI as it stands (no escaping)."""
NAME_MAX = 40
UNKNOWN = "unknown caller"
_UNSHOWABLE = re.compile(r'["\\<>\x00-\x1f\x7f]+')


def clean_name(text: str) -> str:
    """``text`` without what would end a quoted display name or a header line."""
    return " ".join(_UNSHOWABLE.sub(" ", text).split())[:NAME_MAX]


def ring_caller_id(queue: str, number: str, name: str) -> str:
    """The Originate ``CallerID`` for ringing an agent: queue and customer (see above).

    Asterisk sends it to the phone in From and, with ``send_pai``, in P-Asserted-Identity.
    A number that is not plain digits (``anonymous``, Asterisk's ``<unknown>``) is left
    out; a name equal to the number is not repeated."""
    number = number if NUMBER_RE.match(number) else ""
    name = clean_name(name)
    if name in {"", "<unknown>", "unknown", number}:
        name = ""
    shown = name or number or UNKNOWN
    label = clean_name(queue)
    display = f"{label}: {shown}" if label else shown
    return f'"{display}" <{number}>'
