"""``python -m ccpbx.sandbox.prepare``: make sure the sandbox runtime is ready.

Besides the Asterisk + SIPp root, the host needs the tools the network tests use
(``ip`` and ``iptables`` for the namespaces of the NAT tests) and the browser the web
console's tests drive (Debian's ``chromium`` and its ``chromedriver``: Playwright's
own browser downloads are never used); missing ones are installed from the machine's
own package archive when this runs as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from ccpbx import logs
from ccpbx.sandbox.root import ensure_runtime

# command -> Debian package providing it
HOST_TOOLS = {
    "ip": "iproute2",
    "iptables": "iptables",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}


def ensure_host_tools() -> list[str]:
    """Install the missing host tools (as root, with apt-get); the packages installed."""
    missing = sorted({pkg for cmd, pkg in HOST_TOOLS.items() if shutil.which(cmd) is None})
    if not missing:
        return []
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "missing host tools for the network and browser tests;"
            f" as root: apt-get install {' '.join(missing)}",
            file=sys.stderr,
        )
        return []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"could not install {' '.join(missing)} with apt-get:\n{tail}")
    return missing


def main() -> int:
    logs.configure("info", "console")
    started = time.monotonic()
    installed = ensure_host_tools()
    runtime = ensure_runtime()
    where = runtime.root or "the PATH"
    extra = f"; installed {', '.join(installed)}" if installed else ""
    print(
        f"sandbox ready: Asterisk and SIPp from {where}{extra} ({time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
