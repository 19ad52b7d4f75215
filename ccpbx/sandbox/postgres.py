"""Find a PostgreSQL server for tests, the demo and benchmarks, or start one.

Order: ``DATABASE_URL`` if set; else the local server on 127.0.0.1:5432; else a
throwaway cluster made with the installed PostgreSQL binaries, removed on exit.
Each user of it then creates its own database (``create_database``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ccpbx.console import database_name, with_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


async def reachable(url: str, timeout: float = 3.0) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def create_database(server_url: str, prefix: str = "ccpbx") -> str:
    """Create a fresh, uniquely named database; return its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = database_name(url)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_binary(name: str) -> str:
    for directory in _PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"no PostgreSQL server found and no {name} binary to start one")
    return found


@dataclass
class ThrowawayCluster:
    """A private PostgreSQL cluster in a temporary folder, listening on loopback."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected, as by a restart)."""
        subprocess.run(
            _as_postgres_user([_pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "stop"]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.directory}"
        )
        subprocess.run(
            _as_postgres_user(
                [
                    _pg_binary("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    opts,
                    "-l",
                    str(self.directory / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    directory = Path(tempfile.mkdtemp(prefix="ccpbx-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = ThrowawayCluster(directory, _free_port())
    data = cluster.data
    subprocess.run(
        _as_postgres_user(
            [_pg_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            _as_postgres_user([_pg_binary("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            check=False,
            capture_output=True,
        )
        time.sleep(0.1)
        shutil.rmtree(directory, ignore_errors=True)


def configured_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_URL)
