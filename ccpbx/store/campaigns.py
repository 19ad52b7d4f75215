"""Campaigns, the lists they dial, and disposition codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store.db import Executor, transaction, translate_errors
from ccpbx.store.phones import CallingWindow, zone

MODES = ("preview", "progressive", "predictive")
STATUSES = ("running", "paused", "archived")
OUTCOMES = (
    "answered",
    "no_answer",
    "busy",
    "congestion",
    "failed",
    "machine",
    "abandoned",
    "cancelled",
    "not_dialed",
)


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """Everything the dialer needs to know about how to call a campaign's leads."""

    mode: str
    trunk: str
    caller_id: str
    window: CallingWindow = field(default_factory=CallingWindow)
    cap_time_zone: str = "UTC"
    max_attempts_per_day: int = 3
    max_attempts_total: int = 10
    # Seconds before the next attempt, by outcome or disposition code.
    retry_delays: Mapping[str, int] = field(default_factory=dict)
    default_retry_delay_s: int = 3600
    abandon_target: Decimal = Decimal("0.03")
    dial_string_template: str = "PJSIP/{number}@{trunk}"
    ring_timeout_s: int = 25
    amd_enabled: bool = False
    machine_action: str = "hangup"
    """With AMD on, what to do with a machine: ``hangup``, or ``message`` (leave the
    campaign's message after the beep)."""
    lease_ttl_s: int = 120
    queue: str | None = None
    """The ACD queue (``acd_queues.name``) whose members are the campaign's agents."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}", mode=self.mode)
        if self.ring_timeout_s < 15:
            raise InvalidInput("ring timeout must be at least 15 s", value=self.ring_timeout_s)
        if self.max_attempts_per_day < 1 or self.max_attempts_total < 1:
            raise InvalidInput("attempt caps must be at least 1")
        if not Decimal(0) <= Decimal(self.abandon_target) <= Decimal(1):
            raise InvalidInput("abandon target is a ratio between 0 and 1")
        for key, seconds in self.retry_delays.items():
            if not isinstance(seconds, int) or seconds < 0:
                raise InvalidInput("retry delays are whole seconds >= 0", key=key)
        if self.machine_action not in ("hangup", "message"):
            raise InvalidInput(
                "machine action must be hangup or message", machine_action=self.machine_action
            )
        if "{number}" not in self.dial_string_template:
            raise InvalidInput("dial string template must contain {number}")
        zone(self.cap_time_zone)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    status: str
    settings: CampaignSettings


@dataclass(frozen=True, slots=True)
class Disposition:
    code: str
    label: str
    is_final: bool = False
    is_callback: bool = False
    add_to_dnc: bool = False
    # Keys that give it from the phone in wrap-up (sql/0011), None: API only.
    dtmf_key: str | None = None
    # A callback given by DTMF is due this many seconds later.
    callback_delay_s: int = 7200

    def __post_init__(self) -> None:
        if self.dtmf_key is not None and not (
            1 <= len(self.dtmf_key) <= 2 and self.dtmf_key.isascii() and self.dtmf_key.isdigit()
        ):
            raise InvalidInput("a disposition key is 1 or 2 digits", dtmf_key=self.dtmf_key)
        if self.callback_delay_s <= 0:
            raise InvalidInput("callback delay must be positive", value=self.callback_delay_s)


def _campaign(row: asyncpg.Record) -> Campaign:
    settings = CampaignSettings(
        mode=row["mode"],
        trunk=row["trunk"],
        caller_id=row["caller_id"],
        window=CallingWindow(row["window_start_min"], row["window_end_min"]),
        cap_time_zone=row["cap_time_zone"],
        max_attempts_per_day=row["max_attempts_per_day"],
        max_attempts_total=row["max_attempts_total"],
        retry_delays=json.loads(row["retry_delays"]),
        default_retry_delay_s=row["default_retry_delay_s"],
        abandon_target=row["abandon_target"],
        dial_string_template=row["dial_string_template"],
        ring_timeout_s=row["ring_timeout_s"],
        amd_enabled=row["amd_enabled"],
        machine_action=row["machine_action"],
        lease_ttl_s=row["lease_ttl_s"],
        queue=row["queue"],
    )
    return Campaign(row["id"], row["name"], row["status"], settings)


def _columns(settings: CampaignSettings) -> dict[str, Any]:
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    window: CallingWindow = values.pop("window")
    values["window_start_min"] = window.start_min
    values["window_end_min"] = window.end_min
    values["retry_delays"] = json.dumps(dict(settings.retry_delays))
    return values


async def create_campaign(
    db: Executor, name: str, settings: CampaignSettings, *, status: str = "paused"
) -> Campaign:
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", status=status)
    values = _columns(settings)
    names = ["name", "status", *values]
    params = ", ".join(
        f"${i}::jsonb" if col == "retry_delays" else f"${i}" for i, col in enumerate(names, 1)
    )
    with translate_errors("create campaign", name=name):
        row = await db.fetchrow(
            f"INSERT INTO campaigns ({', '.join(names)}) VALUES ({params}) RETURNING *",
            name,
            status,
            *values.values(),
        )
    assert row is not None
    return _campaign(row)


async def update_settings(db: Executor, campaign_id: int, settings: CampaignSettings) -> Campaign:
    values = _columns(settings)
    sets = ", ".join(
        f"{col} = ${i}::jsonb" if col == "retry_delays" else f"{col} = ${i}"
        for i, col in enumerate(values, 2)
    )
    with translate_errors("update campaign", campaign_id=campaign_id):
        row = await db.fetchrow(
            f"UPDATE campaigns SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",
            campaign_id,
            *values.values(),
        )
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", campaign_id=campaign_id)
    return _campaign(row)


async def set_status(db: Executor, campaign_id: int, status: str) -> Campaign:
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", status=status)
    row = await db.fetchrow(
        "UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1 RETURNING *",
        campaign_id,
        status,
    )
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", campaign_id=campaign_id)
    return _campaign(row)


async def get_campaign(db: Executor, name: str) -> Campaign:
    row = await db.fetchrow("SELECT * FROM campaigns WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no campaign named {name!r}", name=name)
    return _campaign(row)


async def get_campaign_by_id(db: Executor, campaign_id: int) -> Campaign:
    row = await db.fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign_id)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", campaign_id=campaign_id)
    return _campaign(row)


async def attach_list(db: Executor, campaign_id: int, list_id: int, now: dt.datetime) -> int:
    """Dial a list in a campaign: each of its contacts becomes a lead (returns how many)."""
    async with transaction(db) as conn:
        with translate_errors("attach list", campaign_id=campaign_id, list_id=list_id):
            await conn.execute(
                """INSERT INTO campaign_lists (campaign_id, list_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING""",
                campaign_id,
                list_id,
            )
            status = await conn.execute(
                """INSERT INTO campaign_leads (campaign_id, contact_id, priority, ready_at)
                   SELECT $1, c.id, c.priority, $3 FROM contacts c WHERE c.list_id = $2
                   ON CONFLICT DO NOTHING""",
                campaign_id,
                list_id,
                now,
            )
    return int(status.split()[-1])


async def detach_list(db: Executor, campaign_id: int, list_id: int) -> None:
    """Stop dialing a list: its leads not in flight leave the campaign."""
    async with transaction(db) as conn:
        await conn.execute(
            "DELETE FROM campaign_lists WHERE campaign_id = $1 AND list_id = $2",
            campaign_id,
            list_id,
        )
        await conn.execute(
            """DELETE FROM campaign_leads l USING contacts c
               WHERE l.campaign_id = $1 AND c.id = l.contact_id AND c.list_id = $2
                 AND l.status <> 'leased'""",
            campaign_id,
            list_id,
        )


async def list_dispositions(db: Executor) -> list[Disposition]:
    rows = await db.fetch(
        """SELECT code, label, is_final, is_callback, add_to_dnc, dtmf_key, callback_delay_s
           FROM dispositions ORDER BY code"""
    )
    return [Disposition(*r) for r in rows]


async def get_disposition(db: Executor, code: str) -> Disposition:
    row = await db.fetchrow(
        """SELECT code, label, is_final, is_callback, add_to_dnc, dtmf_key, callback_delay_s
           FROM dispositions WHERE code = $1""",
        code,
    )
    if row is None:
        raise InvalidInput(f"unknown disposition code {code!r}", code=code)
    return Disposition(*row)


async def save_disposition(db: Executor, disposition: Disposition) -> Disposition:
    """Create or change a disposition code."""
    with translate_errors("save disposition", code=disposition.code):
        await db.execute(
            """INSERT INTO dispositions (code, label, is_final, is_callback, add_to_dnc,
                                         dtmf_key, callback_delay_s)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label,
                   is_final = EXCLUDED.is_final, is_callback = EXCLUDED.is_callback,
                   add_to_dnc = EXCLUDED.add_to_dnc, dtmf_key = EXCLUDED.dtmf_key,
                   callback_delay_s = EXCLUDED.callback_delay_s""",
            disposition.code,
            disposition.label,
            disposition.is_final,
            disposition.is_callback,
            disposition.add_to_dnc,
            disposition.dtmf_key,
            disposition.callback_delay_s,
        )
    return disposition


LEADS_LEFT_CAP = 1_000_000
"""The count of leads left stops here (the query stays bounded on a huge campaign)."""


async def count_leads_left(db: Executor, campaign_id: int, *, cap: int = LEADS_LEFT_CAP) -> int:
    """Leads of the campaign not finished with (ready, due or not yet, or leased),
    at most ``cap`` (an index-only scan of ``campaign_leads_left``)."""
    with translate_errors("count leads left", campaign_id=campaign_id):
        value = await db.fetchval(
            """SELECT count(*) FROM (SELECT 1 FROM campaign_leads
                   WHERE campaign_id = $1 AND status IN ('ready', 'leased') LIMIT $2) s""",
            campaign_id,
            cap,
        )
    return int(value)
