"""Agent PINs: hashed with Argon2id (argon2-cffi), checked off the event loop's hot path.

A PIN is 4 to 10 digits, a small space: its hash must be slow to try offline. Rows
written before Argon2 hold a salted SHA-256 (``pin_salt`` set); they still verify,
and the caller rehashes them with Argon2 on the next good login (``PinCheck.rehash``).
An Argon2 hash carries its own salt and parameters: ``pin_salt`` is then NULL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ccpbx.errors import InvalidInput

_HASHER = PasswordHasher()
_PIN = re.compile(r"[0-9]{4,10}")


@dataclass(frozen=True, slots=True)
class PinCheck:
    ok: bool
    rehash: bool = False
    """The PIN was right but its stored hash is old (SHA-256, or weaker Argon2
    parameters than today's): store ``hash_pin(pin)`` in its place."""


def check_pin_format(pin: str) -> str:
    if not _PIN.fullmatch(pin):
        raise InvalidInput("a PIN is 4 to 10 digits", field="pin")
    return pin


def hash_pin(pin: str) -> str:
    """The Argon2id hash to store for a PIN of 4 to 10 digits (about 0.1 s of CPU)."""
    return _HASHER.hash(check_pin_format(pin))


def verify_pin(salt: str | None, stored: str | None, pin: str) -> PinCheck:
    """Does ``pin`` match the stored hash? A missing hash matches nothing."""
    if stored is None:
        return PinCheck(False)
    if salt is not None:  # written before Argon2: salted SHA-256
        legacy = hashlib.sha256(f"{salt}:{pin}".encode()).hexdigest()
        ok = hmac.compare_digest(legacy, stored)
        return PinCheck(ok, rehash=ok)
    try:
        _HASHER.verify(stored, pin)
    except (VerificationError, InvalidHashError):
        return PinCheck(False)
    return PinCheck(True, rehash=_HASHER.check_needs_rehash(stored))
