"""The demo's HTTP client: calls the daemon's API as a token holder would, failing loudly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from ccpbx.daemon import Daemon

CallApi = Callable[..., Awaitable[Any]]


@contextlib.asynccontextmanager
async def api_client(daemon: Daemon, token: str) -> AsyncIterator[CallApi]:
    """``call_api(method, path, body=None)``: the JSON answer, RuntimeError on a 4xx/5xx."""
    base = f"http://127.0.0.1:{daemon.http_port}"
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=auth) as http:

        async def call_api(method: str, path: str, body: Any = None) -> Any:
            async with http.request(method, base + path, json=body) as resp:
                data = await resp.json()
                if resp.status >= 400:
                    raise RuntimeError(f"{method} {path}: {resp.status} {data}")
                return data

        yield call_api
