"""The console's front-end files: vendored packages as the manifest records them, with
their licences, and no page or script of ours that reaches for another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ccpbx.web.assets import STATIC_DIR, VENDOR_DIR, vendored_packages

WEB_DIR = STATIC_DIR.parent
# http(s):// followed by a host, or a protocol-relative //host in a src/href/url()/import.
EXTERNAL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|https?://""")
ALLOWED = re.compile(r"""https?://(?:www\.)?w3\.org/""")  # XML namespaces are names, not fetches


def own_files() -> list[Path]:
    """Templates and our own JS and CSS (the vendored packages are checked by hash)."""
    files = [*WEB_DIR.glob("templates/**/*.html")]
    files += [p for p in STATIC_DIR.rglob("*") if p.is_file() and VENDOR_DIR not in p.parents]
    return sorted(files)


def test_manifest_lists_pinned_packages() -> None:
    """The manifest pins uPlot 1.6.32 and SIP.js 0.21.2, each with an sha512 integrity."""
    pinned = {p.name: p.version for p in vendored_packages()}
    assert pinned["uplot"] == "1.6.32"
    assert pinned["sip.js"] == "0.21.2"
    assert "jssip" not in pinned
    assert all(p.integrity.startswith("sha512-") for p in vendored_packages())


@pytest.mark.parametrize("package", vendored_packages(), ids=lambda p: f"{p.name}-{p.version}")
def test_vendored_files_match_the_manifest(package) -> None:  # type: ignore[no-untyped-def]
    """Every file the manifest lists is there with its recorded sha256, the licence file
    among them, and the package folder holds nothing the manifest does not list."""
    assert package.license_file in package.files
    assert package.license
    for name, digest in package.files.items():
        path = package.folder / name
        assert path.is_file(), f"{path} is missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"
    present = {str(p.relative_to(package.folder)) for p in package.folder.rglob("*") if p.is_file()}
    assert present == set(package.files)


def test_no_vendor_folder_outside_the_manifest() -> None:
    """A folder under vendor/ that no manifest entry owns fails (stale or hand-copied)."""
    owned = {p.folder.name for p in vendored_packages()}
    folders = {p.name for p in VENDOR_DIR.iterdir() if p.is_dir()}
    assert folders == owned


def test_own_templates_and_scripts_name_no_other_host() -> None:
    """No template, script or stylesheet of ours refers to an outside URL (no CDN)."""
    files = own_files()
    assert any(p.suffix == ".js" for p in files)
    assert any(p.suffix == ".html" for p in files)
    offending = [
        f"{path.relative_to(WEB_DIR)}: {m.group(0)}"
        for path in files
        for m in EXTERNAL.finditer(path.read_text())
        if not ALLOWED.match(m.group(0))
    ]
    assert offending == []


def test_vendored_code_loads_nothing_from_another_host() -> None:
    """The vendored packages import no module and load no style from an outside URL."""
    fetches = re.compile(r"""(?:\bimport\s*\(?\s*["']|\bfrom\s+["']|url\(\s*["']?)(?:https?:)?//""")
    offending = [
        str(path.relative_to(VENDOR_DIR))
        for package in vendored_packages()
        for name in package.files
        if (path := package.folder / name).suffix in (".js", ".css")
        and fetches.search(path.read_text())
    ]
    assert offending == []
