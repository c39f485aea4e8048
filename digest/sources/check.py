"""Checking every configured source once, storing nothing: for `digest feeds check`.

Each source is read through the same `read_source` as `digest fetch`, but afresh (no
conditional GET, no remembered redirect, "gone" or WordPress lookups), so the result
says how the source in the config behaves right now: a feed URL paged back over the
window, a local file, or a WordPress category through its REST API.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import requests

from digest.clock import utcnow
from digest.config import Config
from digest.models import FeedState, FetchOutcome
from digest.sources.fetch import HostLimiter
from digest.sources.gather import feed_categories
from digest.sources.source import read_source


@dataclass(frozen=True)
class FeedCheck:
    """How one configured feed answered just now."""

    url: str
    categories: tuple[str, ...]
    outcome: FetchOutcome  # "ok", "error", "gone" or "waiting"
    http_status: int | None
    entries: int
    newest: dt.datetime | None  # the newest entry's date
    title: str | None  # the feed's own title
    seconds: float
    message: str | None  # the error, or a warning (malformed but readable, moved, a gap)
    pages: int = 1  # pages (or API pages) read to cover the window
    covered_from: dt.datetime | None = None  # set when the window is not covered

    @property
    def failed(self) -> bool:
        return self.outcome != "ok"


def check_one(session: requests.Session, url: str, categories: tuple[str, ...],
              config: Config, now: dt.datetime, limiter: HostLimiter) -> FeedCheck:
    """Read one source as `digest fetch` would, from a blank state."""
    started = time.monotonic()
    reading = read_source(session, FeedState(url=url), config, now, limiter)
    result, parsed = reading.download, reading.parsed
    notes = []
    if result.moved_to:
        notes.append(f"moved permanently to {result.moved_to}; update the config")
    if reading.error is not None or parsed is None:
        notes.append(reading.error or result.error or result.outcome)
        outcome = result.outcome if result.outcome in ("gone", "waiting") else "error"
        return FeedCheck(url, categories, outcome, result.http_status, 0, None, None,
                         time.monotonic() - started, "; ".join(notes))
    if parsed.warning:
        notes.append(parsed.warning)
    if reading.note:
        notes.append(reading.note)
    dates = [a.published for a in parsed.articles if a.published is not None]
    return FeedCheck(url, categories, "ok", result.http_status, len(parsed.articles),
                     max(dates) if dates else None, parsed.title or None,
                     time.monotonic() - started, "; ".join(notes) or None,
                     pages=reading.pages, covered_from=reading.covered_from)


def check_feeds(config: Config, *, now: dt.datetime | None = None,
                on_check: Callable[[FeedCheck], None] | None = None) -> tuple[FeedCheck, ...]:
    """Fetch and parse every configured feed once, concurrently; results in config order."""
    now = now or utcnow()
    feeds = feed_categories(config)
    limiter = HostLimiter(config.fetch.per_host)
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def session_for() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            with lock:
                sessions.append(local.session)
        session: requests.Session = local.session
        return session

    def run(url: str) -> FeedCheck:
        return check_one(session_for(), url, tuple(feeds[url]), config, now, limiter)

    results: dict[str, FeedCheck] = {}
    workers = max(1, min(config.fetch.concurrency, len(feeds)))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            futures = [pool.submit(run, url) for url in feeds]
            for future in as_completed(futures):
                check = future.result()
                results[check.url] = check
                if on_check:
                    on_check(check)
    finally:
        for session in sessions:
            session.close()
    return tuple(results[url] for url in feeds)
