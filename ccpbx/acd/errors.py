"""Domain errors of the ACD, each with a stable ``error_id``."""

from __future__ import annotations

from ccpbx.errors import Conflict, InvalidInput, NotFound


class UnknownAgent(NotFound):
    error_id = "acd_unknown_agent"


class UnknownCall(NotFound):
    error_id = "acd_unknown_call"


class UnknownQueue(NotFound):
    error_id = "acd_unknown_queue"


class DuplicateCall(Conflict):
    error_id = "acd_duplicate_call"


class IllegalTransition(Conflict):
    """An agent or call is not in a state that allows the asked transition."""

    error_id = "acd_illegal_transition"


class InvalidAcdInput(InvalidInput):
    error_id = "acd_invalid_input"
