"""``ccpbx campaign create|list|start|pause``: campaigns from the command line.

A running daemon follows the stored status within a few seconds (see
:meth:`ccpbx.dialer.runtime.service.DialerService.sync`). Option values are
checked by argparse (a bad one exits 2 with the option named); what depends on
the database (an unknown queue or list) fails with exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import asyncpg

from ccpbx import console
from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import campaigns, contacts
from ccpbx.store.campaigns import MODES, CampaignSettings
from ccpbx.store.phones import CallingWindow, check_e164, zone


def _retry(item: str) -> tuple[str, int]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not value.isdigit():
        raise InvalidInput(f"--retry takes OUTCOME=SECONDS (e.g. busy=1800), got {item!r}")
    return key.strip(), int(value)


def _ratio(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise InvalidInput(
            f"--abandon-target takes a ratio between 0 and 1 (e.g. 0.03), got {text!r}"
        )
    return value


def _caller_id(text: str) -> str:
    return check_e164(text, "caller ID")


def _time_zone(text: str) -> str:
    zone(text)
    return text


async def _check_retry_keys(conn: asyncpg.Connection, delays: Mapping[str, int]) -> None:
    codes = {d.code for d in await campaigns.list_dispositions(conn)}
    unknown = sorted(set(delays) - set(campaigns.OUTCOMES) - codes)
    if unknown:
        raise InvalidInput(
            f"--retry names no outcome or disposition: {', '.join(unknown)}; outcomes are "
            f"{', '.join(campaigns.OUTCOMES)}; dispositions {', '.join(sorted(codes)) or 'none'}"
        )


async def _check_queue(conn: asyncpg.Connection, name: str) -> str:
    """The campaign's queue: it must be an ACD queue (whose members are its agents)."""
    known = [r["name"] for r in await conn.fetch("SELECT name FROM acd_queues ORDER BY name")]
    if name not in known:
        raise NotFound(
            f"unknown queue {name!r}; "
            + (f"known queues: {', '.join(known)}" if known else "no queue exists yet")
            + f" (a supervisor creates one with PUT /api/queues/{name})",
            queue=name,
        )
    return name


async def cmd_create(args: argparse.Namespace, database_url: str) -> int:
    settings = CampaignSettings(
        mode=args.mode,
        trunk=args.trunk,
        caller_id=args.caller_id,
        window=args.window,
        cap_time_zone=args.cap_time_zone,
        max_attempts_per_day=args.max_per_day,
        max_attempts_total=args.max_total,
        retry_delays=dict(args.retry or []),
        default_retry_delay_s=args.default_retry,
        abandon_target=args.abandon_target,
        ring_timeout_s=args.ring_timeout,
        amd_enabled=args.amd or args.machines is not None,
        machine_action=args.machines or "hangup",
    )
    conn = await console.connect(database_url)
    try:
        async with conn.transaction():
            await _check_retry_keys(conn, settings.retry_delays)
            queue = await _check_queue(conn, args.queue)
            settings = dataclasses.replace(settings, queue=queue)
            campaign = await campaigns.create_campaign(conn, args.name, settings)
            leads = 0
            now = dt.datetime.now(dt.UTC)
            for name in args.list or []:
                clist = await contacts.get_list(conn, name)
                leads += await campaigns.attach_list(conn, campaign.id, clist.id, now)
    finally:
        await conn.close()
    if args.json:
        console.print_json(
            {
                "campaign": campaign.name,
                "id": campaign.id,
                "mode": settings.mode,
                "queue": args.queue,
                "leads": leads,
                "status": campaign.status,
            }
        )
    else:
        print(
            f"campaign {campaign.name} (id {campaign.id}, {settings.mode}, queue {args.queue}):"
            f" {leads} leads, paused; start it with: ccpbx campaign start {campaign.name}"
        )
    return 0


async def _set_status(database_url: str, name: str, status: str) -> int:
    conn = await console.connect(database_url)
    try:
        campaign = await campaigns.get_campaign(conn, name)
        await campaigns.set_status(conn, campaign.id, status)
    finally:
        await conn.close()
    print(f"campaign {name}: {status} (a running ccpbx follows within a few seconds)")
    return 0


async def cmd_start(args: argparse.Namespace, database_url: str) -> int:
    return await _set_status(database_url, args.name, "running")


async def cmd_pause(args: argparse.Namespace, database_url: str) -> int:
    return await _set_status(database_url, args.name, "paused")


