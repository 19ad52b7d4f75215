"""API tokens: issued once, stored only as a hash, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ccpbx.errors import InvalidInput, Unauthorized

ROLES = ("agent", "supervisor", "admin")
_PREFIX = "ccpbx_"


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    role: str
    subject: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def hash_token(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()


def _row(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        row["id"],
        row["name"],
        row["role"],
        row["subject"],
        row["created_at"],
        row["expires_at"],
        row["revoked_at"],
    )


class TokenRepository:
    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = pool

    async def create(
        self, role: str, name: str, subject: str | None = None, expires_at: datetime | None = None
    ) -> tuple[str, ApiToken]:
        """Issue a token; the clear text is returned once and never stored."""
        if role not in ROLES:
            raise InvalidInput(
                f"role must be one of {', '.join(ROLES)}, got {role!r}", field="role"
            )
        if not name or len(name) > 200:
            raise InvalidInput("token name must be 1 to 200 characters", field="name")
        token = _PREFIX + secrets.token_urlsafe(32)
        row = await self._db.fetchrow(
            """INSERT INTO api_tokens (name, role, subject, token_hash, expires_at)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            name,
            role,
            subject,
            hash_token(token),
            expires_at,
        )
        assert row is not None
        return token, _row(row)

    async def verify(self, token: str) -> ApiToken:
        """The live token matching ``token``; Unauthorized otherwise."""
        if not token.startswith(_PREFIX) or len(token) > 200:
            raise Unauthorized("invalid token")
        row = await self._db.fetchrow(
            """UPDATE api_tokens SET last_used_at = now()
               WHERE token_hash = $1 AND revoked_at IS NULL
                 AND (expires_at IS NULL OR expires_at > now())
               RETURNING *""",
            hash_token(token),
        )
        if row is None:
            raise Unauthorized("invalid, revoked or expired token")
        return _row(row)

    async def revoke(self, token_id: int) -> bool:
        status = await self._db.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            token_id,
        )
        return status.endswith(" 1")

    async def list(self) -> list[ApiToken]:
        rows = await self._db.fetch("SELECT * FROM api_tokens ORDER BY id")
        return [_row(r) for r in rows]
