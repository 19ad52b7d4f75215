"""Managing users (what ``ccpbx user ...`` does): each change and its audit entry in
one transaction. Disabling a user or setting its password ends its sessions."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg

from ccpbx.queues.model import check_agent_id
from ccpbx.store import audit
from ccpbx.users import store
from ccpbx.users.model import User, check_password, check_role, check_user_name
from ccpbx.users.passwords import hash_password


async def add(
    conn: asyncpg.Connection,
    name: str,
    *,
    role: str,
    agent: str | None,
    display_name: str,
    password: str,
    min_length: int,
    actor: str,
    now: dt.datetime,
) -> User:
    check_user_name(name)
    if agent is not None:
        check_agent_id(agent)
    check_role(role, agent)
    check_password(password, min_length)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        user = await store.add_user(
            conn,
            name,
            role=role,
            agent=agent,
            display_name=display_name,
            password_hash=password_hash,
            now=now,
        )
        await _audit(conn, actor, "user.added", user, now, role=role, agent=agent)
    return user


async def change_password(
    conn: asyncpg.Connection,
    name: str,
    password: str,
    *,
    min_length: int,
    actor: str,
    now: dt.datetime,
) -> tuple[User, int]:
    """The user with its new password and lockout lifted, and how many sessions ended."""
    check_password(password, min_length)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        user = await store.set_password(conn, name, password_hash, now)
        ended = await store.end_user_sessions(conn, user.id)
        await _audit(conn, actor, "user.password_changed", user, now, sessions_ended=ended)
    return user, ended


async def set_disabled(
    conn: asyncpg.Connection, name: str, disabled: bool, *, actor: str, now: dt.datetime
) -> tuple[User, int]:
    """Disable (its sessions end) or enable (its lockout lifts) a user."""
    async with conn.transaction():
        user = await store.set_disabled(conn, name, disabled, now)
        ended = 0
        if disabled:
            ended = await store.end_user_sessions(conn, user.id)
        else:
            await store.clear_failures(conn, user.id)
        action = "user.disabled" if disabled else "user.enabled"
        await _audit(conn, actor, action, user, now, sessions_ended=ended)
    return user, ended


async def _audit(
    conn: asyncpg.Connection,
    actor: str,
    action: str,
    user: User,
    now: dt.datetime,
    **details: object,
) -> None:
    await audit.record(
        conn,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.name,
        at=now,
        details=details,
    )
