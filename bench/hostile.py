"""Reading hostile markup in linear time: parse_feed on documents that are runs of "<"
without ">" (the shapes of tests/test_hostile_markup.py), at 1 and 4 MiB, beside a
WordPress-like feed of the same size (bench/ingest.py's documents) measured in the same
run.

Linear time means 4 MiB costs about 4× 1 MiB; before the tag patterns stopped at the
last ">" (digest.text.tags_end), each of these shapes was quadratic: 1 MiB took from
40 s to a quarter of an hour. Prints CPU seconds (best of --runs) per shape and size,
the 4 MiB / 1 MiB ratio, and the shape's time over the baseline's at 4 MiB.

Run: .venv/bin/python bench/hostile.py [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from ingest import feed_document  # noqa: E402
from test_hostile_markup import hostile  # noqa: E402

from digest.errors import FeedParseError  # noqa: E402
from digest.sources.parse import parse_feed  # noqa: E402

SHAPES = ("open-tags", "links", "captions", "content-lt", "content-img", "content-a", "title",
          "deep-divs", "wide-divs")
MIB = 1024 * 1024


def wordpress_like(size: int) -> bytes:
    """A WordPress-like feed of about `size` bytes: as many 50-item documents as fit,
    their items in one channel."""
    one = feed_document(0, 50)
    head, _, rest = one.partition(b"<item>")
    items = b"<item>" + rest.rpartition(b"</channel>")[0]
    return head + items * max(1, size // len(items)) + b"</channel></rss>"


def seconds(document: bytes, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        with contextlib.suppress(FeedParseError):  # unreadable: said, not hung
            parse_feed(document, "https://news.example.org/feed/")
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    baseline = {size: seconds(wordpress_like(size), args.runs) for size in (MIB, 4 * MIB)}
    print(f"{'shape':<22}{'1 MiB':>9}{'4 MiB':>9}{'4/1':>7}{'/ baseline':>12}")
    print(f"{'WordPress-like feed':<22}{baseline[MIB]:>8.2f}s{baseline[4 * MIB]:>8.2f}s"
          f"{baseline[4 * MIB] / baseline[MIB]:>7.1f}{1:>12.2f}")
    for shape in SHAPES:
        one, four = (seconds(hostile(shape, size), args.runs) for size in (MIB, 4 * MIB))
        print(f"{shape:<22}{one:>8.2f}s{four:>8.2f}s{four / max(one, 1e-6):>7.1f}"
              f"{four / baseline[4 * MIB]:>12.2f}")


if __name__ == "__main__":
    main()
