"""Carrier trunks in PostgreSQL (``pbx_trunks``): add, list, remove.

A trunk is identified by the addresses its calls come from (``identify``) or by its
registration (``register`` with a username and secret), never by a user name in a
header; :func:`add` refuses one with neither. Changes are audited (the secret never
is).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.pbx import model, names
from ccpbx.pbx.model import TrunkRecord
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, transaction, translate_errors

_COLUMNS = (
    "name, host, port, transport, identify, register, username, secret, codecs,"
    " max_channels, dial_template"
)


def _record(row: asyncpg.Record) -> TrunkRecord:
    return TrunkRecord(
        name=row["name"],
        host=row["host"],
        port=row["port"],
        transport=row["transport"],
        identify=tuple(str(n) for n in row["identify"]),
        register=row["register"],
        username=row["username"],
        secret=row["secret"],
        codecs=tuple(row["codecs"]),
        max_channels=row["max_channels"],
        dial_template=row["dial_template"],
    )


def public(trunk: TrunkRecord) -> dict[str, object]:
    """What may be shown and logged about a trunk: everything but its secret."""
    return {
        "name": trunk.name,
        "host": trunk.host,
        "port": trunk.port,
        "transport": trunk.transport,
        "identify": list(trunk.identify),
        "register": trunk.register,
        "username": trunk.username,
        "codecs": list(trunk.codecs),
        "max_channels": trunk.max_channels,
        "dial_template": trunk.dial_template,
    }


def check(
    name: str,
    *,
    host: str,
    port: int = 5060,
    transport: str = "udp",
    identify: Sequence[str] = (),
    register: bool = False,
    username: str | None = None,
    secret: str | None = None,
    codecs: Sequence[str] = ("ulaw", "alaw"),
    max_channels: int | None = None,
    dial_template: str = model.DEFAULT_DIAL_TEMPLATE,
) -> TrunkRecord:
    """The trunk these values describe, or InvalidInput naming what is wrong."""
    networks = tuple(dict.fromkeys(model.check_cidr(c) for c in identify))
    if not networks and not register:
        raise InvalidInput(
            f"trunk {name}: say how its calls are recognised: --identify CIDR (the carrier's"
            " addresses) or --register --username U --secret S; a trunk recognised by a name"
            " in the From header alone would take anyone's call as the carrier's",
            field="identify",
        )
    if (username is None) != (secret is None):
        raise InvalidInput("--username and --secret go together", field="username")
    if register and username is None:
        raise InvalidInput("--register needs --username and --secret", field="username")
    if max_channels is not None and max_channels < 1:
        raise InvalidInput("max channels must be at least 1", field="max_channels")
    return TrunkRecord(
        name=model.check_trunk_name(name),
        host=model.check_host(host),
        port=model.check_port(port),
        transport=model.check_choice(transport, model.TRUNK_TRANSPORTS, "transport"),
        identify=networks,
        register=register,
        username=None if username is None else model.check_username(username),
        secret=None if secret is None else model.check_secret(secret),
        codecs=model.check_codecs(",".join(codecs)),
        max_channels=max_channels,
        dial_template=model.check_dial_template(dial_template),
    )


async def add(db: Executor, trunk: TrunkRecord, *, actor: str = "cli") -> TrunkRecord:
    """Store a trunk built by :func:`check`."""
    now = dt.datetime.now(dt.UTC)
    with translate_errors(f"trunk {trunk.name}", name=trunk.name):
        async with transaction(db) as conn:
            await names.claim(conn, trunk.name, "trunk")
            row = await conn.fetchrow(
                f"""INSERT INTO pbx_trunks ({_COLUMNS})
                    VALUES ($1, $2, $3, $4, $5::cidr[], $6, $7, $8, $9, $10, $11)
                    RETURNING {_COLUMNS}""",
                trunk.name,
                trunk.host,
                trunk.port,
                trunk.transport,
                list(trunk.identify),
                trunk.register,
                trunk.username,
                trunk.secret,
                list(trunk.codecs),
                trunk.max_channels,
                trunk.dial_template,
            )
            stored = _record(row)
            await audit.record(
                conn,
                actor=actor,
                action="trunk.add",
                object_type="trunk",
                object_id=trunk.name,
                at=now,
                details=public(stored),
            )
    return stored


async def get(db: Executor, name: str) -> TrunkRecord:
    async with connection(db) as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM pbx_trunks WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no trunk named {name!r}", name=name)
    return _record(row)


async def list_all(db: Executor) -> list[TrunkRecord]:
    async with connection(db) as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM pbx_trunks ORDER BY name")
    return [_record(r) for r in rows]


async def remove(db: Executor, name: str, *, actor: str = "cli") -> TrunkRecord:
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            f"DELETE FROM pbx_trunks WHERE name = $1 RETURNING {_COLUMNS}", name
        )
        if row is None:
            raise NotFound(f"no trunk named {name!r}", name=name)
        trunk = _record(row)
        await audit.record(
            conn,
            actor=actor,
            action="trunk.remove",
            object_type="trunk",
            object_id=name,
            at=dt.datetime.now(dt.UTC),
            details=public(trunk),
        )
    return trunk
