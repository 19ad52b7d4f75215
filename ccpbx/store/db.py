"""What every repository shares: the connection type and the error translation.

A repository takes a connection or a pool (``Executor``); nothing above the
store sees an asyncpg exception: ``translate_errors`` turns them into the
domain errors of :mod:`ccpbx.errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeAlias

import asyncpg

from ccpbx.errors import CcpbxError, Conflict, InvalidInput, NotFound, Unavailable

Executor: TypeAlias = "asyncpg.Connection | asyncpg.Pool"


@contextlib.contextmanager
def translate_errors(what: str, **details: Any) -> Iterator[None]:
    """Turn database errors raised inside the block into ccpbx domain errors."""
    try:
        yield
    except CcpbxError:
        raise
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            f"{what}: already exists", constraint=exc.constraint_name, **details
        ) from exc
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(
            f"{what}: a referenced object does not exist",
            constraint=exc.constraint_name,
            **details,
        ) from exc
    except (
        asyncpg.CheckViolationError,
        asyncpg.NotNullViolationError,
        asyncpg.DataError,
    ) as exc:
        raise InvalidInput(f"{what}: {exc}", **details) from exc
    except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError) as exc:
        raise Conflict(f"{what}: concurrent change, try again", **details) from exc
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
        raise Unavailable(f"{what}: database unavailable", **details) from exc


@contextlib.asynccontextmanager
async def connection(db: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A connection from a pool for the duration of the block, or the given one.

    Database errors escaping the block become domain errors.
    """
    with translate_errors("database operation"):
        if isinstance(db, asyncpg.Pool):
            async with db.acquire() as conn:
                yield conn
        else:
            yield db


@contextlib.asynccontextmanager
async def transaction(db: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction (nested ones become savepoints)."""
    async with connection(db) as conn, conn.transaction():
        yield conn
