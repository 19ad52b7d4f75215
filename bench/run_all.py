"""``make bench``: every benchmark in turn, figures printed, nothing asserted.

Each runs as its own process so one's memory and event loop do not colour another's.
Each prints its figures against their targets (PASS or MISS, see ``targets.py``);
the run ends with a table of every target. Pass ``--quick`` for a short pass
(smaller data sets) when checking that they run: its figures are not the targets'.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from targets import Target, parse, table

HERE = Path(__file__).resolve().parent
RECORDING = HERE / "data" / "asterisk22-calls.ami"


def benches(quick: bool) -> list[tuple[str, list[str]]]:
    ami = ["ami_ingest.py"] + (["--file", str(RECORDING)] if RECORDING.exists() else [])
    return [
        ("AMI ingestion (recorded Asterisk 22 stream)", ami),
        (
            "AMI ingestion (generated 19-header events)",
            ["ami_ingest.py"] + (["--events", "30000"] if quick else []),
        ),
        (
            "FastAGI sessions",
            ["agi_bench.py"] + (["--seconds", "2", "--idle", "200"] if quick else []),
        ),
        (
            "Contact import and lead leasing",
            ["store_bench.py"] + (["--rows", "50000", "--lease-seconds", "3"] if quick else []),
        ),
        ("IVR per-call overhead", ["ivr_bench.py"]),
        (
            "ACD routing decisions (5,000 agents, 2,000 callers)",
            ["acd_bench.py"] + (["--decisions", "1000"] if quick else []),
        ),
        (
            "Persistent agent connect time (real Asterisk)",
            ["agent_connect_bench.py"] + (["--calls", "30"] if quick else []),
        ),
        (
            "Inbound IVR -> queue -> agent calls per second vs a plain dialplan (real Asterisk)",
            ["acd_inbound_bench.py"]
            + (["--agents", "20", "--rates", "5,10", "--seconds", "4"] if quick else []),
        ),
        (
            "Dialer: live answer -> agent connected (real Asterisk)",
            ["dialer_connect_bench.py"] + (["--contacts", "40"] if quick else []),
        ),
        (
            "Web console: event -> screen latency and page weight (real Asterisk, Chromium)",
            ["console_latency.py"] + (["--events", "20"] if quick else []),
        ),
        ("Dialer pacing simulation", ["dialer_table.py"] + (["--days", "1"] if quick else [])),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="run only benchmarks whose title contains this")
    args = parser.parse_args()
    failed = []
    targets: list[tuple[str, Target]] = []
    for title, argv in benches(args.quick):
        if args.only and args.only.lower() not in title.lower():
            continue
        print(f"\n===== {title}: {' '.join(argv)}", flush=True)
        started = time.monotonic()
        with subprocess.Popen(
            [sys.executable, "-u", str(HERE / argv[0]), *argv[1:]],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                target = parse(line)
                if target is not None:
                    targets.append((title, target))
        print(
            f"===== {title}: exit {proc.returncode} in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        if proc.returncode != 0:
            failed.append(title)
    print(
        "\n===== targets"
        + (" (--quick: short runs, not the targets' conditions)" if args.quick else "")
    )
    print(table(targets))
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
