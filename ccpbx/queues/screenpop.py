"""Screen pops: what an agent's page shows the moment the ACD offers it a call.

A pop is built in two parts. What the ACD knows (the caller's channel, queue, wait)
is read synchronously on the worker, when the ``call_offered`` event is published;
what PostgreSQL knows (the IVR path and entries, the contact, campaign attempts, the
number's recent calls) is read afterwards on a task of its own, each read bounded by
a timeout: the connect never waits for it, and a piece that cannot be read is null.

The finished pop is kept per agent (for ``GET /api/agents/{agent}/screen-pop``) and
published as ``{"type": "screen_pop", "agent": N, "pop": {...}}`` on the event feed,
where :func:`ccpbx.queues.audience.visible_to` keeps it from other agents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, EventKind
from ccpbx.ami.channels import ChannelView
from ccpbx.errors import NotFound
from ccpbx.ivr.contacts import e164_candidates
from ccpbx.queues.service import QueueService
from ccpbx.store.db import Executor
from ccpbx.tasks import TaskSet

log = structlog.get_logger(__name__)

PoolSource = Callable[[], Executor]

# IVR variables the flow engine sets itself (not what the caller keyed in).
_NOT_INPUTS = frozenset({"caller", "did", "language", "contact_found"})


class NoCall(NotFound):
    error_id = "no_call"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value or {})


class ScreenPops:
    """Builds, keeps and publishes each agent's screen pop (see the module docstring)."""

    def __init__(
        self,
        acd: QueueService,
        channels: ChannelView,
        pool: PoolSource,
        *,
        history_days: int = 30,
        read_timeout_s: float = 2.0,
    ) -> None:
        self._acd = acd
        self._channels = channels
        self._pool = pool
        self.history_days = history_days
        self.read_timeout_s = read_timeout_s
        self._pops: dict[str, dict[str, Any]] = {}
        self.tasks = TaskSet("screen-pop")
        acd.add_listener(self._on_event)

    # ----- the ACD side (on the worker: no I/O) ------------------------------------

    def _on_event(self, event: AcdEvent) -> None:
        if event.kind is EventKind.CALL_OFFERED and event.agent_id and event.call_id:
            live = self.live_part(event.agent_id, event.call_id, event.at)
            self.tasks.spawn(self._finish(event.agent_id, live), name="screen-pop")
        elif event.kind is EventKind.WRAPUP_ENDED and event.agent_id:
            self._pops.pop(event.agent_id, None)

    def live_part(self, agent: str, call_id: str, now: float) -> dict[str, Any]:
        """What the ACD knows of ``agent``'s call ``call_id`` now."""
        call = self._acd.state.calls.get(call_id)
        leg = self._acd.legs.get(call_id)
        channel = self._channels.get(call_id)
        number = (leg.shown_number if leg else "") or (channel.caller_id_num if channel else "")
        name = (leg.shown_name if leg else "") or (channel.caller_id_name if channel else "")
        offered = call.offered_at if call and call.offered_at else now
        return {
            "call_id": call_id,
            "agent": agent,
            "direction": "inbound",
            "queue": call.queue if call else (leg.queue if leg else None),
            "waited_s": round(offered - call.enqueued_at, 1) if call else None,
            "offered_at": dt.datetime.fromtimestamp(offered, dt.UTC).isoformat(),
            "caller": {"number": number, "name": name},
            "contact": None,
            "ivr": None,
            "campaign": None,
            "history": [],
        }

    # ----- the database side (a task of its own) -------------------------------------

    async def _finish(self, agent: str, pop: dict[str, Any]) -> None:
        try:
            await self.complete(pop)
        except Exception:
            log.exception("screen_pop_failed", agent=agent, call_id=pop["call_id"])
        current = self._acd.state.agents.get(agent)
        if current is None or current.call_id != pop["call_id"]:
            return  # the offer is over already (not answered, or ended)
        self._pops[agent] = pop
        self._acd.feed.publish({"type": "screen_pop", "agent": agent, "pop": pop})
        log.info("screen_pop_sent", agent=agent, call_id=pop["call_id"])

    async def complete(self, pop: dict[str, Any]) -> None:
        """Fill in the database parts of ``pop``; each one that fails stays as it was."""
        try:
            db = self._pool()
        except Exception as exc:  # no database now: the pop has the ACD's part only
            log.warning("screen_pop_no_database", error=repr(exc))
            return
        await fill(db, pop, history_days=self.history_days, read_timeout_s=self.read_timeout_s)

    # ----- reads -------------------------------------------------------------------

    async def current(self, agent: str) -> dict[str, Any]:
        """``agent``'s pop for the call it has now; NoCall when it has none."""
        a = self._acd.state.agents.get(agent)
        if a is None or a.call_id is None:
            raise NoCall("the agent has no call now", agent=agent)
        pop = self._pops.get(agent)
        if pop is not None and pop["call_id"] == a.call_id:
            return pop
        call = self._acd.state.calls.get(a.call_id)
        offered = call.offered_at if call is not None and call.offered_at else time.time()
        pop = self.live_part(agent, a.call_id, offered)
        await self.complete(pop)
        self._pops[agent] = pop
        return pop

    def last_call(self, agent: str) -> str | None:
        """The call ``agent`` is on, or the one it is wrapping up (until wrap-up ends)."""
        a = self._acd.state.agents.get(agent)
        if a is not None and a.call_id is not None:
            return a.call_id
        pop = self._pops.get(agent)
        return pop["call_id"] if pop is not None else None

    async def stop(self) -> None:
        await self.tasks.cancel_all()


