"""Which CSV column feeds which contact field: pure, checked before any row is read."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ccpbx.errors import InvalidInput

# Contact fields a column may map to; "fields.KEY" stores the cell in the
# contact's free-form fields, "-" ignores the column.
TARGETS = (
    "phone",
    "name",
    "first_name",
    "last_name",
    "time_zone",
    "priority",
    "consent",
    "external_id",
)
IGNORE = "-"
FIELDS_PREFIX = "fields."

_ALIASES = {
    "phone": "phone",
    "phone_number": "phone",
    "phonenumber": "phone",
    "number": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "cell": "phone",
    "msisdn": "phone",
    "name": "name",
    "full_name": "name",
    "fullname": "name",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "time_zone": "time_zone",
    "timezone": "time_zone",
    "tz": "time_zone",
    "priority": "priority",
    "consent": "consent",
    "external_id": "external_id",
    "dnc_flagged": IGNORE,
}
_NUMBERED_PHONE = re.compile(r"^(phone|phone_number|mobile|tel|telephone|number)_?\d+$")


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def default_target(header: str) -> str:
    """The field a column of that name goes to when no --map says otherwise."""
    if header.startswith(FIELDS_PREFIX) and len(header) > len(FIELDS_PREFIX):
        return header
    key = normalise_header(header)
    if key in _ALIASES:
        return _ALIASES[key]
    if _NUMBERED_PHONE.match(key):
        return "phone"
    return FIELDS_PREFIX + header.strip()


def is_known_header(header: str) -> bool:
    """True if a column of that name would not land in fields under its own name."""
    return default_target(header) != FIELDS_PREFIX + header.strip()


def parse_map_options(options: Sequence[str]) -> dict[str, str]:
    """``["Tel=phone", "Notes=fields.notes"]`` into a dict; refuse malformed ones."""
    mapping: dict[str, str] = {}
    for option in options:
        column, sep, target = option.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise InvalidInput(f"--map {option!r} is not of the form COLUMN=FIELD")
        mapping[column.strip()] = target.strip()
    return mapping


@dataclass(frozen=True, slots=True)
class Plan:
    """Column indexes for each field, in file order."""

    header: tuple[str, ...]
    phones: tuple[int, ...]
    name: int | None
    first_name: int | None
    last_name: int | None
    time_zone: int | None
    priority: int | None
    consent: int | None
    external_id: int | None
    fields: tuple[tuple[int, str], ...]


def plan(header: Sequence[str], overrides: Mapping[str, str] | None = None) -> Plan:
    """Resolve the mapping; an unknown column or field refuses the whole import."""
    overrides = dict(overrides or {})
    index = {name: i for i, name in enumerate(header)}
    for column, target in overrides.items():
        if column not in index:
            raise InvalidInput(
                f"--map names column {column!r}, which the file does not have;"
                f" its columns are: {', '.join(repr(h) for h in header)}",
                column=column,
            )
        valid = (
            target in TARGETS
            or target == IGNORE
            or (target.startswith(FIELDS_PREFIX) and len(target) > len(FIELDS_PREFIX))
        )
        if not valid:
            raise InvalidInput(
                f"--map {column}={target}: unknown field {target!r}; use one of"
                f" {', '.join(TARGETS)}, fields.KEY, or - to ignore the column",
                field=target,
            )
    singles: dict[str, int] = {}
    phones: list[int] = []
    fields: list[tuple[int, str]] = []
    seen_keys: set[str] = set()
    for i, column in enumerate(header):
        if not column and column not in overrides:
            continue
        target = overrides.get(column) or default_target(column)
        if target == IGNORE:
            continue
        if target == "phone":
            phones.append(i)
        elif target.startswith(FIELDS_PREFIX):
            key = target[len(FIELDS_PREFIX) :]
            if key in seen_keys:
                raise InvalidInput(f"two columns map to fields.{key}", field=target)
            seen_keys.add(key)
            fields.append((i, key))
        elif target in singles:
            raise InvalidInput(
                f"columns {header[singles[target]]!r} and {column!r} both map to {target}",
                field=target,
            )
        else:
            singles[target] = i
    if not phones:
        raise InvalidInput(
            "no column holds phone numbers; name one with --map COLUMN=phone",
            columns=list(header),
        )
    return Plan(
        header=tuple(header),
        phones=tuple(phones),
        name=singles.get("name"),
        first_name=singles.get("first_name"),
        last_name=singles.get("last_name"),
        time_zone=singles.get("time_zone"),
        priority=singles.get("priority"),
        consent=singles.get("consent"),
        external_id=singles.get("external_id"),
        fields=tuple(fields),
    )
