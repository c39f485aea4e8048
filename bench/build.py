"""Build speed and memory against the size of the archive: `digest build` at N editions.

Seeds archives of N editions (10 categories, 30 articles a day; default N = 10 and
1,000; the site's articles of the 17 days before the first edition too, so that the
category feeds are full at any N) straight into state files through the store API,
publishes each once, then
adds the next day's articles and measures, each as a fresh `digest build` process
(the median of --runs; wall and CPU time, CPU being steadier on a shared machine):

- the next day's build (new edition, neighbours, index, archive, sitemap, feeds):
  its time and peak memory at N beside the same at the smallest N, and the ratio;
- a no-op build (nothing changed), beside `python -c pass`: the process start;
- the full rebuild, `digest build --all`, of the same archive: the baseline that
  re-renders every page, as every build did before builds were incremental.

Run: .venv/bin/python bench/build.py [--editions 10 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import measured  # noqa: E402

from digest.config import Config, load_config  # noqa: E402
from digest.edition import edition_cutoff, select_edition  # noqa: E402
from digest.models import Article  # noqa: E402
from digest.store import Store  # noqa: E402

CATEGORIES = 10
PER_DAY = 30  # articles a day, over all categories
HISTORY = 17  # days of articles before the first edition: 51 a category, a full feed
TEXT = ("the central bank held its rate as the manat stayed steady against the dollar "
        "while analysts in Baku expected exports of gas through the southern corridor "
        "to grow next year with new contracts signed in Brussels and Ankara")
SENTENCE = TEXT.split(" ")


def write_config(folder: Path) -> Path:
    cats = "".join(
        f'[[categories]]\nslug = "c{c}"\ntitle = "Category {c}"\n'
        f'feeds = ["https://news.example.org/category/c{c}/feed/"]\n\n'
        for c in range(CATEGORIES))
    path = folder / "config.toml"
    path.write_text(f"""[digest]
title = "Aze Daily Digest"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"
timezone = "Asia/Baku"
state = "digest.sqlite3"
output = "public"
lookback_hours = 24

{cats}
[email]
from = "Aze Daily Digest <digest@news.example.org>"
transport = "file"
""", encoding="utf-8")
    return path


def day_articles(day: dt.date, index: int) -> dict[str, list[Article]]:
    """PER_DAY WordPress-like articles dated during `day` (Baku), by category."""
    by_category: dict[str, list[Article]] = {}
    start = dt.datetime.combine(day, dt.time(6), tzinfo=dt.timezone(dt.timedelta(hours=4)))
    for n in range(PER_DAY):
        number = (index + HISTORY) * PER_DAY + n
        words = [SENTENCE[(number * 7 + i * 3) % len(SENTENCE)] for i in range(120)]
        body = "".join(f"<p>{' '.join(words[i:i + 40])}</p>" for i in range(0, 120, 40))
        slug = f"c{n % CATEGORIES}"
        by_category.setdefault(slug, []).append(Article(
            key=f"https://news.example.org/?p={number}",
            link=f"https://news.example.org/{day:%Y/%m}/story-{number}/",
            title=f"Story {number}: {' '.join(words[:8])}",
            summary_html=body, excerpt=" ".join(words[:40]) + " […]",
            author=f"Reporter {number % 17}",
            published=(start + dt.timedelta(minutes=25 * n)).astimezone(dt.UTC),
            image=f"https://news.example.org/uploads/{number}-1200x800.jpg",
            reading_minutes=1 + number % 6,
            feed_url=f"https://news.example.org/category/{slug}/feed/",
        ))
    return by_category


def add_day(config: Config, store: Store, day: dt.date, index: int, edition: bool) -> None:
    """Store a day's articles and, when `edition`, its edition (as `digest build` makes it)."""
    seen = dt.datetime.combine(day, dt.time(23), tzinfo=dt.UTC)
    for slug, articles in day_articles(day, index).items():
        store.add_articles(articles, slug, seen)
    if edition:
        cutoff = edition_cutoff(day, config.timezone, dt.datetime.now(dt.UTC))
        lookback = dt.timedelta(hours=config.lookback_hours)
        candidates = store.candidate_articles(cutoff - lookback, cutoff, day.isoformat())
        selected = select_edition(day, candidates, config.categories, cutoff=cutoff,
                                  lookback=lookback, created_at=cutoff)
        assert selected is not None
        store.save_edition(selected)


def seed(folder: Path, editions: int) -> tuple[Path, dt.date]:
    """A digest with `editions` past editions; returns its config and the next day.

    The site had HISTORY days of articles before the first edition (its feeds carried
    them at the first fetch; they are older than any edition's window), so the
    category feeds are full whatever N: N changes the archive, not the feeds.
    """
    config = write_config(folder)
    loaded = load_config(config)
    first = dt.date.today() - dt.timedelta(days=editions + 2)
    with Store(folder / "digest.sqlite3") as store:
        store.db.execute("PRAGMA synchronous=OFF")  # a scratch file: no need to wait for disk
        for i in range(-HISTORY, editions):
            add_day(loaded, store, first + dt.timedelta(days=i), i, edition=i >= 0)
    return config, first + dt.timedelta(days=editions)