async def fill(
    db: Executor, pop: dict[str, Any], *, history_days: int = 30, read_timeout_s: float = 2.0
) -> None:
    """Fill in the database parts of ``pop`` (campaign lead and attempts, IVR path and
    entries, contact by number, the number's calls in the last ``history_days`` days);
    each read is bounded by ``read_timeout_s`` and one that fails leaves its part null."""

    async def read(what: str, work: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(work, read_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("screen_pop_read_failed", part=what, error=repr(exc))
            return None

    call_id = pop["call_id"]
    campaign = await read("campaign", _campaign(db, call_id))
    if campaign is not None:
        pop["direction"] = "outbound"
        pop["campaign"] = campaign["campaign"]
        pop["contact"] = campaign["contact"]
        if not pop["caller"]["number"]:
            pop["caller"]["number"] = campaign["e164"]
    pop["ivr"] = await read("ivr", _ivr(db, call_id))
    number = pop["caller"]["number"]
    if pop["contact"] is None and number:
        pop["contact"] = await read("contact", _contact_by_number(db, number))
    if pop["contact"] is not None and not pop["caller"]["name"]:
        pop["caller"]["name"] = pop["contact"]["name"]
    if number:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=history_days)
        pop["history"] = await read("history", _history(db, number, call_id, since)) or []


async def _ivr(db: Executor, call_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow(
        """SELECT c.id, c.flow, v.version, c.variables
           FROM ivr_calls c JOIN ivr_flow_versions v ON v.id = c.version_id
           WHERE c.uniqueid = $1 ORDER BY c.started_at DESC LIMIT 1""",
        call_id,
    )
    if row is None:
        return None
    steps = await db.fetch(
        "SELECT node, digits FROM ivr_call_steps WHERE call_id = $1 ORDER BY seq", row["id"]
    )
    variables = _json(row["variables"])
    inputs = {k: str(v) for k, v in variables.items() if k not in _NOT_INPUTS and "." not in k}
    return {
        "flow": row["flow"],
        "version": row["version"],
        "path": [{"node": s["node"], "digits": s["digits"]} for s in steps],
        "inputs": inputs,
    }


def _contact(row: Any, zones: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "list": row["list"],
        "fields": _json(row["fields"]),
        "time_zones": [row["time_zone"]] if row["time_zone"] else zones,
    }


async def _contact_by_number(db: Executor, number: str) -> dict[str, Any] | None:
    row = await db.fetchrow(
        """SELECT c.id, c.name, c.fields, c.time_zone, l.name AS list, p.time_zones
           FROM phone_numbers p JOIN contacts c ON c.id = p.contact_id
           JOIN contact_lists l ON l.id = c.list_id
           WHERE p.e164 = ANY($1::text[]) ORDER BY p.rank, c.id LIMIT 1""",
        e164_candidates(number),
    )
    return _contact(row, list(row["time_zones"])) if row is not None else None


async def _campaign(db: Executor, call_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow(
        """SELECT a.id AS attempt_id, a.contact_id, a.campaign_id, a.e164, k.name AS campaign,
                  c.id, c.name, c.fields, c.time_zone, l.name AS list, p.time_zones
           FROM call_attempts a JOIN campaigns k ON k.id = a.campaign_id
           JOIN contacts c ON c.id = a.contact_id JOIN contact_lists l ON l.id = c.list_id
           JOIN phone_numbers p ON p.id = a.phone_id
           WHERE a.uniqueid = $1 OR a.id::text = $1 LIMIT 1""",
        call_id,
    )
    if row is None:
        return None
    attempts = await db.fetch(
        """SELECT leased_at, outcome, disposition FROM call_attempts
           WHERE contact_id = $1 AND campaign_id = $2 ORDER BY leased_at""",
        row["contact_id"],
        row["campaign_id"],
    )
    return {
        "e164": row["e164"],
        "contact": _contact(row, list(row["time_zones"])),
        "campaign": {
            "name": row["campaign"],
            "attempt_id": str(row["attempt_id"]),
            "attempts": [
                {
                    "at": _iso(a["leased_at"]),
                    "outcome": a["outcome"],
                    "disposition": a["disposition"],
                }
                for a in attempts
            ],
        },
    }


async def _history(
    db: Executor, number: str, call_id: str, since: dt.datetime
) -> list[dict[str, Any]]:
    digits = "".join(ch for ch in number if ch.isdigit())
    forms = sorted({number, digits, *e164_candidates(number)} - {""})
    rows = await db.fetch(
        """SELECT r.started_at, r.direction, r.queue, r.agent, r.answered_at, r.ended_at,
                  r.disposition
           FROM call_records r
           WHERE (r.caller = ANY($1::text[]) OR r.callee = ANY($1::text[]))
             AND r.started_at >= $2 AND r.uniqueid IS DISTINCT FROM $3
           ORDER BY r.started_at DESC LIMIT 20""",
        forms,
        since,
        call_id,
    )
    out = []
    for r in rows:
        ended, answered = r["ended_at"], r["answered_at"]
        outcome = r["disposition"] or ("answered" if answered else "not_answered")
        if ended is None:
            outcome = "in_progress"
        out.append(
            {
                "at": _iso(r["started_at"]),
                "direction": r["direction"],
                "queue": r["queue"],
                "agent": r["agent"],
                "outcome": outcome,
                "duration_s": (
                    round((ended - answered).total_seconds(), 1) if ended and answered else 0.0
                ),
            }
        )
    return out
