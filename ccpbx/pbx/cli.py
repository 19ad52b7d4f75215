"""``ccpbx phone|trunk|number ...``: phones, carrier trunks and inbound numbers as data.

``register`` adds the commands to the main parser; each is ``async def (args) -> int``.
A change reaches Asterisk with the next ``ccpbx conf apply``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg

from ccpbx import console
from ccpbx.config import Config, load
from ccpbx.errors import InvalidInput
from ccpbx.pbx import hours, model, numbers, phones, provision, trunks
from ccpbx.pbx.model import PhoneRecord
from ccpbx.store.phones import check_e164

T = TypeVar("T")

_NEXT = "it reaches Asterisk with the next `ccpbx conf apply`"


def _port(text: str) -> int:
    try:
        return model.check_port(int(text))
    except ValueError:
        raise InvalidInput(f"{text!r} is not a port number") from None


async def _connect(config: Config) -> asyncpg.Connection:
    return await console.connect(config.database.url, timeout=config.database.connect_timeout)


async def _in_store(
    args: argparse.Namespace, call: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """``call`` on a connection to the configured database, closed afterwards."""
    conn = await _connect(load(args.config))
    try:
        return await call(conn)
    finally:
        await conn.close()


def _account_port(config: Config, transport: str) -> int:
    """The port of the phone's transport; the UDP port, said so, when that transport is
    not configured (a fresh secret must still be shown)."""
    try:
        return config.sip.port_for(transport)
    except InvalidInput as exc:
        console.say(f"ccpbx: {exc.message}; the account below shows the UDP port until then")
        return config.sip.port


def _provision(
    args: argparse.Namespace, config: Config, phone: PhoneRecord, secret: str | None
) -> None:
    """Print the account (text and QR code) on stdout; write the desk-phone file if asked."""
    account = provision.account(
        phone,
        domain=config.sip.domain,
        port=_account_port(config, phone.transport),
        password=secret,
    )
    print(account.text())
    if not getattr(args, "no_qr", False):
        print()
        print(provision.qr_terminal(account.uri()), end="")
        console.say(
            "the QR code holds " + ("the account with its password" if secret else account.uri())
        )
    if getattr(args, "desk_file", None):
        template = Path(args.desk_template or provision.default_templates_dir() / "yealink.cfg.j2")
        path = Path(args.desk_file)
        path.write_text(provision.desk_file(account, template), encoding="utf-8")
        path.chmod(0o600)
        console.say(f"desk-phone file written to {path} (it holds the password: mode 600)")


# -- phones ---------------------------------------------------------------------------
async def cmd_phone_add(args: argparse.Namespace) -> int:
    config = load(args.config)
    if args.provision:
        # Refuse before the phone is stored: its account needs its transport's port.
        config.sip.port_for("wss" if args.webrtc else args.transport)
    conn = await _connect(config)
    try:
        phone, secret = await phones.add(
            conn,
            args.name,
            realm=config.sip.realm,
            label=args.label,
            transport=args.transport,
            webrtc=args.webrtc,
            class_of_service=args.class_of_service,
            max_calls=args.max_calls,
        )
    finally:
        await conn.close()
    return _show_secret(args, config, phone, secret, "added")


async def cmd_phone_reset_secret(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await _connect(config)
    try:
        phone, secret = await phones.reset_secret(conn, args.name, realm=config.sip.realm)
    finally:
        await conn.close()
    return _show_secret(args, config, phone, secret, "has a new secret")


def _show_secret(
    args: argparse.Namespace, config: Config, phone: PhoneRecord, secret: str, what: str
) -> int:
    if args.json:
        console.print_json({"phone": phones.public(phone), "secret": secret})
    elif args.provision:
        _provision(args, config, phone, secret)
    else:
        print(secret)
    console.say(f"phone {phone.name} {what}; its secret is shown only once; {_NEXT}")
    return console.EXIT_OK


async def cmd_phone_list(args: argparse.Namespace) -> int:
    conn = await _connect(load(args.config))
    try:
        rows = [phones.public(p) for p in await phones.list_all(conn)]
    finally:
        await conn.close()
    if args.json:
        console.print_json(rows)
        return console.EXIT_OK
    if not rows:
        console.say("no phones; add one with: ccpbx phone add 1001 --label 'Anna'")
        return console.EXIT_OK
    print("name\tlabel\ttransport\tclass_of_service\tmax_calls")
    for r in rows:
        transport = f"{r['transport']}{'+webrtc' if r['webrtc'] else ''}"
        print(f"{r['name']}\t{r['label']}\t{transport}\t{r['class_of_service']}\t{r['max_calls']}")
    return console.EXIT_OK


async def cmd_phone_remove(args: argparse.Namespace) -> int:
    phone = await _in_store(args, lambda conn: phones.remove(conn, args.name))
    print(f"phone {phone.name} removed; {_NEXT}")
    return console.EXIT_OK


async def cmd_phone_provision(args: argparse.Namespace) -> int:
    config = load(args.config)
    conn = await _connect(config)
    try:
        phone = await phones.get(conn, args.name)
    finally:
        await conn.close()
    _provision(args, config, phone, None)
    return console.EXIT_OK


# -- trunks ---------------------------------------------------------------------------
async def cmd_trunk_add(args: argparse.Namespace) -> int:
    trunk = trunks.check(
        args.name,
        host=args.host,
        port=args.port,
        transport=args.transport,
        identify=args.identify or (),
        register=args.register,
        username=args.username,
        secret=args.secret,
        codecs=args.codecs,
        max_channels=args.max_channels,
        dial_template=args.dial_template,
    )
    stored = await _in_store(args, lambda conn: trunks.add(conn, trunk))
    how = (
        f"identified by address {', '.join(stored.identify)}"
        if stored.identify
        else "identified by its registration"
    )
    print(f"trunk {stored.name} added ({how}); {_NEXT}")
    return console.EXIT_OK


async def cmd_trunk_list(args: argparse.Namespace) -> int:
    rows = await _in_store(args, lambda conn: trunks.list_all(conn))
    if args.json:
        console.print_json([trunks.public(t) for t in rows])
        return console.EXIT_OK
    if not rows:
        console.say("no trunks; add one with: ccpbx trunk add NAME --host H --identify CIDR")
        return console.EXIT_OK
    print("name\thost\ttransport\tidentified by\tcodecs\tmax_channels\tdial")
    for t in rows:
        by = " + ".join(x for x in (",".join(t.identify), "registration" * t.register) if x)
        print(
            f"{t.name}\t{t.host}:{t.port}\t{t.transport}\t{by}\t{','.join(t.codecs)}"
            f"\t{t.max_channels or '-'}\t{t.dial_template}"
        )
    return console.EXIT_OK


async def cmd_trunk_remove(args: argparse.Namespace) -> int:
    trunk = await _in_store(args, lambda conn: trunks.remove(conn, args.name))
    print(f"trunk {trunk.name} removed; {_NEXT}")
    return console.EXIT_OK


# -- numbers --------------------------------------------------------------------------
async def cmd_number_add(args: argparse.Namespace) -> int:
    number = await _in_store(
        args,
        lambda conn: numbers.add(conn, args.number, args.to, hours=args.hours, closed=args.closed),
    )
    if number.hours is None:
        print(f"number {number.number} routes to {number.route}; {_NEXT}")
    else:
        print(
            f"number {number.number} routes to {number.route} inside the hours of"
            f" {number.hours.name}, to {number.hours.closed_route} outside them; {_NEXT}"
        )
    return console.EXIT_OK


async def cmd_number_list(args: argparse.Namespace) -> int:
    rows = await _in_store(args, lambda conn: numbers.list_all(conn))
    if args.json:
        console.print_json(
            [
                {
                    "number": n.number,
                    "route": n.route,
                    "hours": n.hours.name if n.hours else None,
                    "closed": n.hours.closed_route if n.hours else None,
                }
                for n in rows
            ]
        )
        return console.EXIT_OK
    if not rows:
        console.say("no numbers; add one with: ccpbx number add +12125550100 --to queue:sales")
        return console.EXIT_OK
    print("number\troute\thours\tclosed")
    for n in rows:
        within, closed = (n.hours.name, n.hours.closed_route) if n.hours else ("-", "-")
        print(f"{n.number}\t{n.route}\t{within}\t{closed}")
    return console.EXIT_OK


async def cmd_number_remove(args: argparse.Namespace) -> int:
    number = await _in_store(args, lambda conn: numbers.remove(conn, args.number))
    print(f"number {number.number} removed; {_NEXT}")
    return console.EXIT_OK


# -- parser ---------------------------------------------------------------------------
def _provision_options(p: argparse.ArgumentParser, *, fresh: bool) -> None:
    if fresh:
        p.add_argument(
            "--provision",
            action="store_true",
            help="print the softphone account (user, domain, port, transport, password) and"
            " a QR code instead of the bare secret",
        )
        p.add_argument(
            "--desk-file",
            metavar="FILE",
            help="with --provision: also write a desk-phone provisioning file (Yealink"
            " format by default) holding the new password",
        )
        p.add_argument(
            "--desk-template",
            metavar="FILE",
            help="the template of that file (default: asterisk-conf/provisioning/yealink.cfg.j2)",
        )
        p.add_argument("--json", action="store_true", help="print the phone and its secret as JSON")
    p.add_argument("--no-qr", action="store_true", help="print no QR code")


def _phone(sub: argparse._SubParsersAction) -> None:
    phone = sub.add_parser(
        "phone",
        help="SIP phones: add, list, remove, reset-secret, provision",
        description="SIP desk phones and softphones. A phone's password is generated, shown"
        " once and never stored (Asterisk gets md5(name:realm:password)).",
    )
    psub = phone.add_subparsers(dest="phone_command", required=True, metavar="ACTION")
    add = psub.add_parser(
        "add",
        help="add a phone with a generated password (printed once)",
        description="Add a phone. Example: ccpbx phone add 1001 --label 'Anna' --provision",
    )
    add.add_argument("name", type=console.option(model.check_phone_name), help="SIP user name")
    add.add_argument(
        "--label",
        default="",
        type=console.option(model.check_label),
        help="the name shown as its caller ID and on its screen (default: the name)",
    )
    add.add_argument(
        "--transport",
        choices=model.PHONE_TRANSPORTS,
        default="udp",
        help="how it reaches Asterisk (default udp)",
    )
    add.add_argument("--webrtc", action="store_true", help="a browser phone (implies wss)")
    add.add_argument(
        "--class-of-service",
        choices=model.CLASSES_OF_SERVICE,
        default="national",
        help="what it may dial out to (default national)",
    )
    add.add_argument(
        "--max-calls",
        type=console.option(console.at_least(1)),
        default=2,
        help="calls at once (default 2)",
    )
    _provision_options(add, fresh=True)
    add.set_defaults(func=cmd_phone_add)

    lst = psub.add_parser("list", help="list phones (never their secrets)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=cmd_phone_list)

    rm = psub.add_parser("remove", help="remove a phone")
    rm.add_argument("name", help="the phone's name")
    rm.set_defaults(func=cmd_phone_remove)

    reset = psub.add_parser(
        "reset-secret",
        help="give a phone a new generated password (printed once)",
        description="Replace a phone's password; the old one stops working once the"
        " configuration is deployed. With --provision, print the full account.",
    )
    reset.add_argument("name", help="the phone's name")
    _provision_options(reset, fresh=True)
    reset.set_defaults(func=cmd_phone_reset_secret)

    prov = psub.add_parser(
        "provision",
        help="print a phone's account details and QR code (without the password)",
        description="Print what a person needs to set up the phone. The password is not"
        " stored: `ccpbx phone reset-secret NAME --provision` prints the account with a"
        " new one (and --desk-file writes the desk-phone file).",
    )
    prov.add_argument("name", help="the phone's name")
    _provision_options(prov, fresh=False)
    prov.set_defaults(func=cmd_phone_provision)


def _trunk(sub: argparse._SubParsersAction) -> None:
    trunk = sub.add_parser(
        "trunk",
        help="carrier trunks: add, list, remove",
        description="Carrier trunks. Each is recognised by the addresses its calls come from"
        " (--identify) or by its registration (--register), never by a header's user name.",
    )
    tsub = trunk.add_subparsers(dest="trunk_command", required=True, metavar="ACTION")
    add = tsub.add_parser(
        "add",
        help="add a trunk",
        description="Examples: ccpbx trunk add acme --host sip.acme.example --identify"
        " 203.0.113.0/24; ccpbx trunk add voip --host sip.voip.example --register"
        " --username 4420 --secret S",
    )
    add.add_argument(
        "name",
        type=console.option(model.check_trunk_name),
        help="the trunk's name (campaigns and routes pick it by this name)",
    )
    add.add_argument(
        "--host",
        required=True,
        type=console.option(model.check_host),
        help="the carrier's SIP server (address or host name)",
    )
    add.add_argument(
        "--port", type=console.option(_port), default=5060, help="its SIP port (default 5060)"
    )
    add.add_argument(
        "--transport",
        choices=model.TRUNK_TRANSPORTS,
        default="udp",
        help="how Asterisk reaches it (default udp)",
    )
    add.add_argument(
        "--identify",
        action="append",
        metavar="CIDR",
        type=console.option(model.check_cidr),
        help="an address or network the carrier's calls come from (repeat for more)",
    )
    add.add_argument("--register", action="store_true", help="register to the carrier")
    add.add_argument(
        "--username",
        type=console.option(model.check_username),
        help="the account the carrier gave you (registration and challenged calls)",
    )
    add.add_argument(
        "--secret", type=console.option(model.check_secret), help="that account's password"
    )
    add.add_argument(
        "--codecs",
        type=console.option(model.check_codecs),
        default=("ulaw", "alaw"),
        help=f"comma-separated, in order of preference (default ulaw,alaw; known:"
        f" {','.join(model.CODECS)})",
    )
    add.add_argument(
        "--max-channels",
        type=console.option(console.at_least(1)),
        default=None,
        help="calls at once the carrier allows (default: no limit)",
    )
    add.add_argument(
        "--dial-template",
        type=console.option(model.check_dial_template),
        default=model.DEFAULT_DIAL_TEMPLATE,
        help="how a number is dialed through it (default PJSIP/{number}@{trunk})",
    )
    add.set_defaults(func=cmd_trunk_add)
    lst = tsub.add_parser("list", help="list trunks (never their secrets)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=cmd_trunk_list)
    rm = tsub.add_parser("remove", help="remove a trunk")
    rm.add_argument("name", help="the trunk's name")
    rm.set_defaults(func=cmd_trunk_remove)


def _e164(text: str) -> str:
    return check_e164(text, "number")


def _route(text: str) -> str:
    model.check_target(text)
    return text


def _hours(text: str) -> str:
    hours.check_hours_name(text)
    return text


def _closed(text: str) -> str:
    hours.check_closed_route(text)
    return text


def _number(sub: argparse._SubParsersAction) -> None:
    number = sub.add_parser(
        "number",
        help="inbound numbers (DIDs): add, list, remove",
        description="Inbound numbers and where their calls go.",
    )
    nsub = number.add_subparsers(dest="number_command", required=True, metavar="ACTION")
    add = nsub.add_parser(
        "add",
        help="route an inbound number",
        description="Example: ccpbx number add +12125550100 --to queue:sales"
        " [--hours support/office --closed ivr:afterhours]",
    )
    add.add_argument("number", type=console.option(_e164), help="E.164 (+ and country code)")
    add.add_argument(
        "--to",
        required=True,
        type=console.option(_route),
        help="ivr:FLOW, queue:NAME or agent:NUMBER (rings that one agent, see the README)",
    )
    add.add_argument(
        "--hours",
        type=console.option(_hours),
        metavar="FLOW/CALENDAR",
        help="route there only inside the hours of this calendar of an active IVR flow"
        " (read at call time from the flow's active version); needs --closed",
    )
    add.add_argument(
        "--closed",
        type=console.option(_closed),
        metavar="ROUTE",
        help="where calls go outside those hours (ivr:FLOW, queue:NAME or voicemail:MAILBOX,"
        " a queue's mailbox); needs --hours",
    )
    add.set_defaults(func=cmd_number_add)
    lst = nsub.add_parser("list", help="list numbers and their routes")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=cmd_number_list)
    rm = nsub.add_parser("remove", help="stop routing a number")
    rm.add_argument("number", type=console.option(_e164), help="E.164 (+ and country code)")
    rm.set_defaults(func=cmd_number_remove)


def register(sub: argparse._SubParsersAction) -> None:
    _phone(sub)
    _trunk(sub)
    _number(sub)
