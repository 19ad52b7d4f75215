"""Password hashes: Argon2id (argon2-cffi), with a dummy check for unknown names."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Checked when the name is unknown, so that answer costs what a wrong password costs.
_DUMMY = _HASHER.hash("ccpbx: no such user; this hash is never matched")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Does ``password`` match ``stored``? ``None`` (no such user) does the same work
    against a dummy hash and is always False."""
    try:
        ok = _HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
