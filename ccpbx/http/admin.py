"""What the admin routes (phones, trunks, numbers, Asterisk configuration) share: the
database pool and the configuration they run against, who is acting, and a strict
reader of JSON bodies (a wrong type or an unknown field is refused, naming it).

:func:`provide` puts the pool and the configuration into the app; the daemon gives
callables (``lambda: database.pool``, ``lambda: daemon.config``) so a reconnected pool
or a reloaded configuration is what the next request sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import asyncpg
from aiohttp import web

from ccpbx.config import Config
from ccpbx.errors import InvalidInput
from ccpbx.http.keys import REQUEST_TOKEN

T = TypeVar("T")

ADMIN_POOL: web.AppKey[Callable[[], asyncpg.Pool]] = web.AppKey("admin_pool")
ADMIN_CONFIG: web.AppKey[Callable[[], Config]] = web.AppKey("admin_config")

NO_STORE = {"Cache-Control": "no-store"}
"""Headers of a response that holds a secret: no cache may keep it."""


def provide(
    app: web.Application,
    pool: asyncpg.Pool | Callable[[], asyncpg.Pool],
    config: Config | Callable[[], Config],
) -> None:
    app[ADMIN_POOL] = (lambda: pool) if isinstance(pool, asyncpg.Pool) else pool
    app[ADMIN_CONFIG] = (lambda: config) if isinstance(config, Config) else config


def db(request: web.Request) -> asyncpg.Pool:
    return request.app[ADMIN_POOL]()


def config(request: web.Request) -> Config:
    return request.app[ADMIN_CONFIG]()


def actor(request: web.Request) -> str:
    """Who the audit log and the configuration versions record: the token's name."""
    return request[REQUEST_TOKEN].name


class Body:
    """A JSON object body read field by field; a field not in ``allowed`` is refused
    at once, a field of the wrong type when it is read (both name the field)."""

    def __init__(self, data: dict[str, Any], allowed: Iterable[str]) -> None:
        self._data = data
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"unknown field(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}",
                field=unknown[0],
            )

    def _get(self, name: str, kind: type[T] | tuple[type, ...], what: str, default: Any) -> Any:
        if name not in self._data or self._data[name] is None:
            if default is _REQUIRED:
                raise InvalidInput(f"{name} is required", field=name)
            return default
        value = self._data[name]
        # JSON true/false are Python bools, which are ints too: never take one for a number.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise InvalidInput(f"{name} must be {what}", field=name)
        return value

    def text(self, name: str, default: Any = None) -> Any:
        return self._get(name, str, "a string", default)

    def required_text(self, name: str) -> str:
        value: str = self._get(name, str, "a string", _REQUIRED)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value: bool = self._get(name, bool, "true or false", default)
        return value

    def number(self, name: str, default: Any = None) -> Any:
        return self._get(name, int, "a whole number", default)

    def texts(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(name, list, "a list of strings", None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{name} must be a list of strings", field=name)
        return tuple(value)


_REQUIRED = object()
