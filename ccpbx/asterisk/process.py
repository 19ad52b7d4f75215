"""A local Asterisk process started from a folder of configuration files.

Used by ``ccpbx conf check`` (a throwaway Asterisk that proves a rendered
configuration) and by the test sandbox. The process has its own run folder
(``etc``, ``lib``, ``spool``, ``run``, ``log``) seen at ``inside`` by Asterisk,
which runs directly or inside a root file system (:class:`ccpbx.rootfs.Runtime`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import structlog

from ccpbx.errors import CcpbxError
from ccpbx.rootfs import Runtime

log = structlog.get_logger(__name__)

RUN_SUBDIRS = ("etc", "lib", "spool", "run", "log", "spool/monitor", "spool/recording", "lib/keys")


class AsteriskProcessError(CcpbxError):
    error_id = "asterisk_process_failed"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AsteriskProcess:
    """One Asterisk whose ``asterisk.conf`` is ``<inside>/etc/asterisk.conf``."""

    def __init__(self, runtime: Runtime, inside: str, name: str = "") -> None:
        self.runtime = runtime
        self.inside = inside
        self.name = name or Path(inside).name
        self.run_dir = runtime.host_path(inside)
        self.process: subprocess.Popen[bytes] | None = None

    # -- paths ---------------------------------------------------------------
    @property
    def conf_file(self) -> str:
        return f"{self.inside}/etc/asterisk.conf"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    def run_dirs(self) -> dict[str, str]:
        """The folders of ``asterisk.conf``'s ``[directories]`` that belong to this run."""
        return {
            "etc": f"{self.inside}/etc",
            "varlib": f"{self.inside}/lib",
            "db": f"{self.inside}/lib",
            "spool": f"{self.inside}/spool",
            "run": f"{self.inside}/run",
            "log": f"{self.inside}/log",
        }

    def make_dirs(self) -> None:
        for sub in RUN_SUBDIRS:
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)

    # -- lifecycle -------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Start Asterisk from the files in ``etc/``; return once it is fully booted."""
        if self.running:
            raise AsteriskProcessError(f"asterisk {self.name} is already running")
        self.make_dirs()
        console = (self.log_dir / "console.log").open("ab")
        argv = self.runtime.command(["asterisk", "-f", "-n", "-C", self.conf_file])
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        console.close()
        self._wait_booted(timeout)
        log.info("asterisk_process_started", name=self.name, pid=self.process.pid)

    def _wait_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ctl = self.run_dir / "run" / "asterisk.ctl"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AsteriskProcessError(
                    f"asterisk exited with {self.process.returncode} during start-up; see "
                    f"{self.log_dir}/console.log:\n{self.console_tail()}",
                    returncode=self.process.returncode,
                )
            if ctl.exists():
                result = self.cli_result(
                    "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())
                )
                if result.returncode == 0 and "fully booted" in result.stdout.lower():
                    return
            time.sleep(0.05)
        self.kill()
        raise AsteriskProcessError(
            f"asterisk did not boot within {timeout} s:\n{self.console_tail()}"
        )

    def console_tail(self, lines: int = 40) -> str:
        path = self.log_dir / "console.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cli_result(self, command: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        argv = self.runtime.command(["asterisk", "-C", self.conf_file, "-rx", command])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run an Asterisk CLI command on this instance; return what it printed."""
        result = self.cli_result(command, timeout)
        if result.returncode != 0:
            raise AsteriskProcessError(
                f"asterisk -rx {command!r} failed: {result.stderr or result.stdout}"
            )
        return result.stdout

    def stop(self, timeout: float = 20.0) -> None:
        """Stop cleanly (``core stop now``); kill if it does not go in time."""
        if not self.running:
            return
        assert self.process is not None
        try:
            self.cli_result("channel request hangup all", timeout=5)
            self.cli_result("core stop now", timeout=timeout)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        log.info("asterisk_process_stopped", name=self.name)

    def kill(self) -> None:
        """``kill -9``: the crash a real PBX host can suffer."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # A killed Asterisk leaves its control socket behind.
        (self.run_dir / "run" / "asterisk.ctl").unlink(missing_ok=True)
        (self.run_dir / "run" / "asterisk.pid").unlink(missing_ok=True)
        log.info("asterisk_process_killed", name=self.name)

    def remove(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
