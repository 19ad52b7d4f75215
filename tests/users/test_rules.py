"""Sign-in rules without I/O: names, passwords, lockout, per-source limits, redirects."""

from __future__ import annotations

import datetime as dt

import pytest

from ccpbx.errors import InvalidInput
from ccpbx.http.sessions_cookie import safe_next
from ccpbx.users.limits import SourceLimiter, UnknownNames
from ccpbx.users.model import Lockout, check_password, check_role, check_user_name
from ccpbx.users.passwords import hash_password, verify_password

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
LOCK = Lockout(3, dt.timedelta(minutes=15))


def test_lockout_locks_on_the_nth_failure_and_starts_counting_again() -> None:
    """Failures 1 and 2 of 3 only count; the 3rd locks for the duration and resets the count."""
    assert LOCK.after_failure(0, T0) == (1, None)
    assert LOCK.after_failure(1, T0) == (2, None)
    assert LOCK.after_failure(2, T0) == (0, T0 + dt.timedelta(minutes=15))


def test_unknown_names_lock_like_users() -> None:
    """A name that is no user locks after the same number of failures, and lifts after
    the same time, so a locked answer does not tell which names exist."""
    names = UnknownNames(LOCK)
    assert names.failed("ghost", T0) is None
    assert names.failed("ghost", T0) is None
    assert names.failed("ghost", T0) == T0 + dt.timedelta(minutes=15)
    assert names.locked("ghost", T0 + dt.timedelta(minutes=14))
    assert not names.locked("ghost", T0 + dt.timedelta(minutes=15))
    assert not names.locked("other", T0)


def test_source_limiter_counts_failures_within_the_window() -> None:
    """An address is refused after N failures within the window, and again welcome once
    the oldest of them leaves it."""
    limiter = SourceLimiter(2, dt.timedelta(minutes=10))
    limiter.failed("10.0.0.9", T0)
    assert not limiter.blocked("10.0.0.9", T0)
    limiter.failed("10.0.0.9", T0 + dt.timedelta(minutes=1))
    assert limiter.blocked("10.0.0.9", T0 + dt.timedelta(minutes=2))
    assert not limiter.blocked("10.0.0.8", T0 + dt.timedelta(minutes=2))
    assert not limiter.blocked("10.0.0.9", T0 + dt.timedelta(minutes=10))


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/supervisor?queue=sales", True),
        ("/agent/1001", True),
        ("https://evil.example/", False),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("/%0d%0aSet-Cookie:x", True),  # encoded, harmless: stays a path
        ("/a\r\nLocation: x", False),
        ("javascript:alert(1)", False),
        ("evil.example", False),
        ("/login?next=/x", False),
        ("", False),
        (None, False),
    ],
)
def test_next_is_only_a_path_on_this_site(target: str | None, safe: bool) -> None:
    """Only a plain path on this site is followed after sign-in (no open redirect)."""
    assert safe_next(target) == (target if safe else None)


def test_password_length_and_user_name_are_checked() -> None:
    """A short password, a bad name and an agent user without agent are refused clearly."""
    with pytest.raises(InvalidInput, match="too short: at least 12 characters, got 5"):
        check_password("short", 12)
    assert check_password("long enough pw", 12) == "long enough pw"
    with pytest.raises(InvalidInput, match="a user name is"):
        check_user_name("Anna Berg")
    with pytest.raises(InvalidInput, match="needs --agent"):
        check_role("agent", None)
    assert check_role("supervisor", None) == "supervisor"


def test_password_hash_verifies_only_the_password() -> None:
    """An Argon2id hash matches its password only; an unknown user (no hash) never matches."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "correct horse battery")
