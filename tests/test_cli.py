"""The `ccpbx` command's manners: exit codes, stdout for results, stderr for the rest."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from ccpbx.cli import build_parser, configure_command_logging, main


def ccpbx(*args: str, database_url: str = "", **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CCPBX_CONFIG": ""}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=kwargs.pop("capture_output", True),
        text=True,
        timeout=60,
        check=False,
        env=env,
        **kwargs,
    )


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_every_command_and_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command's `--help` exits 0, and each of its options and arguments has a help
    text (the `bench` command has its own, tested below)."""
    commands = list(_commands(build_parser()))
    assert len(commands) > 20
    for path, parser in commands:
        if path == ("bench",):
            continue
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing = [c.dest for c in action._choices_actions if not c.help]
            else:
                missing = [] if action.help else [action.dest]
            assert not missing, (path, missing)
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0, path
    capsys.readouterr()


def test_bench_help_exits_zero_and_says_what_there_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`ccpbx bench --help` explains the benchmarks (exit 0); a bare `ccpbx bench` is a
    usage error (exit 2) with the same text on stderr."""
    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert "dialer" in out
    assert "make bench" in out
    assert main(["bench"]) == 2
    assert "usage: ccpbx bench dialer" in capsys.readouterr().err


def test_exit_codes_and_streams() -> None:
    """A bad option exits 2, an unreachable database 1 with what to set and run;
    messages go to stderr and stdout stays empty."""
    usage = ccpbx(
        "campaign", "create", "x", "--queue", "q", "--trunk", "t", "--caller-id", "2125550000"
    )
    assert usage.returncode == 2
    assert usage.stdout == ""
    assert "--caller-id: caller ID '2125550000' is not E.164" in usage.stderr
    down = ccpbx("campaign", "list", database_url="postgresql://postgres@127.0.0.1:9/none")
    assert down.returncode == 1
    assert down.stdout == ""
    assert "cannot reach the database" in down.stderr
    assert "DATABASE_URL" in down.stderr
    assert "ccpbx migrate --create-database" in down.stderr
    assert "Traceback" not in down.stderr


def test_missing_database_and_missing_tables_say_what_to_run(database_url: str) -> None:
    """A database that does not exist points at `migrate --create-database`; one without
    ccpbx's tables points at `migrate`."""
    absent = database_url.rsplit("/", 1)[0] + "/ccpbx_absent_db"
    missing = ccpbx("campaign", "list", database_url=absent)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    assert "ccpbx migrate --create-database" in missing.stderr
    empty = ccpbx("campaign", "list", database_url=database_url.rsplit("/", 1)[0] + "/postgres")
    assert empty.returncode == 1
    assert "run `ccpbx migrate`" in empty.stderr


def test_logs_go_to_stderr_results_to_stdout(database_url: str) -> None:
    """`migrate` logs on stderr; stdout holds only its result, and `token list --json`
    is one JSON document."""
    migrated = ccpbx("migrate", database_url=database_url)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.splitlines()[0] == "applied 0 migration(s)"
    assert all(not line.startswith("{") for line in migrated.stdout.splitlines())
    created = ccpbx(
        "token", "create", "--role", "admin", "--name", "ops", database_url=database_url
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("ccpbx_")
    assert "shown only once" in created.stderr
    listed = ccpbx("token", "list", "--json", database_url=database_url)
    (token,) = json.loads(listed.stdout)
    assert (token["role"], token["state"], token["name"]) == ("admin", "active", "ops")
    bad_expiry = ccpbx(
        "token", "create", "--role", "admin", "--expires", "soon", database_url=database_url
    )
    assert bad_expiry.returncode == 2
    assert "not an ISO date" in bad_expiry.stderr


def test_commands_log_at_the_configured_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command's log lines go to stderr at the config's [log] level: an info line is
    printed at "info" and dropped at "warning"; stdout stays empty."""
    config = tmp_path / "ccpbx.toml"
    printed = {}
    before = structlog.get_config()
    try:
        for level in ("warning", "info"):
            config.write_text(f'[log]\nlevel = "{level}"\nformat = "json"\n', encoding="utf-8")
            configure_command_logging(argparse.Namespace(config=config, command="token"))
            structlog.get_logger("probe").info("probe_event")
            out, err = capsys.readouterr()
            assert out == ""
            printed[level] = err.count('"event": "probe_event"')
    finally:
        # The loggers print to this test's captured stderr, closed once it ends.
        structlog.configure(**before)
    assert printed == {"warning": 0, "info": 1}


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """Output into a pipe whose reader is gone (`ccpbx ... | head -1`) ends the command
    without a traceback, with the shell's SIGPIPE status."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = ccpbx(
            "bench",
            "--help",
            stdout=write_end,
            capture_output=False,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141
