"""Migrations runner against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from ccpbx.store.migrate import MigrationError, load_migrations, migrate


async def test_migrate_twice_is_a_no_op(database_url: str) -> None:
    """A second run of the migrations applies nothing and changes nothing."""
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in load_migrations_default()]
    finally:
        await conn.close()


def load_migrations_default():  # type: ignore[no-untyped-def]
    from ccpbx.store.migrate import default_migrations_dir

    return load_migrations(default_migrations_dir())


async def test_edited_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    """A migration file changed after it was applied stops the run with a clear error."""
    for m in load_migrations_default():
        (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql + "\n-- edited\n")
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing(database_url: str, tmp_path: Path) -> None:
    """A migration that fails half-way is rolled back and not recorded."""
    for m in load_migrations_default():
        (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    (tmp_path / "9000_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n"
    )
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert (
            await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9000") == 0
        )
    finally:
        await conn.close()


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    """A file in sql/ that is not NNNN_name.sql is an error, not silently skipped."""
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)
