"""Bearer tokens checked on every request without a database write per request.

A token found live is remembered for ``ttl_s`` seconds (10 by default): requests in that
time are answered from memory, so a busy API costs the database one read per token
every ``ttl_s``, never a write. Revoking a token (``ccpbx token revoke``, another
process) or its expiry therefore takes effect within ``ttl_s``; an expiry the cached
row already shows is honoured at once. When each token was last used is recorded in
batches, one ``UPDATE`` every ``flush_s`` seconds for all the tokens used meanwhile, off
the request path: a lock held on ``api_tokens`` (a long transaction, a migration) delays
that write, never a request, and never a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog

from ccpbx.errors import Unauthorized, Unavailable
from ccpbx.store.tokens import PREFIX, ApiToken, hash_token, token_from_row

log = structlog.get_logger(__name__)

MAX_TOKEN_LENGTH = 200
DATABASE_AWAY = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)
"""What a query raises while PostgreSQL is down or restarting."""


@dataclass(frozen=True, slots=True)
class _Checked:
    token: ApiToken
    at: float


class TokenChecks:
    """The daemon's token check (see the module docstring); ``start``/``stop`` run the
    batched last-use writer."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        *,
        ttl_s: float = 10.0,
        flush_s: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self.ttl_s = ttl_s
        self.flush_s = flush_s
        self.max_entries = max_entries
        self._clock = clock
        self._checked: dict[bytes, _Checked] = {}
        self._used: set[int] = set()
        self._writer: asyncio.Task[None] | None = None
        self.reads = 0
        """Database reads made so far (one per token per ``ttl_s`` at most)."""

    async def verify(self, token: str) -> ApiToken:
        """The live token matching ``token``; Unauthorized otherwise."""
        if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("invalid token")
        key = hash_token(token)
        now = self._clock()
        checked = self._checked.get(key)
        if checked is None or now - checked.at >= self.ttl_s or _expired(checked.token):
            checked = _Checked(await self._read(key), now)
            if len(self._checked) >= self.max_entries:
                self._checked.clear()  # many distinct tokens: start over, stay bounded
            self._checked[key] = checked
        self._used.add(checked.token.id)
        return checked.token

    async def _read(self, key: bytes) -> ApiToken:
        self.reads += 1
        try:
            row = await self._pool().fetchrow(
                """SELECT * FROM api_tokens
                   WHERE token_hash = $1 AND revoked_at IS NULL
                     AND (expires_at IS NULL OR expires_at > now())""",
                key,
            )
        except DATABASE_AWAY as exc:
            # Mid-outage the pool exists but its connections fail: a 503, not a 500.
            raise Unavailable(
                "the database is not reachable right now", component="database"
            ) from exc
        if row is None:
            self._checked.pop(key, None)
            raise Unauthorized("invalid, revoked or expired token")
        return token_from_row(row)

    async def flush(self) -> int:
        """Record the last use of the tokens used since the last flush; how many."""
        used, self._used = self._used, set()
        if not used:
            return 0
        try:
            await self._pool().execute(
                "UPDATE api_tokens SET last_used_at = now() WHERE id = ANY($1::bigint[])",
                sorted(used),
            )
        except (*DATABASE_AWAY, asyncpg.PostgresError, Unavailable) as exc:
            self._used |= used  # the database is away: next time
            log.warning("token_last_use_not_recorded", tokens=len(used), error=repr(exc))
            return 0
        return len(used)

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_every(), name="token-last-use")

    async def stop(self) -> None:
        """Stop the writer after one last flush (bounded: a database away loses it)."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self.flush()

    async def _write_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()


def _expired(token: ApiToken) -> bool:
    return token.expires_at is not None and token.expires_at <= dt.datetime.now(dt.UTC)
