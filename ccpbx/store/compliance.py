"""The outbound compliance rules as the store evaluates them, each written once.

Every statement that decides whether a number may be dialed (the lease, the
release of a lead after an attempt, the import's do-not-call flag, the
``is_blocked`` lookup) formats these fragments in; none writes its own.

- Calling window: the SQL here is the lease's PRE-FILTER. The decision is the pure
  rule :func:`ccpbx.store.phones.calling_window_open`, which the dialer applies
  again just before it sends the call (a lead may wait in the hopper). The two
  are compared over random zones, windows and instants in
  tests/store/test_compliance_property.py.
- Do-not-call: an unexpired entry of the global list or of the campaign's list.
- Attempt caps: a lead has a total cap and a cap per day, the day counted in the
  campaign's ``cap_time_zone``.

Fragments are ``str.format`` templates; the names in braces are SQL expressions
supplied by the statement (column references or parameters), never user input.
"""

from __future__ import annotations

# True when the local time of day at {now} is in [{open_s}, {close_s}) seconds in
# EVERY zone of the array {zones}; an empty array (nothing known) is closed.
WINDOW_OPEN_SQL = """(cardinality({zones}) > 0 AND NOT EXISTS (
    SELECT 1 FROM unnest({zones}) AS z(tz)
    WHERE NOT (extract(epoch FROM ({now}::timestamptz AT TIME ZONE z.tz)::time) >= {open_s}
           AND extract(epoch FROM ({now}::timestamptz AT TIME ZONE z.tz)::time) < {close_s})))"""

# Inside ``FROM dnc_entries d``: entry d covers number {e164} for campaign {campaign}
# at {now} ({campaign} NULL: only the global list counts).
DNC_APPLIES_SQL = """(d.e164 = {e164} AND (d.campaign_id IS NULL OR d.campaign_id = {campaign})
    AND (d.expires_at IS NULL OR d.expires_at > {now}))"""

# Inside ``FROM dnc_entries d``: entry d covers {e164} on any list, global or a
# campaign's (the import flags such a number; the lease still checks per campaign).
DNC_LISTED_SQL = """(d.e164 = {e164} AND (d.expires_at IS NULL OR d.expires_at > {now}))"""

# The campaign's day for the per-day cap, at instant {now}; {camp} is the campaigns row.
CAP_DAY_SQL = "(({now}::timestamptz AT TIME ZONE {camp}.cap_time_zone)::date)"

# When a lead that reached its per-day cap on campaign day {day} may be tried again:
# the start of the next campaign day.
NEXT_CAP_DAY_SQL = "(({day} + 1)::timestamp AT TIME ZONE {camp}.cap_time_zone)"

# Lead {lead} has used every attempt campaign {camp} allows in total.
TOTAL_CAP_REACHED_SQL = "({lead}.attempts_total >= {camp}.max_attempts_total)"

# Lead {lead} has used every attempt allowed on campaign day {today}.
DAY_CAP_REACHED_SQL = """({lead}.attempts_day IS NOT DISTINCT FROM {today}
    AND {lead}.attempts_on_day >= {camp}.max_attempts_per_day)"""


def window_open(*, zones: str, now: str, open_s: str, close_s: str) -> str:
    return WINDOW_OPEN_SQL.format(zones=zones, now=now, open_s=open_s, close_s=close_s)


def dnc_applies(*, e164: str, campaign: str, now: str) -> str:
    return DNC_APPLIES_SQL.format(e164=e164, campaign=campaign, now=now)


def dnc_listed(*, e164: str, now: str) -> str:
    return DNC_LISTED_SQL.format(e164=e164, now=now)


def cap_day(*, now: str, camp: str) -> str:
    return CAP_DAY_SQL.format(now=now, camp=camp)


def total_cap_reached(*, lead: str, camp: str) -> str:
    return TOTAL_CAP_REACHED_SQL.format(lead=lead, camp=camp)


def day_cap_reached(*, lead: str, camp: str, today: str) -> str:
    return DAY_CAP_REACHED_SQL.format(lead=lead, camp=camp, today=today)


def next_cap_day(*, day: str, camp: str) -> str:
    return NEXT_CAP_DAY_SQL.format(day=day, camp=camp)
