"""Forward-only schema migrations from the numbered files in ``sql/``.

Each file ``NNNN_name.sql`` is applied once, inside its own transaction, and
recorded in ``schema_migrations`` with a checksum. Running the migrations again
is a no-op; a file that changed after it was applied is an error, because a
migration that already ran on a production database can never be edited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from ccpbx.errors import CcpbxError

log = structlog.get_logger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number: it only has to be the same for every ccpbx process.
_ADVISORY_LOCK_KEY = 0x63637062  # "ccpb"


class MigrationError(CcpbxError):
    error_id = "migration_error"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_migrations_dir() -> Path:
    """The ``sql/`` folder beside the package (a source checkout or an install)."""
    return Path(__file__).resolve().parents[2] / "sql"


def load_migrations(directory: Path) -> list[Migration]:
    """Read and order the migration files; refuse stray names and duplicate numbers."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder not found: {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_RE.match(path.name)
        if match is None:
            raise MigrationError(
                f"migration file name {path.name!r} is not of the form NNNN_name.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share number {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    return {row["version"]: row["checksum"] for row in rows}


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[Migration]:
    """Apply every pending migration in order; return the ones applied now."""
    migrations = load_migrations(directory or default_migrations_dir())
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    # Two processes migrating at once would race; the lock makes the second wait.
    await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
    try:
        done = await applied_versions(conn)
        for migration in migrations:
            if migration.version in done and done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} was edited after it"
                    " was applied; add a new migration instead"
                )
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
