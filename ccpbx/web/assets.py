"""Static files of the console: safe lookup under ``static/``, versioned URLs and caching.

A URL with ``?v=<hash of the file>`` (what :func:`StaticFiles.url` gives templates) and
anything under ``vendor/<name>-<version>/`` never changes: cached for a year. Other
paths (a module imported by another without a version) are revalidated each time.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from ccpbx.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_PREFIX = "/static/"
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/css", ".css")


@dataclass(frozen=True)
class VendoredPackage:
    name: str
    version: str
    integrity: str
    license: str | None
    license_file: str
    files: dict[str, str]  # path inside the package folder -> sha256

    @property
    def folder(self) -> Path:
        return VENDOR_DIR / f"{self.name}-{self.version}"


def vendored_packages() -> list[VendoredPackage]:
    """The packages ``tools/vendor_assets.py`` recorded in ``vendor/manifest.json``."""
    data: dict[str, Any] = json.loads((VENDOR_DIR / "manifest.json").read_text())
    return [
        VendoredPackage(
            name=p["name"],
            version=p["version"],
            integrity=p["integrity"],
            license=p.get("license"),
            license_file=p["license_file"],
            files=dict(p["files"]),
        )
        for p in data["packages"]
    ]


@cache
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class StaticFiles:
    """Finds and serves files under ``root`` (never outside it)."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root.resolve()

    def find(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise NotFound("no such static file", path=relative)
        return path

    def url(self, relative: str) -> str:
        """The file's URL with its content hash: a changed file gets a new URL."""
        path = self.find(relative)
        return f"{STATIC_PREFIX}{relative}?v={_digest(path, path.stat().st_mtime_ns)}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        path = self.find(relative)
        versioned = relative.startswith("vendor/") or request.query.get("v") == _digest(
            path, path.stat().st_mtime_ns
        )
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return web.FileResponse(
            path,
            headers={
                "Cache-Control": LONG_CACHE if versioned else REVALIDATE,
                "Content-Type": content_type,
                "X-Content-Type-Options": "nosniff",
            },
        )
