"""``python -m ccpbx.sandbox.prepare``: make sure the sandbox runtime is ready."""

from __future__ import annotations

import time

from ccpbx import logs
from ccpbx.sandbox.root import ensure_runtime


def main() -> int:
    logs.configure("info", "console")
    started = time.monotonic()
    runtime = ensure_runtime()
    where = runtime.root or "the PATH"
    print(f"sandbox ready: Asterisk and SIPp from {where} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
