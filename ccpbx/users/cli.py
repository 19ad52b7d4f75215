"""``ccpbx user add|passwd|disable|enable|list``: who may sign in to the web console.

A password is typed twice at a prompt, or read from standard input with
``--password-stdin`` (scripts); never given as an argument, which ``ps`` would show.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from ccpbx import console
from ccpbx.config import load
from ccpbx.errors import InvalidInput
from ccpbx.store.tokens import ROLES
from ccpbx.users import accounts, store
from ccpbx.users.model import check_user_name


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def read_password(args: argparse.Namespace) -> str:
    """The new password: one line of stdin with --password-stdin, else typed twice."""
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise InvalidInput("--password-stdin: standard input held no password")
        return password
    password = getpass.getpass("new password: ")
    if getpass.getpass("the same again: ") != password:
        raise InvalidInput("the two passwords differ; nothing changed")
    return password


async def cmd_user_add(args: argparse.Namespace) -> int:
    config = load(args.config)
    password = read_password(args)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        user = await accounts.add(
            conn,
            args.name,
            role=args.role,
            agent=args.agent,
            display_name=args.display_name or "",
            password=password,
            min_length=config.http.password_min_length,
            actor=_actor(),
            now=_now(),
        )
    finally:
        await conn.close()
    agent = f" acting as agent {user.agent}" if user.agent else ""
    print(f"user {user.name} added ({user.role}{agent})")
    return console.EXIT_OK


async def cmd_user_passwd(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        await store.get_user(conn, args.name)  # before asking for a password
        password = read_password(args)
        user, ended = await accounts.change_password(
            conn,
            args.name,
            password,
            min_length=config.http.password_min_length,
            actor=_actor(),
            now=_now(),
        )
    finally:
        await conn.close()
    print(f"password of {user.name} changed; {ended} session(s) ended")
    return console.EXIT_OK


async def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        user, ended = await accounts.set_disabled(
            conn, args.name, disabled, actor=_actor(), now=_now()
        )
    finally:
        await conn.close()
    if disabled:
        print(f"user {user.name} disabled; {ended} session(s) ended")
    else:
        print(f"user {user.name} enabled")
    return console.EXIT_OK


async def cmd_user_disable(args: argparse.Namespace) -> int:
    return await _set_disabled(args, True)


async def cmd_user_enable(args: argparse.Namespace) -> int:
    return await _set_disabled(args, False)


async def cmd_user_list(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        users = await store.list_users(conn)
    finally:
        await conn.close()
    now = _now()
    if args.json:
        console.print_json([u.public() for u in users])
        return console.EXIT_OK
    if not users:
        console.say("no users; add one with: ccpbx user add anna --role agent --agent 1001")
        return console.EXIT_OK
    print("name\trole\tagent\tstate\tdisplay_name")
    for u in users:
        state = "disabled" if u.disabled else "locked" if u.locked(now) else "active"
        print(f"{u.name}\t{u.role}\t{u.agent or '-'}\t{state}\t{u.display_name}")
    return console.EXIT_OK


def _name(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", type=console.option(check_user_name), help="the sign-in name")


def _password_stdin(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser(
        "user",
        help="web console users: add, passwd, disable, enable, list",
        description="Users who sign in to the web console with a name and a password"
        " (stored as an Argon2id hash). Roles as for tokens: agent < supervisor < admin;"
        " an agent user acts as one ACD agent.",
    )
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser(
        "add",
        help="add a user (the password is asked for twice)",
        description="Add a user. Example: ccpbx user add anna --role agent --agent 1001"
        " --display-name 'Anna Berg'",
    )
    _name(add)
    add.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    add.add_argument(
        "--agent", default=None, help="the ACD agent number it acts as (required for agents)"
    )
    add.add_argument("--display-name", default=None, help="the name shown on screen")
    _password_stdin(add)
    add.set_defaults(func=cmd_user_add)
    passwd = usub.add_parser(
        "passwd", help="set a user's password (ends its sessions, lifts a lockout)"
    )
    _name(passwd)
    _password_stdin(passwd)
    passwd.set_defaults(func=cmd_user_passwd)
    disable = usub.add_parser("disable", help="refuse a user's sign-ins and end its sessions")
    _name(disable)
    disable.set_defaults(func=cmd_user_disable)
    enable = usub.add_parser("enable", help="let a disabled or locked user sign in again")
    _name(enable)
    enable.set_defaults(func=cmd_user_enable)
    lst = usub.add_parser("list", help="list users (never their password hashes)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=cmd_user_list)
