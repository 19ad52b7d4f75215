"""Shared fixtures: real PostgreSQL databases (and, in tests/integration, real Asterisk)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from ccpbx.sandbox import postgres
from ccpbx.store.migrate import migrate


@pytest.fixture(autouse=True)
async def _no_unhandled_loop_errors() -> AsyncIterator[None]:
    """Fail a test that leaves an exception nobody handled in its event loop
    (a task that died unobserved, a callback that raised)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield
    await asyncio.sleep(0)
    gc.collect()  # "Task exception was never retrieved" is reported when the task is freed
    loop.set_exception_handler(None)
    if errors:
        first = errors[0]
        pytest.fail(
            f"unhandled exception in the event loop: {first.get('message')}"
            f" {first.get('exception')!r} ({len(errors)} in all)"
        )


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server: DATABASE_URL, the local one, or a throwaway cluster."""
    url = postgres.configured_url()
    if _run(postgres.reachable(url)):
        yield url
        return
    if "DATABASE_URL" in os.environ:
        pytest.fail(f"DATABASE_URL is set but the server does not answer: {url}")
    with postgres.throwaway_cluster() as cluster:
        yield cluster.url


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str) -> Iterator[str]:
    """A database with every migration applied, used as the template of per-test databases."""

    async def make() -> str:
        url = await postgres.create_database(pg_server_url, prefix="ccpbx_tmpl")
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return url

    url = _run(make())
    yield url
    _run(postgres.drop_database(pg_server_url, url))


@pytest.fixture
def database_url(pg_server_url: str, migrated_template: str) -> Iterator[str]:
    """A fresh, fully migrated database of this test's own; dropped afterwards."""

    async def clone() -> str:
        name = f"ccpbx_t_{os.getpid()}_{os.urandom(4).hex()}"
        conn = await asyncpg.connect(pg_server_url)
        try:
            template = postgres.database_name(migrated_template)
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return postgres.with_database(pg_server_url, name)

    url = _run(clone())
    yield url
    _run(postgres.drop_database(pg_server_url, url))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small connection pool on this test's own database."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()