def run(command: list[str]) -> tuple[float, int, float]:
    """Run a process; return (seconds, peak RSS in KiB, CPU seconds)."""
    m = measured(command)
    return m.seconds, m.peak_kib, m.cpu


def digest(config: Path, *args: str) -> tuple[float, int, float]:
    return run([sys.executable, "-m", "digest", "--config", str(config), "-q", *args])


Sample = tuple[float, int, float]


def median(samples: list[Sample]) -> Sample:
    return (statistics.median(s[0] for s in samples),
            int(statistics.median(s[1] for s in samples)),
            statistics.median(s[2] for s in samples))


class Archive:
    """A seeded digest of N editions, published, with the next day's articles stored."""

    def __init__(self, folder: Path, editions: int) -> None:
        started = time.perf_counter()
        self.editions = editions
        self.folder = folder
        self.config, self.next_day = seed(folder, editions)
        seeded = time.perf_counter() - started
        self.state = folder / "digest.sqlite3"
        self.pristine = folder / "pristine.sqlite3"
        digest(self.config, "build", "--all", "--date", self.day_before)
        with Store(self.state) as store:
            store.db.execute(f"VACUUM INTO '{self.pristine}'")
        shutil.copytree(folder / "public", folder / "public.pristine")
        self.add_next_day()
        print(f"  N={editions}: seeded in {seeded:.1f} s, published once", flush=True)

    @property
    def day_before(self) -> str:
        return (self.next_day - dt.timedelta(days=1)).isoformat()

    def add_next_day(self) -> None:
        with Store(self.state) as store:
            add_day(load_config(self.config), store, self.next_day, self.editions,
                    edition=False)

    def round(self) -> dict[str, Sample]:
        """The next day's build, a no-op build, a full rebuild; then back to the day before."""
        day = self.next_day.isoformat()
        found = {"next": digest(self.config, "build", "--date", day),
                 "noop": digest(self.config, "build", "--date", day),
                 "all": digest(self.config, "build", "--all", "--date", day)}
        # Back to the archive before the next day, pages and all (the build is undone).
        self.state.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.state}{suffix}").unlink(missing_ok=True)
        with Store(self.pristine) as source:
            source.db.execute(f"VACUUM INTO '{self.state}'")
        shutil.rmtree(self.folder / "public")
        shutil.copytree(self.folder / "public.pristine", self.folder / "public")
        self.add_next_day()
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editions", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(args.editions)
    print(f"archives of {sizes} editions, {CATEGORIES} categories, {PER_DAY} articles a day; "
          f"median of {args.runs} runs, each a fresh process")
    samples: dict[int, dict[str, list[Sample]]] = {
        n: {"next": [], "noop": [], "all": []} for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        archives = []
        for n in sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            archives.append(Archive(folder, n))
        # Rounds taken in turn, so that a busy moment on the machine weighs on every N.
        for _ in range(args.runs):
            for archive in archives:
                for key, sample in archive.round().items():
                    samples[archive.editions][key].append(sample)
        start = median([run([sys.executable, "-c", "pass"]) for _ in range(max(5, args.runs))])
    found = {n: {k: median(v) for k, v in kinds.items()} for n, kinds in samples.items()}
    small = sizes[0]
    base = found[small]["next"]
    print(f"\n`python -c pass`: {start[0]:.3f} s wall, {start[2]:.3f} s CPU")
    against = f"× N={small} (wall, CPU, peak)"
    print(f"{'N':>6}  {'next day: wall':>14} {'CPU':>7} {'peak':>8}  {against:>28}"
          f"  {'no-op':>6} {'− start':>8}  {'--all: wall':>11} {'CPU':>7}")
    for n in sizes:
        nxt, noop, full = found[n]["next"], found[n]["noop"], found[n]["all"]
        ratios = f"{nxt[0] / base[0]:.2f}×, {nxt[2] / base[2]:.2f}×, {nxt[1] / base[1]:.2f}×"
        print(f"{n:>6}  {nxt[0]:>13.3f}s {nxt[2]:>6.3f}s {nxt[1] / 1024:>5.1f}MiB  {ratios:>28}"
              f"  {noop[0]:>5.3f}s {noop[0] - start[0]:>7.3f}s  {full[0]:>10.3f}s "
              f"{full[2]:>6.3f}s")
    print("targets: the next day at the largest N within 1.2× of the smallest (time and peak "
          "memory); a no-op within 0.3 s of process start (`− start`)")


if __name__ == "__main__":
    main()
