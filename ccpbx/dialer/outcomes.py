"""What became of a campaign call attempt, from what Asterisk reports (pure code).

The dialer originates ``PJSIP/<number>@<trunk>`` with ``ChannelId=<attempt id>``, so
every event about the attempt's channel carries ``Uniqueid`` (or ``DestUniqueid``) =
the attempt id. What Asterisk 22.10.1 reported for each carrier behaviour, checked
with the sandbox carrier (tests/integration/test_carrier.py):

=====================  ======================  =====================  =====================
carrier answers with   Hangup ``Cause``        DialEnd ``DialStatus``  OriginateResponse
=====================  ======================  =====================  =====================
180, then 200 OK       (later, when it ends)   ANSWER                 Success, Reason 4
486 Busy Here          17 (User busy)          BUSY                   Failure, Reason 0
503 Service Unavail.   34 (Circuit/channel     CONGESTION             Failure, Reason 0
                       congestion)
180, never answers     19 (User alerting, no   (no DialEnd at all)    Failure, Reason 3
(ring timeout)         answer)
180, then 480          19                      NOANSWER               Failure, Reason 0
=====================  ======================  =====================  =====================

An answered call that the customer ends (BYE) while it waits on music on hold hung up
with ``Cause`` 0 (after a SoftHangupRequest with cause 16); one the dialplan ends
(Hangup()) with 16.

So the ``Reason`` of a failed originate does not tell busy from congestion (both 0,
not 5 and 8 as Asterisk's ``AST_CONTROL_*`` codes would suggest): the hangup cause
of the attempt's channel (or the DialEnd status) decides. These three events come
from different Asterisk threads: Hangup and DialEnd arrive before *or after* the
OriginateResponse (seen both ways within milliseconds), so :class:`AttemptReport`
collects them and says when the outcome is known. An answered call may reach the
dialplan (even music on hold in ``ccpbx-queue-wait``) before its OriginateResponse.
A failed originate also runs extension ``failed`` of ``ccpbx-outbound`` on a stand-in
channel, which raises UserEvent ``CcpbxOriginateFailed`` (``Attempt``, ``Reason``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Originate ``Reason`` codes (Asterisk's AST_CONTROL_* numbers).
REASON_FAILED: Final = "0"
REASON_HANGUP: Final = "1"
REASON_RING_TIMEOUT: Final = "3"
REASON_ANSWERED: Final = "4"
REASON_BUSY: Final = "5"
REASON_CONGESTION: Final = "8"

_BY_REASON: Final = {
    REASON_RING_TIMEOUT: "no_answer",
    REASON_BUSY: "busy",
    REASON_CONGESTION: "congestion",
}

# Q.850 hangup causes that name an outcome; any other cause of an unanswered call is
# "failed" (unallocated number, call rejected, network out of order, ...).
_BY_CAUSE: Final = {
    "17": "busy",  # user busy
    "18": "no_answer",  # no user responding
    "19": "no_answer",  # user alerting, no answer
    "34": "congestion",  # no circuit/channel available
    "38": "congestion",  # network out of order
    "41": "congestion",  # temporary failure
    "42": "congestion",  # switching equipment congestion
    "44": "congestion",  # requested channel not available
    "47": "congestion",  # resource unavailable
}

_BY_DIAL_STATUS: Final = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "failed",
    "CANCEL": "cancelled",
}


def originate_outcome(response: str, reason: str, hangup_cause: str | None = None) -> str | None:
    """The attempt's outcome from its OriginateResponse (``Response``, ``Reason``).

    ``"answered"`` for Success: the call is live and the dialer follows it (AMD may
    still make it ``"machine"``, the ACD ``"abandoned"``). For Failure, a specific
    Reason (3 no answer, 5 busy, 8 congestion) decides; otherwise ``hangup_cause``,
    the ``Cause`` of the attempt channel's Hangup event, when the dialer saw one
    (see :func:`hangup_cause_outcome`); otherwise ``"failed"``. None when
    ``response`` is neither Success nor Failure (not an OriginateResponse).
    """
    if response == "Success":
        return "answered"
    if response != "Failure":
        return None
    by_reason = _BY_REASON.get(reason.strip())
    if by_reason is not None:
        return by_reason
    if hangup_cause is not None:
        return hangup_cause_outcome(hangup_cause)
    return "failed"


def hangup_cause_outcome(cause: str) -> str:
    """The outcome of an unanswered attempt whose channel hung up with Q.850 ``cause``:
    17 busy; 18, 19 no_answer; 34, 38, 41, 42, 44, 47 congestion; else failed."""
    return _BY_CAUSE.get(cause.strip(), "failed")


def dial_status_outcome(status: str) -> str:
    """The outcome named by a DialEnd ``DialStatus`` (ANSWER, BUSY, NOANSWER,
    CONGESTION, CHANUNAVAIL, CANCEL); anything else is ``"failed"``."""
    return _BY_DIAL_STATUS.get(status.strip().upper(), "failed")


@dataclass
class AttemptReport:
    """What Asterisk has said so far about one attempt, in whatever order it came:
    feed it the attempt channel's OriginateResponse, Hangup and DialEnd, then ask
    :meth:`outcome`."""

    response: str | None = None
    reason: str | None = None
    hangup_cause: str | None = None
    dial_status: str | None = None

    def originate_response(self, response: str, reason: str) -> None:
        self.response, self.reason = response, reason

    def hangup(self, cause: str) -> None:
        self.hangup_cause = cause

    def dial_end(self, status: str) -> None:
        self.dial_status = status

    def outcome(self, *, final: bool = False) -> str | None:
        """The outcome once it is known, else None.

        Success is "answered". A Failure with Reason 3, 5 or 8 names its outcome;
        otherwise the hangup cause or the DialEnd status must name one (busy,
        no_answer, congestion, ...), or both must have come ("failed").
        ``final=True`` (the dialer's short wait after the OriginateResponse is over,
        or it gives the attempt up): decide with what there is, "failed" when
        nothing names the outcome.
        """
        if self.response == "Success":
            return "answered"
        if self.response != "Failure" and not final:
            return None
        if self.response == "Failure":
            decided = _BY_REASON.get((self.reason or "").strip())
            if decided is not None:
                return decided
        named = []
        if self.hangup_cause is not None:
            named.append(hangup_cause_outcome(self.hangup_cause))
        if self.dial_status is not None:
            named.append(dial_status_outcome(self.dial_status))
        for outcome in named:
            if outcome != "failed":
                return outcome
        return "failed" if final or len(named) == 2 else None


def amd_outcome(status: str) -> str | None:
    """``"machine"`` when AMD (UserEvent CcpbxAmd ``Status``) found an answering
    machine; None for HUMAN, NOTSURE, HANGUP or anything else (a person is assumed)."""
    return "machine" if status.strip().upper() == "MACHINE" else None
