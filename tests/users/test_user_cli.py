"""`ccpbx user ...` on a real database: add, passwd, disable, enable, list; passwords
from stdin or a prompt typed twice, never from an argument."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys

import asyncpg
import pytest

from ccpbx.cli import build_parser
from ccpbx.errors import InvalidInput
from ccpbx.users import store
from ccpbx.users.passwords import verify_password

PW = "correct horse battery"


def ccpbx(*args: str, database_url: str = "", input: str = "") -> subprocess.CompletedProcess[str]:
    """The command, as a person runs it, with this database and no config file."""
    env = {**os.environ, "DATABASE_URL": database_url, "CCPBX_CONFIG": ""}
    return subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def _sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(url, query, *args))


def _add_agent(url: str, agent: str) -> None:
    _sql(url, "INSERT INTO acd_agents (agent, name) VALUES ($1, $2)", agent, f"Agent {agent}")


async def _open_session(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        user = await store.get_user(conn, name)
        now = dt.datetime.now(dt.UTC)
        await store.create_session(
            conn, user, f"sid-{name}", "csrf", source=None, now=now, expires_at=now
        )
    finally:
        await conn.close()


def test_user_add_and_list(database_url: str) -> None:
    """`user add` stores an agent user tied to its agent, with an Argon2id hash of the
    stdin password; `user list` shows it (text and JSON) without any hash; each add is
    audited."""
    _add_agent(database_url, "1001")
    done = ccpbx(
        "user",
        "add",
        "anna",
        "--role",
        "agent",
        "--agent",
        "1001",
        "--display-name",
        "Anna Berg",
        "--password-stdin",
        database_url=database_url,
        input=PW + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "user anna added (agent acting as agent 1001)\n"
    done = ccpbx(
        "user", "add", "sue", "--role", "supervisor", "--password-stdin",
        database_url=database_url, input=PW,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = _sql(database_url, "SELECT * FROM users WHERE name = 'anna'")
    assert row["password_hash"].startswith("$argon2id$")
    assert verify_password(row["password_hash"], PW)
    assert (row["role"], row["agent"], row["display_name"]) == ("agent", "1001", "Anna Berg")
    listed = ccpbx("user", "list", "--json", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert [(u["name"], u["role"], u["agent"], u["disabled"]) for u in users] == [
        ("anna", "agent", "1001", False),
        ("sue", "supervisor", None, False),
    ]
    assert "argon2" not in listed.stdout
    text = ccpbx("user", "list", database_url=database_url)
    assert text.stdout.splitlines()[1] == "anna\tagent\t1001\tactive\tAnna Berg"
    audited = _sql(database_url, "SELECT object_id, action FROM audit_log ORDER BY id")
    assert [(r["object_id"], r["action"]) for r in audited] == [
        ("anna", "user.added"),
        ("sue", "user.added"),
    ]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("--role", "admin"), "short", "the password is too short: at least 12 characters"),
        (("--role", "agent"), PW, "an agent user needs --agent"),
        (("--role", "agent", "--agent", "1999"), PW, "no ACD agent 1999"),
        (("--role", "admin"), "", "standard input held no password"),
    ],
)
def test_user_add_refusals_are_clear(
    database_url: str, args: tuple[str, ...], password: str, message: str
) -> None:
    """A short password, an agent user without an agent or with an unknown one, and an
    empty stdin each fail (exit 1) with a message saying why, and store nothing."""
    done = ccpbx(
        "user", "add", "anna", *args, "--password-stdin",
        database_url=database_url, input=password + "\n" if password else "",
    )  # fmt: skip
    assert done.returncode == 1
    assert message in done.stderr
    assert done.stdout == ""
    assert _sql(database_url, "SELECT count(*) AS n FROM users")[0]["n"] == 0


def test_password_is_never_an_argument_and_names_are_checked(database_url: str) -> None:
    """There is no --password option (usage error, exit 2), and a bad name is a usage error."""
    done = ccpbx("user", "add", "anna", "--role", "admin", "--password", PW)
    assert done.returncode == 2
    done = ccpbx("user", "add", "Anna Berg", "--role", "admin", "--password-stdin", input=PW)
    assert done.returncode == 2
    assert "a user name is" in done.stderr


def test_passwd_disable_enable(database_url: str) -> None:
    """`user passwd` sets a new hash, lifts a lockout and ends the user's sessions;
    `user disable` marks it disabled and ends its sessions; `user enable` undoes it;
    each is audited; an unknown user is a clear error."""
    done = ccpbx(
        "user", "add", "sue", "--role", "supervisor", "--password-stdin",
        database_url=database_url, input=PW,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    asyncio.run(_open_session(database_url, "sue"))
    _sql(database_url, "UPDATE users SET failed_attempts = 4, locked_until = now() + '1h'")
    done = ccpbx(
        "user", "passwd", "sue", "--password-stdin",
        database_url=database_url, input="another fine password\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "password of sue changed; 1 session(s) ended\n"
    (row,) = _sql(database_url, "SELECT * FROM users WHERE name = 'sue'")
    assert verify_password(row["password_hash"], "another fine password")
    assert not verify_password(row["password_hash"], PW)
    assert (row["failed_attempts"], row["locked_until"]) == (0, None)
    asyncio.run(_open_session(database_url, "sue"))
    done = ccpbx("user", "disable", "sue", database_url=database_url)
    assert done.stdout == "user sue disabled; 1 session(s) ended\n"
    assert _sql(database_url, "SELECT count(*) AS n FROM user_sessions")[0]["n"] == 0
    text = ccpbx("user", "list", database_url=database_url)
    assert text.stdout.splitlines()[1].split("\t")[3] == "disabled"
    done = ccpbx("user", "enable", "sue", database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert not _sql(database_url, "SELECT disabled FROM users")[0]["disabled"]
    missing = ccpbx("user", "disable", "nobody", database_url=database_url)
    assert missing.returncode == 1
    assert "no user 'nobody'" in missing.stderr
    actions = _sql(database_url, "SELECT action FROM audit_log ORDER BY id")
    assert [r["action"] for r in actions] == [
        "user.added",
        "user.password_changed",
        "user.disabled",
        "user.enabled",
    ]


def test_prompted_password_must_be_typed_the_same_twice(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --password-stdin the password is asked twice (getpass); two different
    answers change nothing, the same answer twice adds the user."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CCPBX_CONFIG", "")
    answers = iter([PW, PW + "x", PW, PW])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    args = build_parser().parse_args(["user", "add", "root", "--role", "admin"])
    # The command itself (main() would also set up logging on pytest's captured stderr).
    with pytest.raises(InvalidInput, match="the two passwords differ"):
        asyncio.run(args.func(args))
    assert _sql(database_url, "SELECT count(*) AS n FROM users")[0]["n"] == 0
    assert asyncio.run(args.func(args)) == 0
    assert capsys.readouterr().out == "user root added (admin)\n"
