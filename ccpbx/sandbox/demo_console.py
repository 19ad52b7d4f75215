"""``make demo``'s web console step: demo users, the sign-in address, screenshots.

Adds a supervisor and one user per demo agent (passwords generated and printed, as a
person would be given them), prints where to sign in, then signs each in with a
headless Chromium (Debian's package, as the browser tests use it) and saves a
screenshot of the page each one lands on into the artifacts folder
(``$CCPBX_ARTIFACTS``, default ``demo-artifacts/`` in the current folder).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ccpbx.daemon import Daemon
from ccpbx.sandbox.demo_acd import AGENT_PHONES
from ccpbx.users import accounts

CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


@dataclass(frozen=True, slots=True)
class DemoUser:
    name: str
    role: str
    agent: str | None
    display_name: str
    password: str
    page: str  # where the sign-in lands


def artifacts_dir() -> Path:
    path = Path(os.environ.get("CCPBX_ARTIFACTS") or "demo-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_users() -> list[DemoUser]:
    """A supervisor and a user for each demo agent, each with a fresh password."""
    users = [
        DemoUser(
            "supervisor",
            "supervisor",
            None,
            "Demo Supervisor",
            secrets.token_urlsafe(12),
            "/supervisor",
        )
    ]
    for phone in AGENT_PHONES:
        first = phone.label.split()[-1].lower()
        users.append(
            DemoUser(first, "agent", phone.name, phone.label, secrets.token_urlsafe(12), "/agent")
        )
    return users


async def add_users(database_url: str, users: list[DemoUser], min_length: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for user in users:
            await accounts.add(
                conn,
                user.name,
                role=user.role,
                agent=user.agent,
                display_name=user.display_name,
                password=user.password,
                min_length=min_length,
                actor="demo",
                now=dt.datetime.now(dt.UTC),
            )
    finally:
        await conn.close()


async def screenshots(base: str, users: list[DemoUser], folder: Path) -> list[Path]:
    """Sign each user in through /login and save the page it lands on; [] (said so)
    when no Chromium or Playwright is installed."""
    chromium = os.environ.get("CCPBX_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        chromium = None
    if not chromium:
        print("  no chromium/playwright here: no screenshots (make sandbox installs chromium)")
        return []
    saved = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for user in users:
                context = await browser.new_context(viewport={"width": 1280, "height": 860})
                page = await context.new_page()
                await page.goto(f"{base}/login?next={user.page}")
                await page.fill("input[name=name]", user.name)
                await page.fill("input[name=password]", user.password)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}{user.page}*", timeout=15_000)
                await page.wait_for_load_state("networkidle")
                path = folder / f"{user.page.strip('/')}-{user.name}.png"
                await page.screenshot(path=str(path), full_page=True)
                saved.append(path)
                await context.close()
        finally:
            await browser.close()
    return saved


async def run_console_demo(daemon: Daemon, database_url: str, http_port: int) -> list[DemoUser]:
    """Add the demo users, print how to sign in, save a screenshot of each one's page."""
    users = demo_users()
    await add_users(database_url, users, daemon.config.http.password_min_length)
    base = f"http://127.0.0.1:{http_port}"
    print(f"-- the web console: {base}/login")
    for user in users:
        what = f"agent {user.agent}" if user.agent else user.role
        print(f"  {user.name:<11} password {user.password}   ({what}, lands on {user.page})")
    folder = artifacts_dir()
    for path in await screenshots(base, users, folder):
        print(f"  screenshot {path}")
    return users
