"""Users and browser sessions in PostgreSQL (tables ``users`` and ``user_sessions``).

Times are passed in by the caller (its clock), never taken from the database's
``now()``, so idle timeouts and lockouts follow one clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import asyncpg

from ccpbx.errors import Conflict, NotFound
from ccpbx.store.db import Executor, translate_errors
from ccpbx.users.model import User


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    user: User
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


def hash_session_id(session_id: str) -> bytes:
    # A session id carries 256 random bits: a plain SHA-256 leaves nothing to brute-force.
    return hashlib.sha256(session_id.encode()).digest()


def _user(row: asyncpg.Record, prefix: str = "") -> User:
    return User(
        row[prefix + "id"],
        row["name"],
        row["display_name"],
        row["role"],
        row["agent"],
        row["disabled"],
        row["failed_attempts"],
        row["locked_until"],
        row[prefix + "created_at"],
        row["updated_at"],
    )


async def add_user(
    db: Executor,
    name: str,
    *,
    role: str,
    agent: str | None,
    display_name: str,
    password_hash: str,
    now: dt.datetime,
) -> User:
    with translate_errors("user", name=name):
        try:
            row = await db.fetchrow(
                """INSERT INTO users (name, display_name, role, agent, password_hash,
                                      created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *""",
                name,
                display_name,
                role,
                agent,
                password_hash,
                now,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "users_one_per_agent":
                raise Conflict(f"agent {agent} already has a user", agent=agent) from exc
            raise Conflict(f"user {name!r} already exists", name=name) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(
                f"no ACD agent {agent}: add it first (PUT /api/agents/{agent})", agent=agent
            ) from exc
    assert row is not None
    return _user(row)


async def find_user(db: Executor, name: str) -> tuple[User, str] | None:
    """The user and its password hash, or None."""
    row = await db.fetchrow("SELECT * FROM users WHERE name = $1", name)
    return None if row is None else (_user(row), row["password_hash"])


async def get_user(db: Executor, name: str) -> User:
    found = await find_user(db, name)
    if found is None:
        raise NotFound(f"no user {name!r}", name=name)
    return found[0]


async def list_users(db: Executor) -> list[User]:
    return [_user(r) for r in await db.fetch("SELECT * FROM users ORDER BY name")]


async def set_password(db: Executor, name: str, password_hash: str, now: dt.datetime) -> User:
    """A new hash; the lockout is lifted (an admin has just set it)."""
    row = await db.fetchrow(
        """UPDATE users SET password_hash = $2, failed_attempts = 0, locked_until = NULL,
                            updated_at = $3
           WHERE name = $1 RETURNING *""",
        name,
        password_hash,
        now,
    )
    if row is None:
        raise NotFound(f"no user {name!r}", name=name)
    return _user(row)


async def set_disabled(db: Executor, name: str, disabled: bool, now: dt.datetime) -> User:
    row = await db.fetchrow(
        "UPDATE users SET disabled = $2, updated_at = $3 WHERE name = $1 RETURNING *",
        name,
        disabled,
        now,
    )
    if row is None:
        raise NotFound(f"no user {name!r}", name=name)
    return _user(row)


async def record_failure(
    db: Executor, user_id: int, failures: int, locked_until: dt.datetime | None
) -> None:
    await db.execute(
        "UPDATE users SET failed_attempts = $2, locked_until = $3 WHERE id = $1",
        user_id,
        failures,
        locked_until,
    )


async def clear_failures(db: Executor, user_id: int) -> None:
    await db.execute(
        """UPDATE users SET failed_attempts = 0, locked_until = NULL
           WHERE id = $1 AND (failed_attempts <> 0 OR locked_until IS NOT NULL)""",
        user_id,
    )


# -- sessions ---------------------------------------------------------------------------
async def create_session(
    db: Executor,
    user: User,
    session_id: str,
    csrf_token: str,
    *,
    source: str | None,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> Session:
    row = await db.fetchrow(
        """INSERT INTO user_sessions
               (session_hash, user_id, csrf_token, source, created_at, last_seen_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id""",
        hash_session_id(session_id),
        user.id,
        csrf_token,
        source,
        now,
        expires_at,
    )
    assert row is not None
    return Session(row["id"], user, csrf_token, now, now, expires_at)


async def resume_session(
    db: Executor, session_id: str, *, now: dt.datetime, idle_since: dt.datetime
) -> Session | None:
    """The live session with this id, its last-seen time slid to ``now``; None when it
    is unknown, past its lifetime, idle since before ``idle_since``, or its user is
    disabled."""
    row = await db.fetchrow(
        """UPDATE user_sessions s SET last_seen_at = $2
           FROM users u
           WHERE s.session_hash = $1 AND u.id = s.user_id AND NOT u.disabled
             AND s.expires_at > $2 AND s.last_seen_at > $3
           RETURNING s.id AS session_id, s.csrf_token, s.created_at AS session_created_at,
                     s.last_seen_at, s.expires_at, u.*""",
        hash_session_id(session_id),
        now,
        idle_since,
    )
    if row is None:
        return None
    return Session(
        row["session_id"],
        _user(row),
        row["csrf_token"],
        row["session_created_at"],
        row["last_seen_at"],
        row["expires_at"],
    )


async def session_alive(
    db: Executor, session_id: str, *, now: dt.datetime, idle_since: dt.datetime
) -> bool:
    """Could this session be resumed now? (As ``resume_session``, without sliding it.)"""
    return bool(
        await db.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM user_sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.session_hash = $1 AND NOT u.disabled
                     AND s.expires_at > $2 AND s.last_seen_at > $3)""",
            hash_session_id(session_id),
            now,
            idle_since,
        )
    )


async def end_session(db: Executor, session_id: str) -> bool:
    status = await db.execute(
        "DELETE FROM user_sessions WHERE session_hash = $1", hash_session_id(session_id)
    )
    return status != "DELETE 0"


async def end_user_sessions(db: Executor, user_id: int) -> int:
    status = await db.execute("DELETE FROM user_sessions WHERE user_id = $1", user_id)
    return int(status.split()[-1])


async def purge_sessions(db: Executor, *, now: dt.datetime, idle_since: dt.datetime) -> int:
    """Forget sessions that can no longer be resumed."""
    status = await db.execute(
        "DELETE FROM user_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
        now,
        idle_since,
    )
    return int(status.split()[-1])
