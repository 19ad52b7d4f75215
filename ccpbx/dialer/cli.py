"""``ccpbx campaign create|list|start|pause``: campaigns from the command line.

A running daemon follows the stored status within a few seconds (see
:meth:`ccpbx.dialer.runtime.service.DialerService.sync`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation

import asyncpg

from ccpbx.errors import InvalidInput, NotFound, Unavailable
from ccpbx.store import campaigns, contacts
from ccpbx.store.agents import create_queue
from ccpbx.store.campaigns import MODES, CampaignSettings
from ccpbx.store.phones import CallingWindow


async def _connect(database_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise Unavailable(f"cannot reach the database: {exc}") from exc


def _retry_delays(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value.isdigit():
            raise InvalidInput(f"--retry takes OUTCOME=SECONDS, got {item!r}")
        out[key.strip()] = int(value)
    return out


def _ratio(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"--abandon-target takes a ratio like 0.03, got {text!r}") from None


async def _queue_id(conn: asyncpg.Connection, name: str) -> int:
    found = await conn.fetchval("SELECT id FROM queues WHERE name = $1", name)
    if found is not None:
        return int(found)
    return (await create_queue(conn, name)).id


async def cmd_create(args: argparse.Namespace, database_url: str) -> int:
    settings = CampaignSettings(
        mode=args.mode,
        trunk=args.trunk,
        caller_id=args.caller_id,
        window=CallingWindow.parse(args.window),
        cap_time_zone=args.cap_time_zone,
        max_attempts_per_day=args.max_per_day,
        max_attempts_total=args.max_total,
        retry_delays=_retry_delays(args.retry or []),
        default_retry_delay_s=args.default_retry,
        abandon_target=_ratio(args.abandon_target),
        ring_timeout_s=args.ring_timeout,
        amd_enabled=args.amd or args.machines is not None,
        machine_action=args.machines or "hangup",
    )
    conn = await _connect(database_url)
    try:
        async with conn.transaction():
            queue_id = await _queue_id(conn, args.queue)
            settings = dataclasses.replace(settings, queue_id=queue_id)
            campaign = await campaigns.create_campaign(conn, args.name, settings)
            leads = 0
            now = dt.datetime.now(dt.UTC)
            for name in args.list or []:
                clist = await contacts.get_list(conn, name)
                leads += await campaigns.attach_list(conn, campaign.id, clist.id, now)
    finally:
        await conn.close()
    print(
        f"campaign {campaign.name} (id {campaign.id}, {settings.mode}, queue {args.queue}):"
        f" {leads} leads, paused; start it with: ccpbx campaign start {campaign.name}"
    )
    return 0


async def _set_status(database_url: str, name: str, status: str) -> int:
    conn = await _connect(database_url)
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
    conn = await _connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT c.name, c.status, c.mode, q.name AS queue,
                      count(l.*) FILTER (WHERE l.status = 'ready') AS ready,
                      count(l.*) FILTER (WHERE l.status = 'leased') AS in_flight,
                      count(l.*) FILTER (WHERE l.status IN ('done', 'exhausted')) AS finished
               FROM campaigns c LEFT JOIN queues q ON q.id = c.queue_id
               LEFT JOIN campaign_leads l ON l.campaign_id = c.id
               GROUP BY c.id, q.name ORDER BY c.name"""
        )
    finally:
        await conn.close()
    if not rows:
        raise NotFound("no campaigns")
    print(f"{'campaign':<24} {'status':<8} {'mode':<12} {'queue':<16} ready in-flight finished")
    for r in rows:
        print(
            f"{r['name']:<24} {r['status']:<8} {r['mode']:<12} {r['queue'] or '-':<16}"
            f" {r['ready']:>5} {r['in_flight']:>9} {r['finished']:>8}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``campaign`` command."""
    campaign = subparsers.add_parser("campaign", help="outbound campaigns")
    sub = campaign.add_subparsers(dest="campaign_command", required=True)
    create = sub.add_parser("create", help="create a campaign (paused) over contact lists")
    create.add_argument("name")
    create.add_argument("--mode", choices=MODES, default="predictive")
    create.add_argument("--queue", required=True, help="ACD queue whose agents take the calls")
    create.add_argument("--list", action="append", help="contact list to dial; repeatable")
    create.add_argument("--trunk", required=True, help="PJSIP endpoint of the carrier")
    create.add_argument("--caller-id", required=True, help="caller ID presented, E.164")
    create.add_argument("--window", default="08:00-21:00", help="local calling hours")
    create.add_argument("--cap-time-zone", default="UTC", help="zone of the per-day cap")
    create.add_argument("--max-per-day", type=int, default=3)
    create.add_argument("--max-total", type=int, default=10)
    create.add_argument(
        "--retry", action="append", metavar="OUTCOME=SECONDS", help="retry delay; repeatable"
    )
    create.add_argument("--default-retry", type=int, default=3600, help="seconds")
    create.add_argument("--abandon-target", default="0.03", help="ratio, default 0.03")
    create.add_argument("--ring-timeout", type=int, default=25, help="seconds (>= 15)")
    create.add_argument("--amd", action="store_true", help="answering-machine detection")
    create.add_argument(
        "--machines",
        choices=("hangup", "message"),
        help="with AMD: hang up on machines (default) or leave the machine message",
    )
    create.set_defaults(func=cmd_create)
    for verb, func, text in (
        ("start", cmd_start, "dial the campaign"),
        ("pause", cmd_pause, "place no new calls (calls in progress finish)"),
    ):
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("name")
        cmd.set_defaults(func=func)
    sub.add_parser("list", help="campaigns and their leads").set_defaults(func=cmd_list)