async def cmd_list(args: argparse.Namespace, database_url: str) -> int:
    conn = await console.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT c.name, c.status, c.mode, c.queue,
                      count(l.*) FILTER (WHERE l.status = 'ready') AS ready,
                      count(l.*) FILTER (WHERE l.status = 'leased') AS in_flight,
                      count(l.*) FILTER (WHERE l.status IN ('done', 'exhausted')) AS finished
               FROM campaigns c LEFT JOIN campaign_leads l ON l.campaign_id = c.id
               GROUP BY c.id ORDER BY c.name"""
        )
    finally:
        await conn.close()
    if args.json:
        console.print_json([dict(r) for r in rows])
        return 0
    if not rows:
        console.say("no campaigns yet; create one with: ccpbx campaign create --help")
        return 0
    print(f"{'campaign':<24} {'status':<8} {'mode':<12} {'queue':<16} ready in-flight finished")
    for r in rows:
        print(
            f"{r['name']:<24} {r['status']:<8} {r['mode']:<12} {r['queue'] or '-':<16}"
            f" {r['ready']:>5} {r['in_flight']:>9} {r['finished']:>8}"
        )
    return 0


CREATE_EXAMPLE = (
    """example:
  ccpbx campaign create spring --queue outbound --list spring --trunk carrier \\
      --caller-id +12125550000 --mode predictive --window 09:00-20:00 \\
      --retry busy=1800 --retry no_answer=3600 --max-per-day 2 --amd

The queue must exist (PUT /api/queues/NAME); its members are the campaign's agents.
Retry outcomes: """
    + ", ".join(o for o in campaigns.OUTCOMES if o != "answered")
    + """
or a disposition code (GET /api/dispositions)."""
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``campaign`` command."""
    campaign = subparsers.add_parser("campaign", help="outbound campaigns: create, start, pause")
    sub = campaign.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    create = sub.add_parser(
        "create",
        help="create a campaign (paused) over contact lists",
        description="Create an outbound campaign, paused, over one or more contact lists.",
        epilog=CREATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("name", help="campaign name")
    create.add_argument(
        "--mode",
        choices=MODES,
        default="predictive",
        help="preview: an agent sees the contact first; progressive: one call per free "
        "agent; predictive: dials ahead within the abandon target (default predictive)",
    )
    create.add_argument(
        "--queue", required=True, help="existing ACD queue whose agents take the calls"
    )
    create.add_argument(
        "--list", action="append", help="contact list to dial; repeatable (default: none yet)"
    )
    create.add_argument("--trunk", required=True, help="PJSIP endpoint of the carrier")
    create.add_argument(
        "--caller-id",
        required=True,
        type=console.option(_caller_id),
        help="caller ID presented, E.164 with + and country code (e.g. +12125550000)",
    )
    create.add_argument(
        "--window",
        default=CallingWindow(),
        type=console.option(CallingWindow.parse),
        metavar="HH:MM-HH:MM",
        help="calling hours in each recipient's own time zone, start inclusive, end "
        "exclusive, 24-hour clock (default 08:00-21:00)",
    )
    create.add_argument(
        "--cap-time-zone",
        default="UTC",
        type=console.option(_time_zone),
        metavar="ZONE",
        help="IANA zone whose midnight starts the per-day cap and the abandon day "
        "(e.g. America/New_York; default UTC)",
    )
    create.add_argument(
        "--max-per-day",
        type=console.option(console.at_least(1)),
        default=3,
        metavar="N",
        help="most attempts per contact per day (default 3)",
    )
    create.add_argument(
        "--max-total",
        type=console.option(console.at_least(1)),
        default=10,
        metavar="N",
        help="most attempts per contact over the campaign (default 10)",
    )
    create.add_argument(
        "--retry",
        action="append",
        type=console.option(_retry),
        metavar="OUTCOME=SECONDS",
        help="wait before calling again after that outcome; repeatable (e.g. busy=1800)",
    )
    create.add_argument(
        "--default-retry",
        type=console.option(console.at_least(0)),
        default=3600,
        metavar="SECONDS",
        help="wait after an outcome with no --retry of its own (default 3600)",
    )
    create.add_argument(
        "--abandon-target",
        type=console.option(_ratio),
        default=Decimal("0.03"),
        metavar="RATIO",
        help="most abandoned / live-answered calls the predictive pacer allows "
        "(default 0.03, the 3%% of US and UK rules)",
    )
    create.add_argument(
        "--ring-timeout",
        type=console.option(console.at_least(15)),
        default=25,
        metavar="SECONDS",
        help="how long a call rings before it is no answer, at least 15 (default 25)",
    )
    create.add_argument(
        "--amd", action="store_true", help="answering-machine detection on answered calls"
    )
    create.add_argument(
        "--machines",
        choices=("hangup", "message"),
        help="with AMD (implies --amd): hang up on machines (default) or leave the machine message",
    )
    create.add_argument("--json", action="store_true", help="print the result as JSON")
    create.set_defaults(func=cmd_create)
    for verb, func, text in (
        ("start", cmd_start, "dial the campaign"),
        ("pause", cmd_pause, "place no new calls (calls in progress finish)"),
    ):
        cmd = sub.add_parser(verb, help=text, description=text.capitalize() + ".")
        cmd.add_argument("name", help="campaign name")
        cmd.set_defaults(func=func)
    clist = sub.add_parser(
        "list",
        help="campaigns and their leads (ready, in flight, finished)",
        description="Every campaign with its status, mode, queue and lead counts.",
    )
    clist.add_argument("--json", action="store_true", help="print JSON")
    clist.set_defaults(func=cmd_list)
