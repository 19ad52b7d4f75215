"""ccpbx as ops run it: the CLI, a config file, systemd notifications and signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port


def write_config(
    path: Path, asterisk: AsteriskInstance, database_url: str, http_port: int, level: str = "info"
) -> None:
    s = asterisk.settings
    path.write_text(
        f"""[ami]
port = {s.ami_port}
username = "{s.ami_username}"
secret = "{s.ami_secret}"
[agi]
port = {s.agi_port}
[http]
port = {http_port}
[database]
url = "{database_url}"
pool_min = 1
[log]
level = "{level}"
format = "json"
"""
    )


def ccpbx(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccpbx", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )  # type: ignore[call-overload]


def get_json(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_notifies_systemd_and_stops_on_sigterm(
    asterisk: AsteriskInstance, database_url: str, tmp_path: Path
) -> None:
    """`ccpbx serve` sends READY=1 once up, then watchdog pings, serves /status green,
    reloads on SIGHUP, and on SIGTERM sends STOPPING=1 and exits 0 within the limit."""
    http_port = free_tcp_port()
    config = tmp_path / "ccpbx.toml"
    write_config(config, asterisk, database_url, http_port)
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccpbx", "--config", str(config), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        messages = [notify.recv(4096).decode() for _ in range(3)]
        assert messages[0].startswith("READY=1"), messages
        assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"], messages  # pinged every 0.2 s
        deadline = time.monotonic() + 20
        code, body = 0, {}
        while time.monotonic() < deadline:
            code, body = get_json(f"http://127.0.0.1:{http_port}/status")
            if code == 200:
                break
            time.sleep(0.1)
        assert code == 200, body
        assert body["components"]["ami"]["state"] == "connected"

        write_config(config, asterisk, database_url, http_port, level="debug")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        while (message := notify.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert message.startswith("STOPPING=1"), message
        assert proc.wait(timeout=25) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate(timeout=10)
        notify.close()
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert "daemon_started" in events
    assert "config_reloaded" in events
    assert events[-1] == "daemon_stopped"


def test_migrate_and_token_commands(database_url: str, tmp_path: Path) -> None:
    """`ccpbx migrate` is idempotent and `ccpbx token create` prints a usable token once."""
    env = {**os.environ, "DATABASE_URL": database_url}
    first = ccpbx("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0 migration(s)" in first.stdout  # the test database is already migrated
    created = ccpbx("token", "create", "--role", "supervisor", "--name", "floor lead", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ccpbx_")
    assert len(token) > 40
    listed = ccpbx("token", "list", env=env)
    assert "supervisor\tactive\tfloor lead" in listed.stdout
    assert token not in listed.stdout


def test_bad_config_is_reported_clearly(tmp_path: Path) -> None:
    """A bad config value stops `ccpbx serve` at once with the key named, exit code 2."""
    config = tmp_path / "ccpbx.toml"
    config.write_text("[http]\nport = 99999\n")
    result = ccpbx("--config", str(config), "serve")
    assert result.returncode == 2
    assert "http.port: port must be between 0 and 65535" in result.stderr
