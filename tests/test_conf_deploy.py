"""Writing into the live folder (only managed files, atomically, mode kept) and the
version repository (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from ccpbx.asterisk import apply, deploy, versions
from ccpbx.asterisk.expect import expectations
from ccpbx.config import load
from ccpbx.errors import Conflict


def test_write_replaces_only_the_given_files(tmp_path: Path) -> None:
    """Changed files are replaced keeping their mode, new ones made 0640, None removes,
    and a file ccpbx does not manage is never touched; no temporary file stays."""
    (tmp_path / "pjsip.conf").write_text("old\n")
    (tmp_path / "pjsip.conf").chmod(0o644)
    (tmp_path / "custom.conf").write_text("mine\n")
    (tmp_path / "gone.conf").write_text("x\n")
    files = {"pjsip.conf": "new\n", "extensions.conf": "ext\n", "custom.conf": "mine\n"}
    before = deploy.changes(files, tmp_path)
    assert before == {"extensions.conf": None, "pjsip.conf": "old\n"}
    deploy.write({n: files[n] for n in before} | {"gone.conf": None}, tmp_path)
    assert (tmp_path / "pjsip.conf").read_text() == "new\n"
    assert (tmp_path / "pjsip.conf").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "extensions.conf").stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "gone.conf").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "custom.conf",
        "extensions.conf",
        "pjsip.conf",
    ]
    assert deploy.changes(files, tmp_path) == {}
    deploy.write(before, tmp_path)  # putting back: the new file goes, the old text returns
    assert (tmp_path / "pjsip.conf").read_text() == "old\n"
    assert not (tmp_path / "extensions.conf").exists()


async def test_versions_record_history_and_last_applied(database_url: str) -> None:
    """Every attempt is a version with an audit entry; last_applied skips failures."""
    conn = await asyncpg.connect(database_url)
    try:
        assert await versions.last_applied(conn) is None
        files = {"pjsip.conf": "; managed\n[global]\n"}
        expect = expectations(files, ["1001"])
        v1 = await versions.record(
            conn,
            versions.Attempt(
                files,
                expect,
                "applied",
                "anna",
                "first",
                ["pjsip.conf", "extensions.conf"],
                previous={"pjsip.conf": "; the admin's own\n", "extensions.conf": None},
            ),
        )
        broken = {"pjsip.conf": "broken\n"}
        v2 = await versions.record(
            conn, versions.Attempt(broken, expect, "rolled_back", "anna", detail="reload failed")
        )
        assert await versions.last_applied(conn) == files
        rows = await versions.history(conn)
        assert [(r.version, r.result) for r in rows] == [(v2, "rolled_back"), (v1, "applied")]
        full = await versions.get(conn, v1)
        assert full.files == files
        assert full.expect == expect.as_dict()
        assert full.previous == {"pjsip.conf": "; the admin's own\n", "extensions.conf": None}
        v3 = await versions.record(
            conn, versions.Attempt(files, expect, "applied", "bob", rollback_of=v1)
        )
        audit = await conn.fetch(
            "SELECT actor, action, object_id, details->>'result' AS result FROM audit_log"
            " WHERE object_type = 'asterisk_conf' ORDER BY id"
        )
        assert [tuple(a) for a in audit] == [
            ("anna", "apply", str(v1), "applied"),
            ("anna", "apply", str(v2), "rolled_back"),
            ("bob", "rollback", str(v3), "applied"),
        ]
    finally:
        await conn.close()


async def test_one_apply_at_a_time(database_url: str) -> None:
    """While one apply holds the lock, another is refused at once; then it may go."""
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        async with versions.exclusive(first):
            with pytest.raises(Conflict, match="another `ccpbx conf apply`"):
                async with versions.exclusive(second):
                    pass
        async with versions.exclusive(second):
            pass
    finally:
        await first.close()
        await second.close()


async def test_applied_config_for_doctor(database_url: str) -> None:
    """Doctor gets the last applied files and the folder under [asterisk] root."""
    config = load(
        None,
        {
            "DATABASE_URL": database_url,
            "CCPBX_ASTERISK_ROOT": "/srv/pbx-root",
            "CCPBX_ASTERISK_CONF_DIR": "/etc/asterisk",
        },
    )
    assert await apply.applied_config(config) is None
    files = {"pjsip.conf": "; managed\n"}
    conn = await asyncpg.connect(database_url)
    try:
        await versions.record(
            conn, versions.Attempt(files, expectations(files, []), "applied", "anna")
        )
    finally:
        await conn.close()
    assert await apply.applied_config(config) == (files, Path("/srv/pbx-root/etc/asterisk"))
