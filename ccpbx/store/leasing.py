"""The dialer's hopper: lease leads that may be dialed now, reconcile lost leases.

``lease`` picks, locks and records in ONE statement (one transaction): it
reads the campaign's ready leads in queue order with ``FOR UPDATE SKIP
LOCKED``, so concurrent dialers (tasks, processes, hosts) never get the same
contact, checks every eligibility rule against the rows it locks (do-not-call,
calling window in every zone of the number, attempt caps: the fragments of
:mod:`ccpbx.store.compliance`; retry delay), writes
one ``call_attempts`` row per lead and marks the lead leased. The attempt's
uuid is the id the call carries.

A leased lead stays locked until its attempt has an outcome: a dialer that
dies leaves attempts whose lease expires; :func:`reconcile_expired` marks
them expired and asks the caller (who can ask Asterisk) what happened. A
contact is never redialed on a guess.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store import compliance
from ccpbx.store.attempts import Attempt, attempt_from_row, close_attempt
from ccpbx.store.campaigns import OUTCOMES
from ccpbx.store.db import Executor, connection, transaction, translate_errors

log = structlog.get_logger(__name__)

# How long a lead with no callable number waits before the hopper looks at it again.
DEFER_S = 300

# $1 campaign id, $2 now, $3 dialer id; {limit} is formatted in (an int) so the
# planner's generic plan knows how few rows come out: with LIMIT $3 it guesses
# 10% of the campaign and plans the UPDATE as a merge join over every lead.
_LEASE_SQL = """
WITH camp AS (
    SELECT c.id, c.window_start_min * 60 AS open_s, c.window_end_min * 60 AS close_s,
           c.max_attempts_total, c.max_attempts_per_day, c.lease_ttl_s,
           {cap_day} AS today
    FROM campaigns c WHERE c.id = $1 AND c.status = 'running'
),
candidates AS (
    SELECT l.campaign_id, l.contact_id, l.callback_id, ph.id AS phone_id, ph.e164,
           ph.time_zones, camp.today, camp.lease_ttl_s, l.tier, l.priority, l.ready_at
    FROM camp
    JOIN campaign_leads l ON l.campaign_id = camp.id
    LEFT JOIN LATERAL (
        SELECT p.id, p.e164, p.time_zones FROM phone_numbers p
        WHERE p.contact_id = l.contact_id AND NOT p.dnc_flagged
          AND {window_open}
          AND NOT EXISTS (SELECT 1 FROM dnc_entries d WHERE {dnc_applies})
        ORDER BY p.id = l.preferred_phone_id DESC NULLS LAST, p.rank
        LIMIT 1
    ) ph ON true
    WHERE l.status = 'ready' AND l.ready_at <= $2 {tier_filter}
      AND NOT {total_cap_reached} AND NOT {day_cap_reached}
    ORDER BY l.tier, l.priority DESC, l.ready_at, l.contact_id
    LIMIT {limit}
    FOR UPDATE OF l SKIP LOCKED
),
picked AS (
    SELECT * FROM candidates WHERE phone_id IS NOT NULL
),
-- Leads at the head of the queue with no number callable now (window closed in
-- a zone, do-not-call) step aside for a while instead of being scanned by every
-- lease; one whose numbers are all flagged at import is finished with.
deferred AS (
    UPDATE campaign_leads l
    SET ready_at = $2 + make_interval(secs => {defer_s}),
        status = CASE WHEN EXISTS (SELECT 1 FROM phone_numbers p
                                   WHERE p.contact_id = l.contact_id AND NOT p.dnc_flagged)
                      THEN l.status ELSE 'done' END
    FROM candidates c
    WHERE c.phone_id IS NULL AND l.campaign_id = c.campaign_id AND l.contact_id = c.contact_id
),
ins AS (
    INSERT INTO call_attempts (campaign_id, contact_id, phone_id, e164, callback_id,
                               dialer_id, state, leased_at, lease_expires_at)
    SELECT campaign_id, contact_id, phone_id, e164, callback_id, $3, 'leased', $2,
           $2 + make_interval(secs => lease_ttl_s)
    FROM picked
    RETURNING id, campaign_id, contact_id, phone_id, e164, callback_id, lease_expires_at
),
upd AS (
    UPDATE campaign_leads l
    SET status = 'leased', last_attempt_id = ins.id,
        attempts_total = l.attempts_total + 1,
        attempts_on_day = CASE WHEN l.attempts_day = p.today THEN l.attempts_on_day + 1
                               ELSE 1 END,
        attempts_day = p.today
    FROM ins JOIN picked p ON p.contact_id = ins.contact_id
    WHERE l.campaign_id = ins.campaign_id AND l.contact_id = ins.contact_id
),
cb AS (
    UPDATE callbacks SET status = 'dialed', attempt_id = ins.id
    FROM ins WHERE callbacks.id = ins.callback_id
    RETURNING callbacks.id, callbacks.agent
)
SELECT ins.id, ins.campaign_id, ins.contact_id, ins.phone_id, ins.e164, p.time_zones,
       ins.callback_id, cb.agent AS callback_agent, ins.lease_expires_at,
       c.name, c.fields
