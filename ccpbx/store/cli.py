"""``ccpbx contacts import|export|lists`` and ``ccpbx dnc import|remove|list``.

``register`` adds the commands to the main parser; each command is
``async def (args, database_url) -> int`` (see :mod:`ccpbx.store.cli_commands`).
Options are checked here, so a bad one is a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import datetime as dt

from ccpbx import console
from ccpbx.errors import InvalidInput
from ccpbx.store.cli_commands import (
    cmd_contacts_export,
    cmd_contacts_import,
    cmd_contacts_lists,
    cmd_dnc_import,
    cmd_dnc_list,
    cmd_dnc_remove,
)
from ccpbx.store.csvfile import DEFAULT_MAX_FIELD, check_encoding
from ccpbx.store.dnc_import import parse_expiry
from ccpbx.store.phones import check_region

EXIT_CODES = """exit status: 0 all rows imported; 1 failure (nothing imported: unreadable
file, unknown column, database down...); 2 usage error; 3 partial (some rows
rejected, the others imported; 0 with --allow-rejects)."""

FILE_RULES = f"""file: CSV with a header line; delimiter , ; TAB or | (detected). Encoding:
UTF-8, with or without a byte-order mark; a file that is not valid UTF-8 is
refused with the line and column of the first bad byte, unless --encoding
names its encoding (latin-1, cp1252, ...). A quoted field may span lines; a
quote left open (to the end of the file or past --max-field characters)
refuses that row ("unclosed quote") and the lines after it are read again.
A field longer than --max-field (default {DEFAULT_MAX_FIELD}) characters refuses its
row. Every line is accounted for: total = header + imported + rejected +
blank. Rejected rows go to FILE.rejects.csv (for FILE.csv) with their line
and reason; log lines and progress go to stderr, the summary to stdout."""


def _encoding(text: str) -> str:
    check_encoding(text)
    return text  # the name as typed, for the messages


def _future_expiry(text: str) -> dt.datetime:
    when = parse_expiry(text)
    if when <= dt.datetime.now(dt.UTC):
        raise InvalidInput(
            f"{text} is already past: the entries would protect nothing"
            " (to take numbers off the list, use ccpbx dnc remove)"
        )
    return when


def _parser(
    sub: argparse._SubParsersAction, name: str, summary: str, epilog: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoding",
        type=console.option(_encoding),
        metavar="NAME",
        help="decode the file as NAME (latin-1, cp1252, utf-16, ...) instead of UTF-8;"
        " never guessed",
    )
    p.add_argument(
        "--max-field",
        type=console.option(console.at_least(1)),
        default=DEFAULT_MAX_FIELD,
        metavar="N",
        help=f"longest field accepted, in characters (default: {DEFAULT_MAX_FIELD});"
        " a row with a longer one is rejected, never stored",
    )
    p.add_argument(
        "--rejects",
        metavar="PATH",
        help="reject file (default: FILE.rejects.csv beside FILE.csv); written only if a row"
        " is rejected, an old one is removed otherwise",
    )
    p.add_argument(
        "--allow-rejects",
        action="store_true",
        help="exit 0 even if rows were rejected (default: exit 3)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _contacts(sub: argparse._SubParsersAction) -> None:
    contacts = sub.add_parser(
        "contacts",
        help="contact lists: import, export, lists",
        description="Contact lists: import CSV files into them, export them, list them.",
    )
    csub = contacts.add_subparsers(dest="contacts_command", required=True, metavar="COMMAND")

    imp = _parser(
        csub,
        "import",
        "import a CSV file of contacts into a list",
        FILE_RULES
        + """

columns: phone, phone2... (any header like phone, mobile, tel, number), name or
first_name + last_name, time_zone (IANA, e.g. America/New_York), priority
(whole number), consent (yes/no), external_id; any other column is kept in the
contact's free-form fields under its header. A number already in the list, or
twice in the file, is rejected. Numbers on a do-not-call list are imported
flagged and never dialed. One transaction: a failed or interrupted import
imports nothing.

"""
        + EXIT_CODES
        + """

examples:
  ccpbx contacts import leads.csv --list spring
  ccpbx contacts import export.csv --list fr --region FR --encoding cp1252 \\
      --map Téléphone=phone --map Nom=name --map Remarque=fields.notes
  ccpbx contacts import leads.csv --list spring --json --allow-rejects""",
    )
    imp.add_argument("file", help="CSV file to import")
    imp.add_argument("--list", required=True, help="contact list (created if missing)")
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="map a column to phone, name, first_name, last_name, time_zone, priority,"
        " consent, external_id, fields.KEY or - (ignore); repeatable; default: by header name",
    )
    imp.add_argument(
        "--region",
        type=console.option(check_region),
        help="region of numbers written without a country code, e.g. US, FR"
        " (default: the list's, US for a new list)",
    )
    _file_options(imp)
    imp.set_defaults(func=cmd_contacts_import)

    exp = _parser(
        csub,
        "export",
        "export a contact list to a CSV file",
        """columns: external_id, name, phone, phone2..., time_zone, priority, consent,
