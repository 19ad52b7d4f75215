"""``ccpbx`` command line: serve, migrate, tokens, contacts, benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ccpbx import __version__, console, logs
from ccpbx.config import Config, load
from ccpbx.errors import CcpbxError, ConfigError


def _config(args: argparse.Namespace) -> Config:
    return load(args.config)


async def _connect(config: Config) -> asyncpg.Connection:
    return await console.connect(config.database.url, timeout=config.database.connect_timeout)


async def cmd_serve(args: argparse.Namespace) -> int:
    from ccpbx.daemon import Daemon

    config = _config(args)
    logs.configure(config.log.level, config.log.format)
    await Daemon(config, config_path=args.config).run()
    return 0


async def cmd_migrate(args: argparse.Namespace) -> int:
    from ccpbx.store.migrate import migrate

    config = _config(args)
    logs.configure(config.log.level, config.log.format, stream=sys.stderr)
    if args.create_database:
        admin = await console.connect(
            console.with_database(config.database.url, "postgres"),
            timeout=config.database.connect_timeout,
        )
        try:
            name = console.database_name(config.database.url)
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
    expires = args.expires
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
    rows = [
        {
            "id": t.id,
            "role": t.role,
            "state": "revoked" if t.revoked_at else "active",
            "name": t.name,
            "subject": t.subject,
        }
        for t in tokens
    ]
    if args.json:
        console.print_json(rows)
        return 0
    if not rows:
        console.say("no tokens; create one with: ccpbx token create --role admin --name ops")
        return 0
    print("id\trole\tstate\tname\tsubject")
    for r in rows:
        print(f"{r['id']}\t{r['role']}\t{r['state']}\t{r['name']}\t{r['subject'] or ''}")
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


_BENCH_USAGE = """usage: ccpbx bench dialer --scenario FILE.json --pacer NAME [--seeds K] [--json]

Benchmarks run from the command line:
  dialer    simulate an outbound campaign under a pacing rule and print its figures
            (occupancy, abandon rate, dials per connect); `ccpbx bench dialer --help`
            lists its options. Scenarios ship in bench/scenarios/.

The benchmarks that need Asterisk (calls per second, connect latency) run with
`make bench`, which prints every figure against its target."""


def _bench(argv: Sequence[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(_BENCH_USAGE)
        return console.EXIT_OK
    if not argv or argv[0] != "dialer":
        console.say(_BENCH_USAGE)
        return console.EXIT_USAGE
    from ccpbx.dialer.bench_cli import main as dialer_main

    return dialer_main(list(argv[1:]))


_STORE_COMMANDS = frozenset({"contacts", "dnc", "campaign"})

EPILOG = """exit codes: 0 done, 1 failed (the reason is on stderr), 2 usage (a bad option,
argument or config value), 3 partial (done, but some input was refused, e.g. rows
rejected by an import).
Results go to stdout, logs and messages to stderr; --json on list, import and
export commands prints one JSON document for scripts.

examples:
  ccpbx --config /etc/ccpbx/ccpbx.toml migrate --create-database
  ccpbx token create --role supervisor --name "floor lead"
  ccpbx contacts import leads.csv --list spring --region US
  ccpbx campaign list --json"""


def _utc_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time (e.g. 2027-01-31 or 2027-01-31T18:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccpbx",
        description="Contact-center control plane for Asterisk",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ccpbx {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML config file (default: $CCPBX_CONFIG or /etc/ccpbx/ccpbx.toml); "
        "DATABASE_URL overrides its database url",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "serve",
        help="run the daemon (AMI link, FastAGI server, HTTP API)",
        description="Run the daemon in the foreground; logs go to stdout (JSON under "
        "systemd). SIGHUP re-reads the config, SIGTERM stops after calls finish.",
    ).set_defaults(func=cmd_serve)

    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations from sql/",
        description="Apply sql/NNNN_*.sql in order, each in a transaction; running it "
        "again is a no-op, an edited migration is refused.",
    )
    migrate.add_argument(
        "--create-database",
        action="store_true",
        help="create the database named in the URL first, if it does not exist",
    )
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="API tokens: create, list, revoke").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    create = token.add_parser(
        "create",
        help="issue a token (printed once on stdout; only its hash is stored)",
        description="Issue a bearer token for the HTTP API. Roles: agent < supervisor < "
        "admin. Example: ccpbx token create --role agent --subject 1001 --name desk-12",
    )
    create.add_argument(
        "--role", required=True, choices=("agent", "supervisor", "admin"), help="what it may do"
    )
    create.add_argument("--name", default="cli", help="who or what the token is for (default cli)")
    create.add_argument(
        "--subject", default=None, help="the agent number an agent token acts for (e.g. 1001)"
    )
    create.add_argument(
        "--expires",
        type=_utc_datetime,
        default=None,
        help="expiry as an ISO date or date-time, UTC unless it names an offset (default: never)",
    )
    create.set_defaults(func=cmd_token_create)
    tlist = token.add_parser("list", help="list tokens (id, role, state, name, subject)")
    tlist.add_argument("--json", action="store_true", help="print JSON")
    tlist.set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by the id `token list` shows")
    revoke.add_argument("id", type=int, help="token id")
    revoke.set_defaults(func=cmd_token_revoke)

    sub.add_parser("bench", help="benchmarks: ccpbx bench --help", add_help=False)

    from ccpbx.asterisk.cli import register as register_conf
    from ccpbx.asterisk.labcert import register as register_lab_cert
    from ccpbx.dialer.cli import register as register_dialer
    from ccpbx.doctor.service import register as register_doctor
    from ccpbx.ivr.cli import register as register_ivr
    from ccpbx.pbx.cli import register as register_pbx
    from ccpbx.store.cli import register as register_store
    from ccpbx.users.cli import register as register_users

    register_store(sub)
    register_dialer(sub)
    register_ivr(sub)
    register_pbx(sub)
    register_conf(sub)
    register_doctor(sub)
    register_lab_cert(sub)
    register_users(sub)
    return parser


def configure_command_logging(args: argparse.Namespace) -> None:
    """Every command but the daemon keeps stdout for its results: its log lines go to
    stderr, at the configured [log] level and format. A config that does not load is
    reported by the command itself, which reads it again."""
    try:
        config = _config(args)
    except CcpbxError:
        logs.configure(stream=sys.stderr)
    else:
        logs.configure(config.log.level, config.log.format, stream=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command != "serve":
        configure_command_logging(args)
    if args.command in _STORE_COMMANDS:
        # The contact-store commands take the database URL from the resolved config.
        return int(asyncio.run(args.func(args, _config(args).database.url)) or 0)
    return int(asyncio.run(args.func(args)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code follows EPILOG."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader went away (`ccpbx ... | head -1`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's last flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _main(args_list: list[str]) -> int:
    # `bench` passes its arguments on untouched to the benchmark's own parser.
    for i, word in enumerate(args_list):
        if word == "bench":
            return _bench(args_list[i + 1 :])
        if not word.startswith("-"):
            break
    args = build_parser().parse_args(args_list)
    try:
        return _run(args)
    except ConfigError as exc:
        console.say(f"ccpbx: {exc.message}")
        return console.EXIT_USAGE
    except CcpbxError as exc:
        console.say(f"ccpbx: {exc.message}")
        return console.EXIT_FAILURE
    except asyncpg.UndefinedTableError as exc:
        console.say(f"ccpbx: the database has no ccpbx tables yet ({exc}): run `ccpbx migrate`")
        return console.EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