FROM ins
JOIN picked p ON p.contact_id = ins.contact_id
JOIN contacts c ON c.id = ins.contact_id
LEFT JOIN cb ON cb.id = ins.callback_id
ORDER BY p.tier, p.priority DESC, p.ready_at, p.contact_id
"""


@functools.lru_cache(maxsize=64)
def _lease_sql(n: int, callbacks_only: bool = False) -> str:
    return _LEASE_SQL.format(
        limit=int(n),
        tier_filter="AND l.tier = 0" if callbacks_only else "",
        defer_s=DEFER_S,
        window_open=compliance.window_open(
            zones="p.time_zones", now="$2", open_s="camp.open_s", close_s="camp.close_s"
        ),
        dnc_applies=compliance.dnc_applies(e164="p.e164", campaign="camp.id", now="$2"),
        cap_day=compliance.cap_day(now="$2", camp="c"),
        total_cap_reached=compliance.total_cap_reached(lead="l", camp="camp"),
        day_cap_reached=compliance.day_cap_reached(lead="l", camp="camp", today="camp.today"),
    )


@dataclass(frozen=True, slots=True)
class LeasedLead:
    """A contact a dialer may call now; ``attempt_id`` must travel with the call."""

    attempt_id: uuid.UUID
    campaign_id: int
    contact_id: int
    phone_id: int
    e164: str
    time_zones: tuple[str, ...]
    name: str
    fields: dict[str, Any]
    lease_expires_at: dt.datetime
    callback_id: int | None = None
    callback_agent: str | None = None
    """The agent (number) a callback is promised to; None: anyone."""


async def lease(
    db: Executor,
    campaign_id: int,
    n: int,
    now: dt.datetime,
    *,
    dialer_id: str,
    callbacks_only: bool = False,
) -> list[LeasedLead]:
    """Up to ``n`` leads of a running campaign that may be dialed at ``now``.

    Due callbacks come first, then higher priority, then the lead waiting
    longest. Each returned lead has a fresh attempt in state ``leased``.
    The ``n`` leads at the head of the queue are examined; those with no
    number callable now are deferred by ``DEFER_S`` seconds, so fewer than
    ``n`` may come back while more remain: call again. ``callbacks_only``: due
    callbacks only (the dialer leases those when it has an agent to reserve).
    """
    if n < 1:
        raise InvalidInput("lease at least one lead", n=n)
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware datetime")
    async with connection(db) as conn:
        with translate_errors("lease leads", campaign_id=campaign_id):
            rows = await conn.fetch(_lease_sql(n, callbacks_only), campaign_id, now, dialer_id)
    return [
        LeasedLead(
            attempt_id=r["id"],
            campaign_id=r["campaign_id"],
            contact_id=r["contact_id"],
            phone_id=r["phone_id"],
            e164=r["e164"],
            time_zones=tuple(r["time_zones"]),
            name=r["name"],
            fields=json.loads(r["fields"]),
            lease_expires_at=r["lease_expires_at"],
            callback_id=r["callback_id"],
            callback_agent=r["callback_agent"],
        )
        for r in rows
    ]


async def renew_leases(db: Executor, attempt_ids: Sequence[uuid.UUID], now: dt.datetime) -> int:
    """A live dialer still owns these attempts: push their lease expiry forward."""
    status = await db.execute(
        """UPDATE call_attempts a
           SET lease_expires_at = $2::timestamptz + make_interval(secs => c.lease_ttl_s)
           FROM campaigns c
           WHERE a.id = ANY($1::uuid[]) AND c.id = a.campaign_id
             AND a.state IN ('leased', 'dialing', 'ringing', 'answered')""",
        list(attempt_ids),
        now,
    )
    return int(status.split()[-1])


# What the caller knows of an expired attempt: its outcome, or None when it
# cannot tell yet (the contact then stays locked).
Resolver = Callable[[Attempt], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    newly_expired: int
    reconciled: list[Attempt] = field(default_factory=list)
    unresolved: list[Attempt] = field(default_factory=list)


async def reconcile_expired(
    db: Executor, now: dt.datetime, resolver: Resolver, *, limit: int = 100
) -> ReconcileReport:
    """Expire lapsed leases, then settle up to ``limit`` expired attempts.

    ``resolver`` says what Asterisk knows of each: an outcome (``not_dialed``
    if the call was never placed) or None. The resolver runs outside any
    transaction; an attempt its dialer finished meanwhile is left as it is.
    """
    async with connection(db) as conn:
        status = await conn.execute(
            """UPDATE call_attempts SET state = 'expired', expired_at = $1
               WHERE state IN ('leased', 'dialing', 'ringing', 'answered')
                 AND lease_expires_at <= $1""",
            now,
        )
        newly = int(status.split()[-1])
        if newly:
            log.warning("leases_expired", count=newly)
        rows = await conn.fetch(
            """SELECT * FROM call_attempts WHERE state = 'expired'
               ORDER BY expired_at, id LIMIT $1""",
            limit,
        )
        report = ReconcileReport(newly)
        for row in rows:
            attempt = attempt_from_row(row)
            outcome = await resolver(attempt)
            if outcome is None:
                report.unresolved.append(attempt)
                continue
            if outcome not in OUTCOMES:
                raise InvalidInput(f"resolver gave unknown outcome {outcome!r}")
            async with transaction(conn):
                locked = await conn.fetchrow(
                    "SELECT * FROM call_attempts WHERE id = $1 FOR UPDATE", attempt.id
                )
                if locked is None or locked["state"] != "expired":
                    continue
                done = await close_attempt(conn, locked, outcome, now, state="reconciled")
            log.info("attempt_reconciled", attempt_id=str(done.id), outcome=outcome)
            report.reconciled.append(done)
    return report
