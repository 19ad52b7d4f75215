"""Vendor the console's front-end packages from the npm registry, at pinned versions.

    python tools/vendor_assets.py

For each package below: ask the registry (``$NPM_CONFIG_REGISTRY``, else what
``npm config get registry`` says; no host is written here) for the version's tarball
and its integrity hash, check the tarball against that hash, and copy only the files
the console serves, plus the licence, into ``ccpbx/web/static/vendor/<name>-<version>/``.
``manifest.json`` beside them records name, version, integrity, licence and each
file's sha256 (tests/test_web_assets.py checks them). Commit what it writes.
Bumping a version: change it here, run this, commit the new folder and the manifest.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "ccpbx" / "web" / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: tuple[str, ...]  # paths (or fnmatch patterns) inside the tarball's package/
    licence: str  # the licence file's path inside package/
    why: str


PACKAGES = (
    Package(
        "uplot",
        "1.6.32",
        ("dist/uPlot.esm.js", "dist/uPlot.min.css"),
        "LICENSE",
        "the wallboard's live chart (waiting callers over the last hour)",
    ),
    Package(
        "sip.js",
        "0.21.2",
        # ES modules with relative imports and no dependencies: the browser loads
        # lib/index.js as they are (no bundler); the type declarations stay behind.
        ("lib/*.js",),
        "LICENSE.md",
        "the agent's browser phone (SIP over secure websockets, WebRTC media)",
    ),
)


def registry() -> str:
    url = (
        os.environ.get("NPM_CONFIG_REGISTRY")
        or subprocess.run(
            ["npm", "config", "get", "registry"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"no npm registry configured (got {url!r})")
    return url if url.endswith("/") else url + "/"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def check_integrity(data: bytes, integrity: str) -> None:
    """Subresource-integrity form: ``sha512-<base64>`` (the strongest one given is used)."""
    best = sorted(integrity.split(), key=lambda s: s.split("-", 1)[0])[-1]
    algo, _, expected = best.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"integrity mismatch: registry says {best}, tarball is {algo}-{actual}")


def vendor(pkg: Package, base: str) -> dict[str, object]:
    meta = json.loads(fetch(f"{base}{urllib.parse.quote(pkg.name, safe='@')}/{pkg.version}"))
    dist = meta["dist"]
    tarball = fetch(dist["tarball"])
    check_integrity(tarball, dist["integrity"])
    target = VENDOR / f"{pkg.name}-{pkg.version}"
    if target.exists():
        shutil.rmtree(target)
    files: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith("package/"):
                continue
            inner = member.name.removeprefix("package/")
            wanted = inner == pkg.licence or any(fnmatch.fnmatchcase(inner, p) for p in pkg.files)
            if not wanted or ".." in Path(inner).parts:
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            data = extracted.read()
            out = target / inner
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            files[inner] = hashlib.sha256(data).hexdigest()
    if pkg.licence not in files:
        raise SystemExit(f"{pkg.name} {pkg.version}: no licence file {pkg.licence}")
    print(f"vendored {pkg.name} {pkg.version}: {len(files)} files ({meta.get('license')})")
    return {
        "name": pkg.name,
        "version": pkg.version,
        "integrity": dist["integrity"],
        "license": meta.get("license"),
        "license_file": pkg.licence,
        "why": pkg.why,
        "files": dict(sorted(files.items())),
    }


def main() -> int:
    base = registry()
    VENDOR.mkdir(parents=True, exist_ok=True)
    entries = [vendor(pkg, base) for pkg in PACKAGES]
    keep = {f"{p.name}-{p.version}" for p in PACKAGES}
    for old in VENDOR.iterdir():
        if old.is_dir() and old.name not in keep:
            shutil.rmtree(old)
    manifest = {"packages": entries}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
