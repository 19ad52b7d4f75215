"""Bearer tokens checked from memory for a few seconds, last use written in batches."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from ccpbx.errors import Unauthorized
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import TokenRepository


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_checked_token_is_answered_from_memory_until_its_time_is_up(
    pool: asyncpg.Pool,
) -> None:
    """Repeated checks of one token read the database once per ttl; a revoked token is
    refused once that time is up, and an unknown one always."""
    clock = Clock()
    checks = TokenChecks(lambda: pool, ttl_s=10.0, clock=clock)
    token, issued = await TokenRepository(pool).create("admin", "ops")
    for _ in range(50):
        assert (await checks.verify(token)).id == issued.id
    assert checks.reads == 1
    await TokenRepository(pool).revoke(issued.id)
    clock.now += 5.0
    assert (await checks.verify(token)).id == issued.id  # within ttl: still the cached row
    clock.now += 5.0
    with pytest.raises(Unauthorized):
        await checks.verify(token)
    with pytest.raises(Unauthorized):
        await checks.verify("ccpbx_" + "x" * 40)
    with pytest.raises(Unauthorized):
        await checks.verify("not-a-token")
    assert checks.reads == 3


async def test_checks_write_nothing_so_a_locked_token_table_stalls_no_request(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """With api_tokens locked against writes by another transaction (EXCLUSIVE: reads
    still allowed), tokens are checked at once, cached or not; the batched last-use
    write waits for the lock and then records both tokens' use."""
    checks = TokenChecks(lambda: pool, ttl_s=10.0)
    first, a = await TokenRepository(pool).create("admin", "a")
    second, b = await TokenRepository(pool).create("supervisor", "b")
    await checks.verify(first)
    locker = await asyncpg.connect(database_url)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE api_tokens IN EXCLUSIVE MODE")
        async with asyncio.timeout(5):
            assert (await checks.verify(first)).id == a.id
            assert (await checks.verify(second)).id == b.id  # a read, not blocked
        flushing = asyncio.create_task(checks.flush())
        await asyncio.sleep(0.3)
        assert not flushing.done()  # the write waits for the lock, requests did not
        await transaction.rollback()
        assert await flushing == 2
    finally:
        await locker.close()
    used = await pool.fetch("SELECT id FROM api_tokens WHERE last_used_at IS NOT NULL")
    assert sorted(r["id"] for r in used) == sorted([a.id, b.id])
    assert await checks.flush() == 0  # nothing used since


async def test_last_use_is_kept_for_later_when_the_database_is_away(pool: asyncpg.Pool) -> None:
    """A flush that cannot reach the database keeps the tokens for the next flush."""
    token, issued = await TokenRepository(pool).create("admin", "ops")
    away = False

    def current() -> asyncpg.Pool:
        if away:
            raise OSError("database away")
        return pool

    checks = TokenChecks(current)
    await checks.verify(token)
    away = True
    assert await checks.flush() == 0
    away = False
    assert await checks.flush() == 1
    assert await pool.fetchval("SELECT last_used_at FROM api_tokens WHERE id = $1", issued.id)
