"""``ccpbx contacts import|export`` and ``ccpbx dnc import``.

``register`` adds the commands to the main parser; each command is
``async def (args, database_url) -> int``. Domain errors (a refused mapping,
an unknown list) propagate as CcpbxError for the main entry point to print.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import asyncpg

from ccpbx.errors import InvalidInput, Unavailable
from ccpbx.store.campaigns import get_campaign
from ccpbx.store.dnc_import import import_dnc, parse_expiry
from ccpbx.store.exporter import export_contacts
from ccpbx.store.importer import import_contacts
from ccpbx.store.mapping import parse_map_options
from ccpbx.store.staging import ImportResult


async def _connect(database_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise Unavailable(f"cannot reach the database: {exc}") from exc


def _input(path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"no such file: {path}")
    return file


def _summary(result: ImportResult, what: str) -> None:
    print(
        f"{result.rows} rows read, {result.imported} {what}, {result.rejected} rejected"
        + (
            f", {result.dnc_flagged} numbers on a do-not-call list (flagged, never dialed)"
            if result.dnc_flagged
            else ""
        )
        + f" in {result.seconds:.1f} s"
    )
    if result.reject_path is not None:
        print(f"rejected rows with line and reason: {result.reject_path}")


async def cmd_contacts_import(args: argparse.Namespace, database_url: str) -> int:
    path = _input(args.file)
    mapping = parse_map_options(args.map or [])
    conn = await _connect(database_url)
    try:
        result = await import_contacts(
            conn,
            path,
            list_name=args.list,
            now=dt.datetime.now(dt.UTC),
            region=args.region,
            mapping=mapping,
            reject_path=Path(args.rejects) if args.rejects else None,
        )
    finally:
        await conn.close()
    _summary(result, "contacts imported")
    return 0


async def cmd_contacts_export(args: argparse.Namespace, database_url: str) -> int:
    conn = await _connect(database_url)
    try:
        result = await export_contacts(conn, args.list, Path(args.file))
    finally:
        await conn.close()
    print(f"{result.rows} contacts written to {result.path}", file=sys.stderr)
    return 0


async def cmd_dnc_import(args: argparse.Namespace, database_url: str) -> int:
    path = _input(args.file)
    mapping = parse_map_options(args.map or [])
    expires = parse_expiry(args.expires) if args.expires else None
    conn = await _connect(database_url)
    try:
        campaign_id = (await get_campaign(conn, args.campaign)).id if args.campaign else None
        result = await import_dnc(
            conn,
            path,
            now=dt.datetime.now(dt.UTC),
            campaign_id=campaign_id,
            source=args.source,
            expires_at=expires,
            region=args.region,
            mapping=mapping,
            reject_path=Path(args.rejects) if args.rejects else None,
        )
    finally:
        await conn.close()
    _summary(result, "numbers on the list")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``contacts`` and ``dnc`` commands."""
    contacts = subparsers.add_parser("contacts", help="contact lists: import, export")
    csub = contacts.add_subparsers(dest="contacts_command", required=True)

    imp = csub.add_parser("import", help="import a CSV file of contacts into a list")
    imp.add_argument("file", help="CSV file (UTF-8, any common delimiter)")
    imp.add_argument("--list", required=True, help="contact list (created if missing)")
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="map a column to phone, name, first_name, last_name, time_zone, priority,"
        " consent, external_id, fields.KEY or - (ignore); repeatable",
    )
    imp.add_argument("--region", help="region of numbers without a country code (e.g. US)")
    imp.add_argument("--rejects", help="reject file (default: FILE.rejects.csv)")
    imp.set_defaults(func=cmd_contacts_import)

    exp = csub.add_parser("export", help="export a list to CSV")
    exp.add_argument("--list", required=True, help="contact list")
    exp.add_argument("file", help="CSV file to write")
    exp.set_defaults(func=cmd_contacts_export)

    dnc = subparsers.add_parser("dnc", help="do-not-call lists: import")
    dsub = dnc.add_subparsers(dest="dnc_command", required=True)
    dimp = dsub.add_parser("import", help="add the numbers of a CSV file to a do-not-call list")
    dimp.add_argument("file", help="CSV file with a phone column")
    dimp.add_argument("--campaign", help="campaign the entries apply to (default: all)")
    dimp.add_argument("--source", default="import", help="where the list came from")
    dimp.add_argument("--expires", help="last day the entries hold (YYYY-MM-DD), or a datetime")
    dimp.add_argument("--region", default="US", help="region of numbers without a country code")
    dimp.add_argument("--map", action="append", metavar="COLUMN=phone", help="the phone column")
    dimp.add_argument("--rejects", help="reject file (default: FILE.rejects.csv)")
    dimp.set_defaults(func=cmd_dnc_import)
