"""What an attempt's outcome is when its dialer lost track of it (pure).

After a crash or restart, and for leases that expired, ccpbx asks Asterisk whether
the attempt's channel (its uniqueid is the attempt id) still exists. If it does, the
call is followed to its end; if not, the outcome is decided from how far the attempt
got before ccpbx lost it. Nothing is redialed on a guess: an attempt that may have
rung the customer gets ``cancelled``, whose retry delay applies before the next try;
only an attempt never handed to Asterisk is ``not_dialed``.

When Asterisk itself restarts, every call the runner follows is gone at once:
:func:`outcome_after_restart` says what each became, without waiting for a sweep.
"""

from __future__ import annotations


def settled_outcome(*, dialing: bool, answered: bool, channel_up: bool) -> str | None:
    """The outcome to record, or None while the channel is still up (keep following).

    ``dialing``: the attempt was marked dialing (written before the Originate);
    ``answered``: the customer's answer was recorded.
    """
    if channel_up:
        return None
    if answered:
        return "answered"
    if dialing:
        return "cancelled"
    return "not_dialed"


def outcome_after_restart(*, phase: str, sent: bool) -> str | None:
    """What a call the runner follows became when its Asterisk restarted (every channel
    is gone): ``"cancelled"`` for one ringing (it may have rung: its retry delay
    applies), ``"abandoned"`` for a live answer no agent took, ``"ended"`` for one with
    an agent (its outcome, answered, is recorded), and None for a call whose Originate
    has not been sent yet: its placing task learns whether it was (else ``not_dialed``).

    ``phase`` is the call's :class:`~ccpbx.dialer.runtime.book.Phase` value."""
    if phase == "dialing":
        return "cancelled" if sent else None
    if phase == "answered":
        return "abandoned"
    return "ended"
