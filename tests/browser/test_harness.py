"""The browser harness itself: a missing browser fails (never skips), and a failed
test's pages are saved as screenshot and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser

from .conftest import Console, chromium_path, save_pages


def test_missing_browser_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chromium that is not there is a test failure with the fix in its message."""
    monkeypatch.setenv("CCPBX_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        chromium_path()


async def test_failed_test_pages_are_saved(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save_pages writes each page's screenshot and HTML into $CCPBX_ARTIFACTS."""
    monkeypatch.setenv("CCPBX_ARTIFACTS", str(tmp_path))
    console = Console(browser, "http://127.0.0.1:9")
    context = await browser.new_context()
    page = await context.new_page()
    await page.set_content("<h1 id=proof>saved page</h1>")
    console.pages.append(("board", page))
    await save_pages(console, "some_test")
    await context.close()
    assert (tmp_path / "some_test-board.png").read_bytes().startswith(b"\x89PNG")
    assert 'id="proof"' in (tmp_path / "some_test-board.html").read_text()
