"""Subscriber lists in bulk: `digest subscribers import` beside a plain csv + executemany script,
and the peak memory of `list --json` and `export` at N and 10×N subscribers.

    .venv/bin/python bench/subscribers.py [--rows 100000] [--runs 3]

Each round imports the same generated CSV (email,name,categories; every
twentieth row with categories) into a fresh state file with `digest
subscribers import` (a real process, its per-line report going to /dev/null),
then runs the baseline, a script that reads the file with `csv.reader` and
inserts the rows with one `executemany` into a table of the same shape (also a
real process, so both pay the interpreter's start). A second import of the same
file (every row "unchanged") is timed too, and an import of a file with no rows:
the fixed cost of starting the CLI (its imports, the config, the state file),
which the figures are also given net of. The medians and their ratios are
printed; the target is at most 3× the baseline.

Then, for N/10 and N subscribers, the peak memory (max RSS) of `subscribers
import` (of a file of that many rows into a fresh state file, the report to
/dev/null), `subscribers list --json`, `subscribers export` (CSV) and
`subscribers export --format json`, and the ratio of the two: flat memory
means a ratio near 1.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from measure import measured

ROOT = Path(__file__).resolve().parents[1]

BASELINE = r"""
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE "
           "COLLATE NOCASE, name TEXT NOT NULL DEFAULT '', categories TEXT NOT NULL DEFAULT '',"
           " status TEXT NOT NULL DEFAULT 'active', created_at TEXT NOT NULL, "
           "updated_at TEXT NOT NULL)")
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    next(reader)
    with db:
        db.executemany("INSERT INTO subscribers (email, name, categories, created_at, "
                       "updated_at) VALUES (?, ?, ?, '2026-01-01', '2026-01-01')", reader)
db.close()
"""


def write_config(folder: Path) -> Path:
    path = folder / "config.toml"
    path.write_text("""
[digest]
title = "Aze Daily Digest"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"
state = "digest.sqlite3"

[[categories]]
slug = "news"
title = "News"
feeds = ["feeds/news.xml"]

[[categories]]
slug = "economy"
title = "Economy"
feeds = ["feeds/economy.xml"]

[email]
from = "Aze Daily Digest <digest@news.example.org>"
transport = "file"
""", encoding="utf-8")
    return path


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name,categories\n")
        for n in range(rows):
            cats = "news economy" if n % 20 == 0 else ""
            f.write(f"reader{n:07d}@example.org,Reader {n} Məmmədov,{cats}\n")


CPU: list[float] = []  # CPU seconds (user + system) of each command run, in order


def timed(command: list[str]) -> tuple[float, int]:
    """Run a command (stdout to /dev/null); return (seconds, peak RSS in KiB)."""
    m = measured(command)
    CPU.append(m.cpu)
    return m.seconds, m.peak_kib


def digest(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "digest", "--config", str(config), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-subscribers-"))
    try:
        config = write_config(folder)
        listing = folder / "subscribers.csv"
        write_csv(listing, args.rows)
        script = folder / "baseline.py"
        script.write_text(BASELINE, encoding="utf-8")
        print(f"{args.rows:,} rows, {listing.stat().st_size / 1024:,.0f} KiB of CSV")

        empty = folder / "empty.csv"
        empty.write_text("email,name,categories\n", encoding="utf-8")
        ours, again, theirs, fixed = [], [], [], []
        cpu_ours, cpu_theirs, cpu_fixed = [], [], []  # less hurt by a busy machine
        for round_ in range(1, args.runs + 1):
            for leftover in folder.glob("digest.sqlite3*"):
                leftover.unlink()
            seconds, _ = timed(digest(config, "subscribers", "import", str(listing)))
            repeat, _ = timed(digest(config, "subscribers", "import", str(listing)))
            idle, _ = timed(digest(config, "subscribers", "import", str(empty)))
            plain_db = folder / "plain.sqlite3"
            plain_db.unlink(missing_ok=True)
            plain, _ = timed([sys.executable, str(script), str(listing), str(plain_db)])
            cpu_ours.append(CPU[-4])
            cpu_fixed.append(CPU[-2])
            cpu_theirs.append(CPU[-1])
            ours.append(seconds)
            again.append(repeat)
            theirs.append(plain)
            fixed.append(idle)
            print(f"  round {round_}: digest import {seconds:.2f} s (again, unchanged: "
                  f"{repeat:.2f} s; no rows: {idle:.2f} s), csv + executemany {plain:.2f} s")
        mine, repeat, base, start = (statistics.median(x) for x in (ours, again, theirs, fixed))
        print(f"csv + executemany script:          {base:.2f} s")
        print(f"digest subscribers import:         {mine:.2f} s ({mine / base:.2f}x the script); "
              f"net of its fixed cost ({start:.2f} s): {mine - start:.2f} s "
              f"({(mine - start) / base:.2f}x)")
        print(f"the same file again (unchanged):   {repeat:.2f} s ({repeat / base:.2f}x); net: "
              f"{repeat - start:.2f} s ({(repeat - start) / base:.2f}x)")
        c_ours, c_fixed, c_base = (statistics.median(x)
                                   for x in (cpu_ours, cpu_fixed, cpu_theirs))
        print(f"CPU time: script {c_base:.2f} s, digest import {c_ours:.2f} s "
              f"({c_ours / c_base:.2f}x), net of its fixed cost ({c_fixed:.2f} s): "
              f"{c_ours - c_fixed:.2f} s ({(c_ours - c_fixed) / c_base:.2f}x)")

        peaks: dict[str, dict[int, int]] = {}
        small = args.rows // 10
        for count in (small, args.rows):
            for leftover in folder.glob("digest.sqlite3*"):
                leftover.unlink()
            part = folder / "part.csv"
            write_csv(part, count)
            _, peak = timed(digest(config, "subscribers", "import", str(part)))
            peaks.setdefault("import", {})[count] = peak
            for label, command in (
                    ("list --json", ("subscribers", "list", "--json")),
                    ("export (CSV)", ("subscribers", "export")),
                    ("export --format json", ("subscribers", "export", "--format", "json"))):
                _, peak = timed(digest(config, *command))
                peaks.setdefault(label, {})[count] = peak
        for label, by_count in peaks.items():
            print(f"peak memory, {label:<20} {small:,}: {by_count[small] / 1024:.1f} MiB, "
                  f"{args.rows:,}: {by_count[args.rows] / 1024:.1f} MiB "
                  f"({by_count[args.rows] / by_count[small]:.2f}x)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
