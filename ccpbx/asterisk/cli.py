"""``ccpbx conf render|diff``: the target Asterisk's configuration from ccpbx's data.

``render`` builds the template values from the TOML configuration and the database
(phones, trunks, numbers, queues, IVR entry points), renders every
``asterisk-conf/*.j2`` and writes the result into a staging folder; ``diff`` does the
same, then shows how the staged files differ from the target's config folder.
Nothing here writes into the target folder (that is ``conf apply``'s, later).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ccpbx import console
from ccpbx.asterisk import production, staging
from ccpbx.asterisk.render import RenderedFile, render_all
from ccpbx.asterisk.sources import load_records
from ccpbx.config import Config, load


async def _render(args: argparse.Namespace) -> tuple[Config, Path, dict[str, RenderedFile]]:
    config = load(args.config)
    conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    try:
        records = await load_records(conn)
    finally:
        await conn.close()
    values = production.template_values(config, records)
    files = render_all(values, Path(args.templates) if args.templates else None)
    out = Path(args.out or config.asterisk.staging_dir)
    staging.write_staging(files, out)
    console.say(
        f"rendered {len(files)} files into {out}: {len(records.phones)} phone(s),"
        f" {len(records.trunks)} trunk(s), {len(records.numbers)} number(s),"
        f" {len(records.queues)} queue(s)"
    )
    return config, out, files


async def cmd_render(args: argparse.Namespace) -> int:
    _, out, files = await _render(args)
    for name in sorted(files):
        print(out / name)
    return console.EXIT_OK


async def cmd_diff(args: argparse.Namespace) -> int:
    config, out, files = await _render(args)
    target = Path(args.target or config.asterisk.conf_dir)
    diffs = staging.diff(list(files), out, target)
    for d in diffs:
        if d.diff:
            print(d.diff, end="" if d.diff.endswith("\n") else "\n")
    changed = [d.name for d in diffs if d.state != "same"]
    console.say(
        f"{len(changed)} of {len(diffs)} managed files differ from {target}"
        + (f": {', '.join(changed)}" if changed else "")
    )
    return console.EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        metavar="DIR",
        help="the staging folder (default: [asterisk] staging_dir of the config)",
    )
    p.add_argument(
        "--templates",
        metavar="DIR",
        help="the templates folder (default: asterisk-conf/ beside ccpbx)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    conf = sub.add_parser(
        "conf",
        help="the target Asterisk's configuration: render, diff",
        description="Render asterisk-conf/*.j2 with ccpbx's configuration and data.",
    )
    csub = conf.add_subparsers(dest="conf_command", required=True, metavar="ACTION")
    render = csub.add_parser(
        "render",
        help="render every template into the staging folder",
        description="Render every template with the TOML configuration and the database"
        " (phones, trunks, numbers, queues) into a staging folder; each file starts with a"
        " line saying ccpbx manages it. Prints the paths written.",
    )
    _common(render)
    render.set_defaults(func=cmd_render)
    diff = csub.add_parser(
        "diff",
        help="render, then show a unified diff against the target's config folder",
        description="Render into the staging folder, then print a unified diff of each"
        " managed file against the same file in the target Asterisk's folder ([asterisk]"
        " conf_dir). Files ccpbx does not render are not compared.",
    )
    _common(diff)
    diff.add_argument(
        "--target", metavar="DIR", help="the folder to compare with (default: [asterisk] conf_dir)"
    )
    diff.set_defaults(func=cmd_diff)
