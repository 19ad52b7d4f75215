"""API tokens: issued once, stored only as a hash, checked on every request (by
:mod:`ccpbx.store.token_checks`, without a write per request)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ccpbx.errors import InvalidInput

ROLES = ("agent", "supervisor", "admin")
PREFIX = "ccpbx_"


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


def token_from_row(row: asyncpg.Record) -> ApiToken:
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
        token = PREFIX + secrets.token_urlsafe(32)
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
        return token, token_from_row(row)

    async def revoke(self, token_id: int) -> bool:
        status = await self._db.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            token_id,
        )
        return status.endswith(" 1")

    async def list(self) -> list[ApiToken]:
        rows = await self._db.fetch("SELECT * FROM api_tokens ORDER BY id")
        return [token_from_row(r) for r in rows]
