"""``ccpbx`` command line: serve, migrate, tokens, contacts, benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ccpbx import __version__, logs
from ccpbx.config import Config, load
from ccpbx.errors import CcpbxError


def _config(args: argparse.Namespace) -> Config:
    return load(args.config)


async def _connect(config: Config) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(config.database.url, timeout=config.database.connect_timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise CcpbxError(f"cannot reach the database at {config.database.url}: {exc}") from exc


async def cmd_serve(args: argparse.Namespace) -> int:
    from ccpbx.daemon import Daemon

    config = _config(args)
    logs.configure(config.log.level, config.log.format)
    await Daemon(config, config_path=args.config).run()
    return 0


async def cmd_migrate(args: argparse.Namespace) -> int:
    from ccpbx.sandbox.postgres import database_name, with_database
    from ccpbx.store.migrate import migrate

    config = _config(args)
    logs.configure(config.log.level, config.log.format, stream=sys.stderr)
    if args.create_database:
        admin = await asyncpg.connect(with_database(config.database.url, "postgres"))
        try:
            name = database_name(config.database.url)
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    conn = await _connect(config)
    try:
        directory = Path(config.database.migrations_dir) if config.database.migrations_dir else None
        applied = await migrate(conn, directory)
    finally:
        await conn.close()
    print(
        f"applied {len(applied)} migration(s)"
        + "".join(f"\n  {m.version:04d}_{m.name}" for m in applied)
    )
    return 0


async def cmd_token_create(args: argparse.Namespace) -> int:
    from ccpbx.store.tokens import TokenRepository

    config = _config(args)
    expires = datetime.fromisoformat(args.expires).replace(tzinfo=UTC) if args.expires else None
    conn = await _connect(config)
    try:
        token, record = await TokenRepository(conn).create(
            args.role, args.name, args.subject, expires
        )
    finally:
        await conn.close()
    print(token)
    print(
        f"token {record.id} ({record.role}, {record.name!r}) created; it is shown only once",
        file=sys.stderr,
    )
    return 0


async def cmd_token_list(args: argparse.Namespace) -> int:
    from ccpbx.store.tokens import TokenRepository

    conn = await _connect(_config(args))
    try:
        tokens = await TokenRepository(conn).list()
    finally:
        await conn.close()
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        print(f"{t.id}\t{t.role}\t{state}\t{t.name}\t{t.subject or ''}")
    return 0


async def cmd_token_revoke(args: argparse.Namespace) -> int:
    from ccpbx.store.tokens import TokenRepository

    conn = await _connect(_config(args))
    try:
        done = await TokenRepository(conn).revoke(args.id)
    finally:
        await conn.close()
    if not done:
        print(f"no active token with id {args.id}", file=sys.stderr)
        return 1
    print(f"token {args.id} revoked")
    return 0


def _bench(argv: Sequence[str]) -> int:
    if not argv or argv[0] != "dialer":
        print(
            "usage: ccpbx bench dialer --scenario FILE.json --pacer NAME [--seeds K] [--json]",
            file=sys.stderr,
        )
        return 2
    from ccpbx.dialer.bench_cli import main as dialer_main

    return dialer_main(list(argv[1:]))


_STORE_COMMANDS = frozenset({"contacts", "dnc", "campaign"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccpbx", description="Contact-center control plane for Asterisk"
    )
    parser.add_argument("--version", action="version", version=f"ccpbx {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML config file (default: $CCPBX_CONFIG or /etc/ccpbx/ccpbx.toml)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the daemon").set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations from sql/")
    migrate.add_argument(
        "--create-database", action="store_true", help="create the database if missing"
    )
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--role", required=True, choices=("agent", "supervisor", "admin"))
    create.add_argument("--name", default="cli", help="who or what the token is for")
    create.add_argument("--subject", default=None, help="the agent number an agent token acts for")
    create.add_argument("--expires", default=None, help="expiry, ISO date/time in UTC")
    create.set_defaults(func=cmd_token_create)
    token.add_parser("list", help="list tokens").set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)

    sub.add_parser("bench", help="benchmarks: ccpbx bench dialer --help", add_help=False)

    try:
        from ccpbx.store.cli import register as register_store
    except ImportError:  # the contact-store commands are optional at this layer
        pass
    else:
        register_store(sub)
    from ccpbx.dialer.cli import register as register_dialer
    from ccpbx.ivr.cli import register as register_ivr

    register_dialer(sub)

    register_ivr(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # `bench` passes its arguments on untouched to the benchmark's own parser.
    for i, word in enumerate(args_list):
        if word == "bench":
            return _bench(args_list[i + 1 :])
        if not word.startswith("-"):
            break
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        if args.command in _STORE_COMMANDS:
            # The contact-store commands take the database URL from the resolved config.
            return int(asyncio.run(args.func(args, _config(args).database.url)) or 0)
        return int(asyncio.run(args.func(args)) or 0)
    except CcpbxError as exc:
        print(f"ccpbx: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
