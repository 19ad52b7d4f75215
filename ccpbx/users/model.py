"""A user and the rules of its name, password and lockout (pure code, no I/O)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ccpbx.errors import InvalidInput
from ccpbx.store.tokens import ROLES

_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MAX_PASSWORD = 1024  # Argon2 takes any length; this bounds the work one request can ask


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    display_name: str
    role: str
    agent: str | None
    disabled: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def public(self) -> dict[str, object]:
        """What ``user list --json`` and the API show (never the hash)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role,
            "agent": self.agent,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "created_at": self.created_at.isoformat(),
        }


def check_user_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "a user name is 1 to 64 lower-case letters, digits and . _ @ -,"
            f" starting with a letter or digit; got {name!r}",
            field="name",
        )
    return name


def check_role(role: str, agent: str | None) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}", field="role")
    if role == "agent" and agent is None:
        raise InvalidInput("an agent user needs --agent (its ACD agent number)", field="agent")
    return role


def check_password(password: str, min_length: int) -> str:
    if len(password) < min_length:
        raise InvalidInput(
            f"the password is too short: at least {min_length} characters, got {len(password)}",
            field="password",
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is longer than {MAX_PASSWORD} characters")
    return password


@dataclass(frozen=True, slots=True)
class Lockout:
    """After ``max_failures`` failed sign-ins in a row a name is locked for ``duration``."""

    max_failures: int
    duration: dt.timedelta

    def after_failure(self, failures: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """The new count of failures in a row and, when this one locks, until when.
        Locking starts the count again, so the name gets N more tries once it lifts."""
        failures += 1
        if failures >= self.max_failures:
            return 0, now + self.duration
        return failures, None
