"""The store commands themselves: ``async def (args, database_url) -> int``.

Manners: log events go to stderr, results to stdout (``--json``: one JSON
object). Return 0 when all went well, 3 (``console.EXIT_PARTIAL``) when rows were
rejected without ``--allow-rejects`` (the good rows are imported all the same). Domain
errors (an unreadable file, an unknown list) propagate as CcpbxError; the
main entry point prints them and exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any

import asyncpg

from ccpbx import console, logs
from ccpbx.errors import CcpbxError, InvalidInput
from ccpbx.store import contacts, dnc
from ccpbx.store.campaigns import get_campaign
from ccpbx.store.dnc_import import DncImportResult, import_dnc
from ccpbx.store.exporter import export_contacts
from ccpbx.store.importer import import_contacts
from ccpbx.store.mapping import parse_map_options
from ccpbx.store.staging import ImportResult


class _Stderr:
    """sys.stderr as it is at each write (a test may have replaced it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def _setup_logs(args: argparse.Namespace) -> None:
    """Log events to stderr, at the configured level and format."""
    level, fmt = "info", "auto"
    try:
        from ccpbx.config import load

        config = load(getattr(args, "config", None))
        level, fmt = config.log.level, config.log.format
    except CcpbxError:
        pass
    logs.configure(level, fmt, stream=_Stderr())


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _input(path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"no such file: {path}")
    return file


def _emit(args: argparse.Namespace, data: dict[str, Any], text: list[str]) -> None:
    if args.json:
        console.print_json(data)
    else:
        for line in text:
            print(line)


def _status(args: argparse.Namespace, result: ImportResult) -> int:
    if result.rejected and not args.allow_rejects:
        print(
            f"ccpbx: {result.rejected} row(s) rejected (see the reject file); exit status 3."
            " Pass --allow-rejects to accept an import with rejects.",
            file=sys.stderr,
        )
        return console.EXIT_PARTIAL
    return console.EXIT_OK


def _lines_text(result: ImportResult, what: str) -> str:
    n = result.lines
    return (
        f"lines: {n.total} = {n.header} header + {n.accepted} {what} + {n.rejected} rejected"
        f" + {n.skipped} blank (skipped)"
    )


def _common(args: argparse.Namespace, path: Path, result: ImportResult, code: int) -> dict:
    return {
        "file": str(path),
        "status": "ok" if code == console.EXIT_OK else "partial",
        "exit_code": code,
        "lines": result.lines.as_dict(),
        "reject_file": str(result.reject_path) if result.reject_path else None,
        "seconds": round(result.seconds, 3),
    }


async def cmd_contacts_import(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    path = _input(args.file)
    mapping = parse_map_options(args.map or [])
    conn = await console.connect(database_url)
    try:
        result = await import_contacts(
            conn,
            path,
            list_name=args.list,
            now=dt.datetime.now(dt.UTC),
            region=args.region,
            mapping=mapping,
            reject_path=Path(args.rejects) if args.rejects else None,
            actor=_actor(),
            encoding=args.encoding,
            max_field=args.max_field,
        )
    finally:
        await conn.close()
    code = _status(args, result)
    data = {
        "command": "contacts import",
        **_common(args, path, result, code),
        "list": args.list,
        "list_id": result.list_id,
        "records": {"read": result.rows, "imported": result.imported, "rejected": result.rejected},
        "dnc_flagged": result.dnc_flagged,
    }
    text = [
        f"{result.rows} rows read, {result.imported} contacts imported,"
        f" {result.rejected} rejected"
        + (
            f", {result.dnc_flagged} numbers on a do-not-call list (flagged, never dialed)"
            if result.dnc_flagged
            else ""
        )
        + f" in {result.seconds:.1f} s",
        _lines_text(result, "imported"),
    ]
    if result.reject_path is not None:
        text.append(f"rejected rows with line and reason: {result.reject_path}")
    _emit(args, data, text)
    return code


async def cmd_contacts_export(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    conn = await console.connect(database_url)
    try:
        result = await export_contacts(conn, args.list, Path(args.file))
    finally:
        await conn.close()
    _emit(
        args,
        {
            "command": "contacts export",
            "list": args.list,
            "rows": result.rows,
            "file": str(result.path),
        },
        [f"{result.rows} contacts written to {result.path}"],
    )
    return console.EXIT_OK


async def cmd_contacts_lists(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    conn = await console.connect(database_url)
    try:
        found = [
            (c, await contacts.count_contacts(conn, c.id)) for c in await contacts.list_lists(conn)
        ]
    finally:
        await conn.close()
    items = [
        {
            "name": c.name,
            "id": c.id,
            "default_region": c.default_region,
            "contacts": n,
            "created_at": c.created_at.isoformat(),
        }
        for c, n in found
    ]
    _emit(
        args,
        {"command": "contacts lists", "lists": items},
        [f"{i['name']}\t{i['contacts']} contacts\tregion {i['default_region']}" for i in items],
    )
    return console.EXIT_OK


async def _campaign_id(conn: asyncpg.Connection, name: str | None) -> int | None:
    return (await get_campaign(conn, name)).id if name else None


async def cmd_dnc_import(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    path = _input(args.file)
    mapping = parse_map_options(args.map or [])
    if args.replace and not args.reason:
        raise InvalidInput("--replace can shorten protections: give the --reason for it")
    conn = await console.connect(database_url)
    try:
        campaign_id = await _campaign_id(conn, args.campaign)
        result = await import_dnc(
            conn,
            path,
            now=dt.datetime.now(dt.UTC),
            campaign_id=campaign_id,
            source=args.source,
            expires_at=args.expires,
            region=args.region,
            mapping=mapping,
            reject_path=Path(args.rejects) if args.rejects else None,
            actor=_actor(),
            encoding=args.encoding,
            max_field=args.max_field,
            replace=args.replace,
            reason=args.reason,
        )
    finally:
        await conn.close()
    code = _status(args, result)
    _emit(args, _dnc_data(args, path, result, code), _dnc_text(result))
    return code


def _dnc_data(args: argparse.Namespace, path: Path, result: DncImportResult, code: int) -> dict:
    return {
        "command": "dnc import",
        **_common(args, path, result, code),
        "campaign": args.campaign,
        "replace": args.replace,
        "records": {
            "read": result.rows,
            "accepted": result.rows - result.rejected,
            "rejected": result.rejected,
        },
        "numbers": {
            "added": result.added,
            "widened": result.widened,
            "narrowed": result.narrowed,
            "relabelled": result.relabelled,
            "unchanged": result.unchanged,
        },
    }


def _dnc_text(result: DncImportResult) -> list[str]:
    numbers = (
        f"{result.added} numbers added, {result.widened} protected longer,"
        f" {result.unchanged} unchanged (already protected as long or longer)"
    )
    if result.narrowed or result.relabelled:
        numbers += f", {result.narrowed} shortened, {result.relabelled} relabelled"
    text = [
        f"{result.rows} rows read, {result.rejected} rejected; {numbers} in {result.seconds:.1f} s",
        _lines_text(result, "accepted"),
    ]
    if result.reject_path is not None:
        text.append(f"rejected rows with line and reason: {result.reject_path}")
    return text


async def cmd_dnc_remove(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    numbers = [dnc.typed_number(n) for n in args.numbers]
    reason = dnc.check_reason(args.reason)
    conn = await console.connect(database_url)
    try:
        campaign_id = await _campaign_id(conn, args.campaign)
        async with conn.transaction():
            removed = [
                await dnc.remove(
                    conn,
                    e164,
                    reason=reason,
                    actor=_actor(),
                    now=dt.datetime.now(dt.UTC),
                    campaign_id=campaign_id,
                )
                for e164 in dict.fromkeys(numbers)
            ]
    finally:
        await conn.close()
    _emit(
        args,
        {
            "command": "dnc remove",
            "campaign": args.campaign,
            "reason": reason,
            "removed": [e.as_dict() for e in removed],
        },
        [f"removed {e.e164} (source {e.source!r}) from the do-not-call list" for e in removed],
    )
    return console.EXIT_OK


async def cmd_dnc_list(args: argparse.Namespace, database_url: str) -> int:
    _setup_logs(args)
    number = dnc.typed_number(args.number) if args.number else None
    conn = await console.connect(database_url)
    try:
        campaign_id = await _campaign_id(conn, args.campaign)
        found: list[dnc.DncEntry] = []
        while True:
            page = await dnc.entries(
                conn, campaign_id=campaign_id, after_id=found[-1].id if found else 0, e164=number
            )
            found.extend(page)
            if len(page) < 1000:
                break
    finally:
        await conn.close()
    _emit(
        args,
        {"command": "dnc list", "campaign": args.campaign, "entries": [e.as_dict() for e in found]},
        [
            f"{e.e164}\t{e.source}\t"
            + (f"until {e.expires_at.isoformat()}" if e.expires_at else "permanent")
            for e in found
        ],
    )
    return console.EXIT_OK
