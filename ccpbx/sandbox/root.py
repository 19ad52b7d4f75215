"""Where the sandbox Asterisk and SIPp come from.

An ``asterisk`` (and ``sipp``) on the PATH is used as it is. Otherwise ccpbx
builds a Debian ``sid`` root file system with mmdebstrap holding Asterisk 22,
SIPp, sounds and music on hold, caches it outside the checkout and runs the
programs in it with ``chroot`` (as root) or ``unshare --map-root-user`` (a user
without root, where the kernel allows user namespaces).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import structlog

from ccpbx.rootfs import Runtime

log = structlog.get_logger(__name__)

SUITE = "sid"
PACKAGES = (
    "asterisk",
    "sip-tester",
    "asterisk-moh-opsound-wav",
    "asterisk-core-sounds-en-wav",
    "asterisk-core-sounds-es-wav",
    "espeak-ng",
    "sox",
)
_MARKER = ".ccpbx-sandbox-ok"


class SandboxError(RuntimeError):
    pass


def cache_dir() -> Path:
    explicit = os.environ.get("CCPBX_SANDBOX_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ccpbx"


def root_dir() -> Path:
    digest = hashlib.sha256(" ".join((SUITE, *PACKAGES)).encode()).hexdigest()[:10]
    return cache_dir() / f"asterisk-{SUITE}-{digest}"


def debian_mirror(
    sources_dir: Path = Path("/etc/apt/sources.list.d"),
    sources_list: Path = Path("/etc/apt/sources.list"),
) -> str:
    """The Debian archive this machine's apt uses (not its security archive)."""
    candidates: list[str] = []
    for path in sorted(sources_dir.glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                candidates.extend(line.split()[1:])
    if sources_list.exists():
        for line in sources_list.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                candidates.append(next(p for p in parts[1:] if not p.startswith("[")))
    for uri in candidates:
        if "security" not in uri:
            return uri
    raise SandboxError("no Debian mirror found in the apt sources of this machine")


def _root_works(root: Path) -> bool:
    if not (root / _MARKER).exists():
        return False
    try:
        result = subprocess.run(
            Runtime(root).command(["asterisk", "-V"]), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and b"Asterisk 2" in result.stdout


def _ensure_mmdebstrap() -> str:
    found = shutil.which("mmdebstrap")
    if found:
        return found
    if os.geteuid() != 0:
        raise SandboxError("mmdebstrap is not installed; install it (apt-get install mmdebstrap)")
    log.info("sandbox_installing_mmdebstrap")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "mmdebstrap"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("mmdebstrap")
    if not found:
        raise SandboxError("mmdebstrap could not be installed")
    return found


def ensure_hosts_entry(root: Path, hostname: str | None = None) -> None:
    """Name lookups of the machine's own name must not leave the root (they stall calls)."""
    name = hostname or socket.gethostname()
    hosts = root / "etc" / "hosts"
    text = hosts.read_text() if hosts.exists() else ""
    if any(name in line.split()[1:] for line in text.splitlines() if line.strip()):
        return
    hosts.write_text(text + f"127.0.0.1\t{name}\n")


def _finish_root(root: Path) -> None:
    ensure_hosts_entry(root)
    sounds = root / "usr/share/asterisk/sounds"
    # Debian installs the Spanish set as es_MX_f_Allison without a language link.
    if (sounds / "es_MX_f_Allison").is_dir() and not (sounds / "es").exists():
        (sounds / "es").symlink_to("es_MX_f_Allison")


def build_root(root: Path) -> None:
    mmdebstrap = _ensure_mmdebstrap()
    staging = root.with_name(root.name + f".building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    argv = [
        mmdebstrap,
        "--variant=minbase",
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(staging),
        debian_mirror(),
    ]
    if os.geteuid() != 0:
        argv.insert(1, "--mode=unshare")
    log.info("sandbox_root_building", root=str(root), packages=list(PACKAGES))
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise SandboxError(f"mmdebstrap failed ({result.returncode}):\n{result.stderr[-4000:]}")
    _finish_root(staging)
    (staging / _MARKER).write_text(" ".join(PACKAGES) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    log.info("sandbox_root_built", root=str(root))


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_runtime() -> Runtime:
    """A runtime with Asterisk 22 and SIPp, building the cached root if needed."""
    if (
        os.environ.get("CCPBX_SANDBOX_ROOT") != "always"
        and shutil.which("asterisk")
        and shutil.which("sipp")
    ):
        return Runtime(None)
    root = root_dir()
    with _lock(cache_dir() / ".lock"):
        if not _root_works(root):
            build_root(root)
        _finish_root(root)
    return Runtime(root)
