"""One error model for ccpbx: every domain error has a stable ``error_id``.

The HTTP layer turns these into JSON bodies in one middleware; the CLI prints
their message. Nothing outside a store module sees a raw database error.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CcpbxError(Exception):
    """Base of all errors ccpbx reports to a user, an API client or an operator."""

    error_id: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class ConfigError(CcpbxError):
    error_id = "config_error"


class InvalidInput(CcpbxError):
    error_id = "invalid_input"
    http_status = 400


class NotFound(CcpbxError):
    error_id = "not_found"
    http_status = 404


class Conflict(CcpbxError):
    error_id = "conflict"
    http_status = 409


class Unauthorized(CcpbxError):
    error_id = "unauthorized"
    http_status = 401


class Forbidden(CcpbxError):
    error_id = "forbidden"
    http_status = 403


class TooManyRequests(CcpbxError):
    """A caller over a rate limit; ``retry_after_s`` says when to try again."""

    error_id = "too_many_requests"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int, **details: object) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **details)
        self.retry_after_s = retry_after_s


class Unavailable(CcpbxError):
    """A component ccpbx depends on (AMI link, database) is down right now."""

    error_id = "unavailable"
    http_status = 503