dnc_flagged, then one per free-form field. UTF-8, comma-separated, CRLF line
ends; the file imports back to the same contacts. Phone numbers are written
as plain E.164 (+12125550101) and whole numbers as themselves; any other cell
starting with = + - @ TAB or CR is prefixed with an apostrophe so that a
spreadsheet shows it instead of running it as a formula (the importer removes
the apostrophe). The file is replaced atomically.

exit status: 0 written; 1 failure (unknown list, database down); 2 usage error.

examples:
  ccpbx contacts export --list spring spring.csv
  ccpbx contacts export --list spring spring.csv --json""",
    )
    exp.add_argument("--list", required=True, help="contact list to export")
    exp.add_argument("file", help="CSV file to write (replaced if it exists)")
    exp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    exp.set_defaults(func=cmd_contacts_export)

    lists = _parser(
        csub,
        "lists",
        "show the contact lists and how many contacts each holds",
        "examples:\n  ccpbx contacts lists\n  ccpbx contacts lists --json",
    )
    lists.add_argument("--json", action="store_true", help="print one JSON object")
    lists.set_defaults(func=cmd_contacts_lists)


_DNC_RULES = """An entry's protection only gets stronger by an import: a number already on the
list keeps its entry unless the import protects it longer (permanent over
dated, a later expiry over an earlier one). Shortening or ending a protection
takes `ccpbx dnc remove` or `dnc import --replace`, each with a --reason that
is written to the audit log."""


def _dnc(sub: argparse._SubParsersAction) -> None:
    dnc = sub.add_parser(
        "dnc",
        help="do-not-call lists: import, remove, list",
        description="Do-not-call lists, global or per campaign. " + _DNC_RULES,
    )
    dsub = dnc.add_subparsers(dest="dnc_command", required=True, metavar="COMMAND")
    dimp = _parser(
        dsub,
        "import",
        "add the numbers of a CSV file to a do-not-call list",
        _DNC_RULES
        + "\n\n"
        + FILE_RULES
        + """

columns: the phone column(s), found by header name (phone, number, tel...) or
with --map; a file of one column is read as numbers whatever its header.

"""
        + EXIT_CODES
        + """

examples:
  ccpbx dnc import complaints.csv --source customer-request
  ccpbx dnc import state-2026.csv --source state-list --expires 2026-12-31
  ccpbx dnc import fixed.csv --source state-list --expires 2026-06-30 \\
      --replace --reason "state list corrected, ticket 4521\"""",
    )
    dimp.add_argument("file", help="CSV file with a phone column")
    dimp.add_argument("--campaign", help="campaign the entries apply to (default: every campaign)")
    dimp.add_argument(
        "--source", default="import", help="where the list came from (default: import)"
    )
    dimp.add_argument(
        "--expires",
        type=console.option(_future_expiry),
        metavar="DATE",
        help="last day the entries hold, YYYY-MM-DD (through that day, UTC), or an ISO"
        " datetime; must be in the future (default: permanent)",
    )
    dimp.add_argument(
        "--region",
        type=console.option(check_region),
        default="US",
        help="region of numbers written without a country code (default: US)",
    )
    dimp.add_argument(
        "--map", action="append", metavar="COLUMN=phone", help="a phone column; repeatable"
    )
    dimp.add_argument(
        "--replace",
        action="store_true",
        help="set the file's numbers to exactly this source and expiry, even where that"
        " shortens their protection (needs --reason; each shortened entry is audited)",
    )
    dimp.add_argument("--reason", help="why protections are shortened (with --replace)")
    _file_options(dimp)
    dimp.set_defaults(func=cmd_dnc_import)

    drm = _parser(
        dsub,
        "remove",
        "take numbers off a do-not-call list, with a reason",
        """Each number must be written in E.164 (+ and country code) and be on the list;
otherwise nothing is removed. The removal and its reason are written to the
audit log.

exit status: 0 removed; 1 failure (a number not on the list, invalid number,
unknown campaign); 2 usage error.

examples:
  ccpbx dnc remove +12125550101 --reason "consent given, ticket 881"
  ccpbx dnc remove +12125550101 +12125550102 --campaign spring --reason "added by mistake\"""",
    )
    drm.add_argument("numbers", nargs="+", metavar="NUMBER", help="number in E.164")
    drm.add_argument("--reason", required=True, help="why (kept in the audit log)")
    drm.add_argument("--campaign", help="that campaign's list (default: the global list)")
    drm.add_argument("--json", action="store_true", help="print the result as one JSON object")
    drm.set_defaults(func=cmd_dnc_remove)

    dls = _parser(
        dsub,
        "list",
        "show the entries of a do-not-call list",
        """One line per entry: number, source, expiry (or permanent).

examples:
  ccpbx dnc list
  ccpbx dnc list --campaign spring --json
  ccpbx dnc list --number +12125550101""",
    )
    dls.add_argument("--campaign", help="that campaign's list (default: the global list)")
    dls.add_argument("--number", help="only the entry of this number (E.164)")
    dls.add_argument("--json", action="store_true", help="print one JSON object")
    dls.set_defaults(func=cmd_dnc_list)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``contacts`` and ``dnc`` commands."""
    _contacts(subparsers)
    _dnc(subparsers)
