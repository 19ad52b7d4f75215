"""`ccpbx ivr check|activate|rollback|status|history|calls` as an admin runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .flows import base, text


def ccpbx(*args: str, database_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CCPBX_CONFIG": ""}
    return subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def write_flow(path: Path, greeting: str, broken: bool = False) -> Path:
    data = base()
    data["prompts"]["closed"]["text"]["en"] = greeting
    if broken:
        data["nodes"]["main"]["choices"]["1"] = "acount"
    path.write_text(text(data))
    return path


def test_check_reports_each_problem_with_its_node(tmp_path: Path) -> None:
    """`ivr check` passes a good file and names the node of each mistake in a bad one."""
    good = write_flow(tmp_path / "good.yaml", "Closed")
    bad = write_flow(tmp_path / "bad.yaml", "Closed", broken=True)
    ok = ccpbx("ivr", "check", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "ok (flow unit" in ok.stdout
    refused = ccpbx("ivr", "check", str(good), str(bad))
    assert refused.returncode == 1
    assert "node main: choice 1 goes to unknown node 'acount'" in refused.stderr


def test_activate_rollback_and_status(tmp_path: Path, database_url: str) -> None:
    """Activate v1 then v2, refuse a broken v3, roll back to v1 in one command."""
    path = tmp_path / "unit.yaml"
    write_flow(path, "Closed for now")
    first = ccpbx("ivr", "activate", str(path), "--by", "alice", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "flow unit version 1 is active for DIDs 8001" in first.stdout
    write_flow(path, "Closed today")
    second = ccpbx("ivr", "activate", str(path), database_url=database_url)
    assert "version 2 is active" in second.stdout
    write_flow(path, "Closed", broken=True)
    refused = ccpbx("ivr", "activate", str(path), database_url=database_url)
    assert refused.returncode == 1
    assert "not activated" in refused.stderr
    back = ccpbx("ivr", "rollback", "unit", "--by", "bob", database_url=database_url)
    assert back.returncode == 0, back.stderr
    assert "rolled back to version 1" in back.stdout
    status = ccpbx("ivr", "status", database_url=database_url)
    assert status.stdout.startswith("unit\tv1\trollback")
    history = ccpbx("ivr", "history", "unit", database_url=database_url).stdout.splitlines()
    assert [line.split("\t")[1:3] for line in history] == [
        ["activate", "v1"],
        ["activate", "v2"],
        ["rollback", "v1"],
    ]
    assert history[-1].startswith("*")
    again = ccpbx("ivr", "rollback", "unit", database_url=database_url)
    assert again.returncode == 1
    assert "no earlier version" in again.stderr
