"""Running a program inside another root file system (an Asterisk install in a chroot).

Used by the sandbox (Asterisk and SIPp from a cached Debian root) and by
``ccpbx prompts build --root`` (espeak-ng and sox from the root that holds the
sounds): ``chroot`` as root, ``unshare --map-root-user chroot`` for a user without
root where the kernel allows user namespaces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Runtime:
    """How to run Asterisk and SIPp: directly, or inside a root file system."""

    root: Path | None

    def command(self, argv: Sequence[str]) -> list[str]:
        if self.root is None:
            return list(argv)
        if os.geteuid() == 0:
            return ["chroot", str(self.root), *argv]
        return ["unshare", "--map-root-user", "chroot", str(self.root), *argv]

    def host_path(self, inside: str) -> Path:
        """Where a path seen by Asterisk lies on the host."""
        if self.root is None:
            return Path(inside)
        return self.root / inside.lstrip("/")
