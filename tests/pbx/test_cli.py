"""`ccpbx phone|trunk|number`: what a person sees, what a script reads, exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from ccpbx.pbx import model


def ccpbx(
    *args: str, database_url: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CCPBX_CONFIG": str(config or "")}
    return subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "ccpbx.toml"
    path.write_text('[sip]\nrealm = "pbx.example"\ndomain = "pbx.example.com"\nport = 5070\n')
    return path


def test_phone_add_prints_the_secret_once_and_list_never(database_url: str, tmp_path: Path) -> None:
    """phone add prints the generated secret on stdout (only); list and JSON never show it."""
    cfg = _config(tmp_path)
    added = ccpbx("phone", "add", "1001", "--label", "Anna", database_url=database_url, config=cfg)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip()
    assert len(secret) == 24
    assert "shown only once" in added.stderr
    listed = ccpbx("phone", "list", "--json", database_url=database_url, config=cfg)
    rows = json.loads(listed.stdout)
    assert rows[0]["name"] == "1001"
    assert rows[0]["realm"] == "pbx.example"
    assert secret not in listed.stdout
    assert "md5" not in listed.stdout
    bad = ccpbx("phone", "add", "Bad Name", database_url=database_url, config=cfg)
    assert bad.returncode == 2
    assert "phone name" in bad.stderr
    again = ccpbx("phone", "add", "1001", database_url=database_url, config=cfg)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_reset_secret_provision_prints_account_qr_and_desk_file(
    database_url: str, tmp_path: Path
) -> None:
    """reset-secret --provision prints user, domain, port, transport and the new password,
    a terminal QR code, and writes a Yealink file holding that password (mode 600)."""
    cfg = _config(tmp_path)
    assert (
        ccpbx(
            "phone", "add", "1002", "--label", "Bram", database_url=database_url, config=cfg
        ).returncode
        == 0
    )
    desk = tmp_path / "001565aabbcc.cfg"
    out = ccpbx(
        "phone",
        "reset-secret",
        "1002",
        "--provision",
        "--desk-file",
        str(desk),
        database_url=database_url,
        config=cfg,
    )
    assert out.returncode == 0, out.stderr
    password = next(
        line.split()[1] for line in out.stdout.splitlines() if line.startswith("password:")
    )
    assert "domain:    pbx.example.com" in out.stdout
    assert "port:      5070" in out.stdout
    assert "transport: udp" in out.stdout
    assert "\u2588" in out.stdout  # the QR code's blocks
    text = desk.read_text()
    assert f"account.1.password = {password}" in text
    assert "account.1.user_name = 1002" in text
    assert "account.1.sip_server.1.address = pbx.example.com" in text
    assert "account.1.sip_server.1.port = 5070" in text
    assert oct(desk.stat().st_mode & 0o777) == "0o600"
    listed = json.loads(
        ccpbx("phone", "list", "--json", database_url=database_url, config=cfg).stdout
    )
    assert listed[0]["name"] == "1002"

    # the password printed is the one whose digest is stored
    async def stored() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return str(await conn.fetchval("SELECT md5_cred FROM pbx_phones WHERE name = '1002'"))
        finally:
            await conn.close()

    assert asyncio.run(stored()) == model.md5_cred("1002", "pbx.example", password)


def test_provision_without_a_fresh_secret_says_how_to_get_one(
    database_url: str, tmp_path: Path
) -> None:
    """phone provision shows the account without a password and names the command that
    makes one; without [sip] domain it says which key to set."""
    cfg = _config(tmp_path)
    ccpbx("phone", "add", "1003", database_url=database_url, config=cfg)
    out = ccpbx("phone", "provision", "1003", "--no-qr", database_url=database_url, config=cfg)
    assert out.returncode == 0, out.stderr
    assert "reset-secret 1003 --provision" in out.stdout
    assert "\u2588" not in out.stdout
    bare = tmp_path / "bare.toml"
    bare.write_text("")
    missing = ccpbx("phone", "provision", "1003", database_url=database_url, config=bare)
    assert missing.returncode == 1
    assert "[sip] domain" in missing.stderr


def test_trunk_and_number_commands(database_url: str, tmp_path: Path) -> None:
    """trunk add refuses a trunk recognised by nothing (exit 1, says what to give);
    number add takes E.164 only (exit 2 otherwise) and lists routes."""
    cfg = _config(tmp_path)
    none = ccpbx(
        "trunk", "add", "acme", "--host", "sip.acme.example", database_url=database_url, config=cfg
    )
    assert none.returncode == 1
    assert "--identify" in none.stderr
    ok = ccpbx(
        "trunk",
        "add",
        "acme",
        "--host",
        "203.0.113.5",
        "--identify",
        "203.0.113.0/24",
        database_url=database_url,
        config=cfg,
    )
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(
        ccpbx("trunk", "list", "--json", database_url=database_url, config=cfg).stdout
    )
    assert listed[0]["identify"] == ["203.0.113.0/24"]
    assert (
        ccpbx(
            "number",
            "add",
            "2125550100",
            "--to",
            "queue:sales",
            database_url=database_url,
            config=cfg,
        ).returncode
        == 2
    )
    missing_queue = ccpbx(
        "number",
        "add",
        "+12125550100",
        "--to",
        "queue:sales",
        database_url=database_url,
        config=cfg,
    )
    assert missing_queue.returncode == 1
