"""SIP phones in PostgreSQL (``pbx_phones``): add, list, remove, reset a secret.

A phone's password is made here, returned once and never stored: the row keeps the
MD5 digest Asterisk authenticates with (see :func:`ccpbx.pbx.model.md5_cred`). Every
change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from ccpbx.errors import NotFound
from ccpbx.pbx import model, names
from ccpbx.pbx.model import PhoneRecord
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, transaction, translate_errors

_COLUMNS = "name, label, transport, webrtc, class_of_service, max_calls, realm, md5_cred"


def _record(row: asyncpg.Record) -> PhoneRecord:
    return PhoneRecord(**{k: row[k] for k in _COLUMNS.split(", ")})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def add(
    db: Executor,
    name: str,
    *,
    realm: str,
    label: str = "",
    transport: str = "udp",
    webrtc: bool = False,
    class_of_service: str = "national",
    max_calls: int = 2,
    actor: str = "cli",
) -> tuple[PhoneRecord, str]:
    """Add a phone with a freshly generated password; return it and the password."""
    model.check_phone_name(name)
    model.check_label(label)
    model.check_choice(transport, model.PHONE_TRANSPORTS, "transport")
    model.check_choice(class_of_service, model.CLASSES_OF_SERVICE, "class of service")
    model.check_realm(realm)
    model.check_max_calls(max_calls)
    if webrtc and transport != "wss":
        transport = "wss"  # a browser phone reaches Asterisk over secure websockets only
    secret = model.new_secret()
    now = _now()
    with translate_errors(f"phone {name}", name=name):
        async with transaction(db) as conn:
            await names.claim(conn, name, "phone")
            row = await conn.fetchrow(
                f"""INSERT INTO pbx_phones ({_COLUMNS}, secret_set_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLUMNS}""",
                name,
                label,
                transport,
                webrtc,
                class_of_service,
                max_calls,
                realm,
                model.md5_cred(name, realm, secret),
                now,
            )
            phone = _record(row)
            await audit.record(
                conn,
                actor=actor,
                action="phone.add",
                object_type="phone",
                object_id=name,
                at=now,
                details=public(phone),
            )
    return phone, secret


async def reset_secret(
    db: Executor, name: str, *, realm: str, actor: str = "cli"
) -> tuple[PhoneRecord, str]:
    """Give the phone a new password (the old one stops working at the next
    ``conf apply``); return the phone and the password, shown once."""
    model.check_realm(realm)
    secret = model.new_secret()
    now = _now()
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            f"""UPDATE pbx_phones SET md5_cred = $2, realm = $3, secret_set_at = $4
                WHERE name = $1 RETURNING {_COLUMNS}""",
            name,
            model.md5_cred(name, realm, secret),
            realm,
            now,
        )
        if row is None:
            raise NotFound(f"no phone named {name!r}", name=name)
        await audit.record(
            conn,
            actor=actor,
            action="phone.reset_secret",
            object_type="phone",
            object_id=name,
            at=now,
            details={"realm": realm},
        )
    return _record(row), secret


async def get(db: Executor, name: str) -> PhoneRecord:
    async with connection(db) as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM pbx_phones WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no phone named {name!r}", name=name)
    return _record(row)


async def list_all(db: Executor) -> list[PhoneRecord]:
    async with connection(db) as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM pbx_phones ORDER BY name")
    return [_record(r) for r in rows]


async def remove(db: Executor, name: str, *, actor: str = "cli") -> PhoneRecord:
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            f"DELETE FROM pbx_phones WHERE name = $1 RETURNING {_COLUMNS}", name
        )
        if row is None:
            raise NotFound(f"no phone named {name!r}", name=name)
        phone = _record(row)
        await audit.record(
            conn,
            actor=actor,
            action="phone.remove",
            object_type="phone",
            object_id=name,
            at=_now(),
            details=public(phone),
        )
    return phone


def public(phone: PhoneRecord) -> dict[str, object]:
    """What may be shown and logged about a phone: everything but its digest."""
    return {
        "name": phone.name,
        "label": phone.label,
        "transport": phone.transport,
        "webrtc": phone.webrtc,
        "class_of_service": phone.class_of_service,
        "max_calls": phone.max_calls,
        "realm": phone.realm,
    }
