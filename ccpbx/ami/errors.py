"""AMI errors: each has a stable ``error_id`` (see ``ccpbx.errors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccpbx.errors import CcpbxError, InvalidInput, Unavailable

if TYPE_CHECKING:
    from ccpbx.ami.protocol import AmiMessage


class AmiError(CcpbxError):
    """Base of every error raised by the AMI layer."""

    error_id = "ami_error"
    http_status = 502


class AmiInjectionError(AmiError, InvalidInput, ValueError):
    """A header name or value holds CR, LF or NUL (or a name is malformed): nothing was sent."""

    error_id = "ami_header_refused"
    http_status = 400


class AmiNotConnected(AmiError, Unavailable):
    """No logged-in AMI link right now (connecting, reconnecting or closed)."""

    error_id = "ami_not_connected"
    http_status = 503


class AmiLinkLost(AmiError, Unavailable):
    """The link dropped while an action waited for its answer; the action is not re-sent.

    Whether Asterisk executed the action is unknown. The cause is chained.
    """

    error_id = "ami_link_lost"
    http_status = 503


class AmiActionTimeout(AmiError, TimeoutError):
    """An action got no complete answer before its deadline; it is forgotten, not re-sent."""

    error_id = "ami_action_timeout"
    http_status = 504


class AmiActionError(AmiError):
    """Asterisk answered an action with ``Response: Error``."""

    error_id = "ami_action_failed"
    http_status = 502

    def __init__(self, message: str, response: AmiMessage | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.response = response


class AmiLoginError(AmiError):
    """Asterisk refused the Login (wrong username or secret, or no such manager user)."""

    error_id = "ami_login_failed"
    http_status = 502
