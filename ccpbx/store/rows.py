"""One CSV record into staging rows for the contact import, or the reason it is refused.

Pure: no I/O. A staging row is one phone number of a contact; the contact's
own columns ride on its first number (rank 0) only.
"""

from __future__ import annotations

import json

from ccpbx.errors import InvalidInput
from ccpbx.store.csvfile import DEFAULT_MAX_FIELD
from ccpbx.store.mapping import Plan
from ccpbx.store.phones import PhoneError, normalise, unneutralise, zone

STAGING_COLUMNS = (
    "line",
    "rank",
    "e164",
    "zones",
    "name",
    "time_zone",
    "priority",
    "consent",
    "external_id",
    "fields",
)
StagingRow = tuple[
    int,
    int,
    str,
    list[str],
    str | None,
    str | None,
    int | None,
    bool | None,
    str | None,
    str | None,
]

_TRUE = {"1", "true", "t", "yes", "y", "x"}
_FALSE = {"0", "false", "f", "no", "n"}


class RowError(ValueError):
    """The record is rejected; the message is the reason written to the reject file."""


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return unneutralise(cells[index].strip())


def _consent(text: str) -> bool | None:
    low = text.lower()
    if not low:
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise RowError(f"consent must be yes or no, not {text!r}")


def _priority(text: str) -> int:
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise RowError(f"priority must be a whole number, not {text!r}") from None
    if not -1_000_000 <= value <= 1_000_000:
        raise RowError(f"priority {value} is out of range")
    return value


def convert(
    line: int,
    cells: list[str],
    plan: Plan,
    region: str,
    had_nul: bool = False,
    max_field: int = DEFAULT_MAX_FIELD,
) -> list[StagingRow]:
    """The staging rows of one record; RowError says why it cannot be imported.

    No value longer than ``max_field`` characters is staged (a name joined from
    first and last names included)."""
    if had_nul:
        raise RowError("contains a NUL byte (binary or corrupt data)")
    if len(cells) > len(plan.header):
        raise RowError(f"has {len(cells)} cells but the header has {len(plan.header)} columns")
    numbers: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for index in plan.phones:
        raw = _cell(cells, index)
        if not raw:
            continue
        try:
            phone = normalise(raw, region)
        except PhoneError as exc:
            raise RowError(f"column {plan.header[index]!r}: {exc}") from None
        if phone.e164 not in seen:
            seen.add(phone.e164)
            numbers.append((phone.e164, phone.time_zones))
    if not numbers:
        raise RowError("missing phone number")
    tz = _cell(cells, plan.time_zone) or None
    if tz is not None:
        try:
            zone(tz)
        except InvalidInput:
            raise RowError(f"unknown time zone {tz!r}") from None
    name = _cell(cells, plan.name)
    if not name and (plan.first_name is not None or plan.last_name is not None):
        name = " ".join(
            part for part in (_cell(cells, plan.first_name), _cell(cells, plan.last_name)) if part
        )
        if len(name) > max_field:
            raise RowError(f"the name is longer than {max_field} characters")
    fields = {key: value for i, key in plan.fields if (value := _cell(cells, i))}
    first = True
    rows: list[StagingRow] = []
    for rank, (e164, zones) in enumerate(numbers):
        zone_list = [tz] if tz else list(zones)
        if first:
            rows.append(
                (
                    line,
                    rank,
                    e164,
                    zone_list,
                    name,
                    tz,
                    _priority(_cell(cells, plan.priority)),
                    _consent(_cell(cells, plan.consent)),
                    _cell(cells, plan.external_id) or None,
                    json.dumps(fields, ensure_ascii=False) if fields else "{}",
                )
            )
            first = False
        else:
            rows.append((line, rank, e164, zone_list, None, None, None, None, None, None))
    return rows
