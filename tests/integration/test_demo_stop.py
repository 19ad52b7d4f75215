"""`make demo` stopped by a signal cleans up everything it started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from ccpbx.sandbox.root import ensure_runtime


def _runs_dir() -> Path:
    runtime = ensure_runtime()
    return runtime.host_path("/var/tmp/ccpbx-runs" if runtime.root is not None else "/tmp")


def _ignore_sigint() -> None:
    # What a shell without job control does to a job it starts in the background.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_stops_the_demo_and_removes_what_it_started(
    sig: signal.Signals, pg_server_url: str
) -> None:
    """SIGINT (inherited ignored, as for a background job) or SIGTERM in the middle of
    the walk-through stops the demo within a minute (reported): its Asterisk stopped, its run
    folder and its database gone, exit status 128 + the signal."""
    runs = _runs_dir()
    before = set(runs.glob("demo-*")) if runs.exists() else set()
    env = {k: v for k, v in os.environ.items() if k != "CCPBX_KEEP_SANDBOX"}
    proc = subprocess.Popen(  # noqa: ASYNC220 (read from a thread below)
        [sys.executable, "-u", "-m", "ccpbx.sandbox.demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        # Wait until the daemon is up and the first call is placed, then interrupt.
        while time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line:
                break
            seen.append(line)
            if "a customer calls DID" in line:
                break
        assert any("a customer calls DID" in x for x in seen), "".join(seen[-40:])
        ours = set(runs.glob("demo-*")) - before
        assert len(ours) == 1, ours
        proc.send_signal(sig)
        started = time.monotonic()
        rest, _ = await asyncio.to_thread(proc.communicate, timeout=90)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(seen) + rest
    print(f"demo stopped {stopped_in:.1f} s after {sig.name}")
    assert proc.returncode == 128 + sig, output[-3000:]
    assert f"{sig.name}: stopping the demo" in output
    assert "Traceback" not in output, output[-3000:]
    assert not (ours & set(runs.glob("demo-*"))), "the demo's run folder is still there"
    (folder,) = ours
    leftover = subprocess.run(  # noqa: ASYNC221 (the demo has ended)
        ["pgrep", "-f", folder.name], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", "a process of the demo is still running"
    conn = await asyncpg.connect(pg_server_url)
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            f"ccpbx_demo_{proc.pid}_%",
        )
    finally:
        await conn.close()
    assert names == [], "the demo's database was not dropped"
