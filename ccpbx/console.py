"""What every ``ccpbx`` command shares: exit codes, the database link, JSON output.

Exit codes (README, "Command line"): 0 done; 1 failed (the message on stderr says
why); 2 usage (a bad option or argument, from argparse, or a bad config value);
3 partial (done, but some input was refused: rows rejected by an import without
``--allow-rejects``).
Results go to stdout, logs and messages to stderr, so ``ccpbx ... | tool`` reads
only results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ccpbx.errors import InvalidInput, Unavailable

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

_HINT = (
    "set DATABASE_URL (postgresql://USER@HOST:PORT/NAME) or [database] url in the config "
    "file; `ccpbx migrate --create-database` creates the database and its tables"
)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def connect(url: str, timeout: float = 10.0) -> asyncpg.Connection:
    """One connection for a command; Unavailable with what to do when there is none."""
    try:
        return await asyncpg.connect(url, timeout=timeout)
    except asyncpg.InvalidCatalogNameError as exc:
        raise Unavailable(
            f"database {database_name(url)!r} does not exist at {redact(url)}: "
            "create it with `ccpbx migrate --create-database`",
            component="database",
        ) from exc
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise Unavailable(
            f"cannot reach the database at {redact(url)} ({exc or type(exc).__name__}); {_HINT}",
            component="database",
        ) from exc


def print_json(value: Any) -> None:
    """One JSON document on stdout (dates and decimals as text)."""
    print(json.dumps(value, default=str, ensure_ascii=False))


def say(message: str) -> None:
    """A message for the person at the terminal (stderr, never mixed with results)."""
    print(message, file=sys.stderr)


def option(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a checker that raises InvalidInput: a bad value is a
    usage error (exit 2) naming the option, with the checker's message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    convert.__name__ = getattr(parse, "__name__", "value").strip("_")
    return convert


def at_least(minimum: int) -> Callable[[str], int]:
    """A checker of a whole number of at least ``minimum``, as typed on the command line
    (for ``option``)."""

    def whole(text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise InvalidInput(f"expected a whole number >= {minimum}, got {text!r}")
        return int(text)

    whole.__name__ = f"number >= {minimum}"
    return whole
