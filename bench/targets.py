"""Every benchmark with a target, run one after the other; each figure beside its target.

A figure measured once goes stale: the incremental build's met its target when it was
written, and a later change took it past (found a session later, by hand). Run this
before a closing note, or after a change to a hot path, to see every target at once:

    .venv/bin/python bench/targets.py            # all, as each bench runs by default
    .venv/bin/python bench/targets.py --quick    # fewer rounds and rows: a first look
    .venv/bin/python bench/targets.py build send # only these

Each bench prints its own report (shown as it runs); this reads the figures from the
lines the benches print, so a bench whose report changes must change its pattern here
too (a figure that cannot be read is said, and counts as a miss). Exit status 1 when a
target is missed. The figures move with the machine's load: run on a quiet machine
(`uptime` is printed first), and read a near miss as a reason to run that bench again
with more rounds, not as a verdict.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NUMBER = r"([\d,]+(?:\.\d+)?)"


@dataclass(frozen=True)
class Target:
    """One figure of a bench's report: the pattern that reads it, and its bound."""

    name: str
    pattern: str  # its first group is the figure
    bound: float
    at_least: bool  # the figure must be >= bound (else <=)
    unit: str = "×"


@dataclass(frozen=True)
class Bench:
    name: str
    command: list[str]
    quick: list[str]  # arguments that make it shorter
    targets: tuple[Target, ...]


BENCHES = (
    Bench("build", ["build.py"], ["--runs", "3"], (
        Target("next day's build at N = 1,000 ÷ N = 10, wall",
               r"\n\s+1000\s+\S+\s+\S+\s+\S+\s+" + NUMBER + "×", 1.2, False),
        Target("next day's build, peak memory, N = 1,000 ÷ N = 10",
               r"\n\s+1000\s+.*?×, .*?×, " + NUMBER + "×", 1.2, False),
        Target("no-op build at N = 1,000, less process start",
               r"\n\s+1000\s+(?:\S+\s+){7}" + NUMBER + "s", 0.3, False, " s"),
    )),
    Bench("send", ["send.py", "--dkim"], ["--subscribers", "5000", "--runs", "2"], (
        Target("unsigned send ÷ smtp-source",
               r"digest send, whole process:\s+\S+ msg/s \(" + NUMBER + "x", 0.9, True),
        Target("signed send ÷ unsigned (DKIM RSA-2048)",
               r"DKIM RSA-2048, whole process: \S+ msg/s \(" + NUMBER + "x", 0.7, True),
    )),
    Bench("startup", ["startup.py"], ["--runs", "7"], (
        Target("digest --help ÷ python -c pass",
               r"digest --help\s+\S+ ms\s+" + NUMBER + "×", 8, False),
        Target("tab completion ÷ python -c pass",
               r"tab completion.*?ms\s+" + NUMBER + "×", 8, False),
    )),
    Bench("subscribers", ["subscribers.py"], ["--runs", "1"], (
        Target("import of 100,000 rows ÷ csv + executemany",
               r"digest subscribers import:\s+\S+ s \(" + NUMBER + "x", 3, False),
        Target("list --json, peak memory 100,000 ÷ 10,000",
               r"list --json.*?\(" + NUMBER + "x", 1.2, False),
        Target("export --format json, peak memory 100,000 ÷ 10,000",
               r"export --format json.*?\(" + NUMBER + "x", 1.2, False),
    )),
    Bench("fetch", ["fetch_memory.py"], [], (
        Target("fetch of 2,000 feeds, peak memory ÷ 200",
               r"2000 feeds:.*?, " + NUMBER + "x the peak", 1.2, False),
    )),
    Bench("parse", ["ingest.py", "--parse-only"], [], (
        Target("parse and sanitise ÷ feedparser.parse",
               r"ratio " + NUMBER + "x", 20, True),
    )),
    Bench("serve", ["serve.py"], ["--rounds", "1"], (
        Target("digest serve ÷ python -m http.server, requests/s",
               r"\n\s+ratio\s+" + NUMBER + "x", 1, True),
    )),
)


def run(bench: Bench, quick: bool) -> str:
    command = [sys.executable, str(BENCH / bench.command[0]), *bench.command[1:],
               *(bench.quick if quick else [])]
    print(f"\n== {bench.name}: {' '.join(command[1:])}", flush=True)
    process = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    print(process.stdout, end="", flush=True)
    if process.returncode != 0:
        print(f"(the bench stopped with status {process.returncode})")
    return process.stdout


def read(target: Target, report: str) -> float | None:
    found = re.search(target.pattern, report, re.DOTALL)
    return float(found.group(1).replace(",", "")) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [b.name for b in BENCHES]
    parser.add_argument("benches", nargs="*", metavar="BENCH",
                        help=f"only these: {', '.join(names)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and rows: a first look, not a measurement")
    args = parser.parse_args()
    unknown = sorted(set(args.benches) - set(names))
    if unknown:
        parser.error(f"no bench named {', '.join(unknown)}; there are {', '.join(names)}")
    chosen = [b for b in BENCHES if not args.benches or b.name in args.benches]
    print(subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True).stdout.strip())
    rows = []
    for bench in chosen:
        report = run(bench, args.quick)
        for target in bench.targets:
            rows.append((target, read(target, report)))
    print("\n== targets")
    missed = 0
    for target, figure in rows:
        sign = "≥" if target.at_least else "≤"
        if figure is None:
            verdict, shown = "cannot read the figure: did the bench's report change?", "?"
        else:
            met = figure >= target.bound if target.at_least else figure <= target.bound
            verdict, shown = ("met" if met else "MISSED"), f"{figure:g}{target.unit}"
        missed += verdict != "met"
        print(f"  {verdict:6}  {shown:>8}  (target {sign} {target.bound:g}{target.unit})  "
              f"{target.name}")
    print(f"{len(rows) - missed} of {len(rows)} targets met")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
