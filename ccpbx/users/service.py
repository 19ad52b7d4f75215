"""Signing in and out: passwords checked off the event loop, lockout, sessions, audit.

One ``SignIn`` per daemon owns the in-memory limits; users and sessions live in the
database, so a restart keeps people signed in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from ccpbx.config import HttpConfig
from ccpbx.errors import CcpbxError, Unauthorized
from ccpbx.store import audit
from ccpbx.store.db import Executor
from ccpbx.users import store
from ccpbx.users.limits import SourceLimiter, UnknownNames
from ccpbx.users.model import MAX_PASSWORD, Lockout, User
from ccpbx.users.passwords import hash_password, needs_rehash, verify_password
from ccpbx.users.store import Session

log = structlog.get_logger(__name__)

Clock = Callable[[], dt.datetime]
PoolGetter = Callable[[], asyncpg.Pool]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SignInFailed(Unauthorized):
    """The one answer for an unknown name, a wrong password and a disabled user."""

    error_id = "sign_in_failed"


class SignInLocked(CcpbxError):
    error_id = "sign_in_locked"
    http_status = 429


@dataclass(frozen=True, slots=True)
class SessionSettings:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    lifetime: dt.timedelta = dt.timedelta(hours=12)
    lockout: Lockout = field(default_factory=lambda: Lockout(5, dt.timedelta(minutes=15)))
    max_failures_per_source: int = 50
    secure_cookies: bool = False
    trusted_proxies: frozenset[str] = frozenset()
    # How often a websocket opened with a session checks the session is still alive.
    recheck_s: float = 30.0

    @classmethod
    def from_config(cls, http: HttpConfig) -> SessionSettings:
        return cls(
            idle=dt.timedelta(minutes=http.session_idle_minutes),
            lifetime=dt.timedelta(hours=http.session_lifetime_hours),
            lockout=Lockout(
                http.login_max_failures, dt.timedelta(minutes=http.login_lockout_minutes)
            ),
            max_failures_per_source=http.login_max_failures_per_source,
            secure_cookies=http.secure_cookies,
            trusted_proxies=frozenset(http.trusted_proxies),
        )


_WRONG = "wrong name or password"


class SignIn:
    def __init__(self, pool: PoolGetter, settings: SessionSettings, clock: Clock = utc_now) -> None:
        self._pool = pool
        self.settings = settings
        self.clock = clock
        self._sources = SourceLimiter(settings.max_failures_per_source, settings.lockout.duration)
        self._unknown = UnknownNames(settings.lockout)

    async def sign_in(self, name: str, password: str, source: str | None) -> tuple[str, Session]:
        """A new session (its id, to put in the cookie, and its row) for the right name
        and password; SignInFailed or SignInLocked otherwise, each audited."""
        now = self.clock()
        src = source or "unknown"
        name = name.strip().lower()[:64]
        password = password[:MAX_PASSWORD]
        pool = self._pool()
        if self._sources.blocked(src, now):
            await self._audit(pool, name, "user.sign_in_refused", name, now, source=src)
            raise SignInLocked(
                "too many failed sign-ins from this address; try again later", source=src
            )
        found = await store.find_user(pool, name)
        user, stored = found if found is not None else (None, None)
        # The hash is checked in every case (a dummy one for an unknown name), off the loop.
        ok = await asyncio.to_thread(verify_password, stored, password)
        locked = user.locked(now) if user is not None else self._unknown.locked(name, now)
        if locked:
            await self._audit(pool, name, "user.sign_in_refused", name, now, source=src)
            raise self._locked_error()
        if user is None or stored is None or not ok or user.disabled:
            self._sources.failed(src, now)
            reason = "unknown_user" if user is None else "disabled" if ok else "wrong_password"
            await self._failed(pool, name, user, now, src, reason)
            raise SignInFailed(_WRONG)
        assert stored is not None
        session_id = secrets.token_urlsafe(32)
        rehashed = None
        if needs_rehash(stored):  # stored with weaker parameters than today's
            rehashed = await asyncio.to_thread(hash_password, password)
        async with pool.acquire() as conn, conn.transaction():
            await store.clear_failures(conn, user.id)
            if rehashed is not None:
                await store.set_password(conn, name, rehashed, now)
            await store.purge_sessions(conn, now=now, idle_since=now - self.settings.idle)
            session = await store.create_session(
                conn,
                user,
                session_id,
                secrets.token_urlsafe(32),
                source=src,
                now=now,
                expires_at=now + self.settings.lifetime,
            )
            await self._audit(conn, name, "user.sign_in", name, now, source=src)
        log.info("user_signed_in", user=name, role=user.role, source=src)
        return session_id, session

    def _locked_error(self) -> SignInLocked:
        minutes = int(self.settings.lockout.duration.total_seconds() // 60)
        return SignInLocked(
            f"too many failed sign-ins for this name; try again in up to {minutes} minute(s)",
            minutes=minutes,
        )

    async def _failed(
        self,
        pool: asyncpg.Pool,
        name: str,
        user: User | None,
        now: dt.datetime,
        source: str,
        reason: str,
    ) -> None:
        if user is None:
            until = self._unknown.failed(name, now)
        else:
            async with pool.acquire() as conn, conn.transaction():
                failures = await conn.fetchval(
                    "SELECT failed_attempts FROM users WHERE id = $1 FOR UPDATE", user.id
                )
                failures, until = self.settings.lockout.after_failure(failures or 0, now)
                await store.record_failure(conn, user.id, failures, until)
        await self._audit(pool, name, "user.sign_in_failed", name, now, source=source, why=reason)
        log.info("user_sign_in_failed", user=name, source=source, reason=reason)
        if until is not None:
            await self._audit(
                pool, name, "user.locked", name, now, source=source, until=until.isoformat()
            )
            log.warning("user_locked", user=name, source=source, until=until.isoformat())

    async def resume(self, session_id: str) -> Session | None:
        """The live session with this cookie value (its idle time slid), or None."""
        if not session_id or len(session_id) > 100:
            return None
        now = self.clock()
        return await store.resume_session(
            self._pool(), session_id, now=now, idle_since=now - self.settings.idle
        )

    async def alive(self, session_id: str) -> bool:
        """Is the session still good (not ended, idle, expired or its user disabled)?"""
        now = self.clock()
        return await store.session_alive(
            self._pool(), session_id, now=now, idle_since=now - self.settings.idle
        )

    async def sign_out(self, session_id: str, session: Session, source: str | None) -> None:
        now = self.clock()
        async with self._pool().acquire() as conn, conn.transaction():
            await store.end_session(conn, session_id)
            name = session.user.name
            await self._audit(conn, name, "user.sign_out", name, now, source=source)
        log.info("user_signed_out", user=session.user.name)

    async def audit_request(
        self, session: Session, method: str, route: str, path: str, status: int
    ) -> None:
        """A state-changing API call made through a session."""
        await audit.record(
            self._pool(),
            actor=session.user.name,
            action=f"http.{method.lower()}",
            object_type="http",
            object_id=path,
            at=self.clock(),
            details={"route": route, "status": status, "session": session.id},
        )

    async def _audit(
        self,
        db: Executor,
        actor: str,
        action: str,
        name: str,
        now: dt.datetime,
        **details: Any,
    ) -> None:
        await audit.record(
            db,
            actor=actor or "?",
            action=action,
            object_type="user",
            object_id=name,
            at=now,
            details=details,
        )
