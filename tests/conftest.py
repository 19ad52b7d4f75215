"""Shared fixtures: real PostgreSQL databases (and, in tests/integration, real Asterisk)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import pytest

from ccpbx.sandbox import postgres
from ccpbx.store.migrate import migrate


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
