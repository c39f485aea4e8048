"""Gathering: every configured feed, fetched concurrently, parsed and put in the store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import requests

from digest.clock import utcnow
from digest.config import Config
from digest.models import FeedState, FetchOutcome
from digest.sources.feed_state import next_feed_state, withdrawn
from digest.sources.fetch import HostLimiter
from digest.sources.parse_pool import ParsePool
from digest.sources.reading import Reading
from digest.sources.source import read_source
from digest.store import Store

# Feeds fetched or parsed at once, per fetching thread: enough to keep every thread busy.
IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True)
class FeedReport:
    """One feed's result in a gathering run."""

    url: str
    categories: tuple[str, ...]
    outcome: FetchOutcome
    entries: int = 0
    new: int = 0
    message: str | None = None  # the error, or a warning worth telling the editor

    @property
    def failed(self) -> bool:
        return self.outcome in ("error", "gone", "waiting")


@dataclass(frozen=True)
class GatherReport:
    feeds: tuple[FeedReport, ...]

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def unchanged(self) -> int:
        return sum(1 for f in self.feeds if f.outcome == "not_modified")

    @property
    def failed(self) -> tuple[FeedReport, ...]:
        return tuple(f for f in self.feeds if f.failed)

    @property
    def all_failed(self) -> bool:
        return bool(self.feeds) and len(self.failed) == len(self.feeds)

    def summary(self) -> str:
        return (f"{len(self.feeds)} feeds: {self.new} new articles, "
                f"{self.unchanged} unchanged, {len(self.failed)} failed")


def feed_categories(config: Config) -> dict[str, list[str]]:
    """Each distinct feed location with the categories (in config order) that list it."""
    feeds: dict[str, list[str]] = {}
    for category in config.categories:
        for url in (*category.feeds, *(w.location for w in category.wordpress)):
            feeds.setdefault(url, []).append(category.slug)
    return feeds


def reenable(store: Store, url: str) -> bool:
    """Let a feed marked gone (410) or told to wait (Retry-After) be fetched again."""
    state = store.feed_state(url)
    if not state.gone and state.retry_after is None:
        return False
    store.save_feed_state(replace(state, gone=False, retry_after=None))
    return True


def gather(config: Config, store: Store, *, now: dt.datetime | None = None,
           on_feed: Callable[[FeedReport], None] | None = None) -> GatherReport:
    """Fetch every feed of every category and store what is new. Never raises for a feed."""
    now = now or utcnow()
    feeds = feed_categories(config)
    states = {url: store.feed_state(url) for url in feeds}
    limiter = HostLimiter(config.fetch.per_host)
    local = threading.local()
    sessions: list[requests.Session] = []

    def session_for() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        session: requests.Session = local.session
        return session

    reports = []
    workers = max(1, min(config.fetch.concurrency, len(feeds)))
    parser = ParsePool(len(feeds))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            # A few feeds in flight, never all of them, each stored as soon as it is
            # parsed and its body and parse result dropped then: memory stays flat however
            # many feeds there are, and a slow feed holds up none of the others. Reports
            # still come in config order.
            waiting = iter(feeds)
            in_flight: dict[Future[Reading], str] = {}
            stored: dict[str, FeedReport] = {}

            def submit_next() -> None:
                url = next(waiting, None)
                if url is not None:
                    in_flight[pool.submit(
                        lambda state: read_source(session_for(), state, config, now, limiter,
                                                  parser.parse), states[url])] = url

            for _ in range(IN_FLIGHT_PER_WORKER * workers):
                submit_next()
            order = iter(feeds)
            upcoming = next(order, None)
            while in_flight:
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:  # the threads fetch the next while these are stored
                    url = in_flight.pop(future)
                    submit_next()
                    reading = future.result()
                    stored[url] = _record(store, states[url], tuple(feeds[url]), reading, now)
                    del future, reading
                while upcoming is not None and upcoming in stored:
                    report = stored.pop(upcoming)
                    reports.append(report)
                    if on_feed:
                        on_feed(report)
                    upcoming = next(order, None)
    finally:
        parser.close()
        for session in sessions:
            session.close()
    return GatherReport(tuple(reports))


def _record(store: Store, state: FeedState, categories: tuple[str, ...], reading: Reading,
            now: dt.datetime) -> FeedReport:
    """Store what one read brought and the feed's next state (articles first)."""
    step = next_feed_state(state, reading, now)
    new = 0
    if step.articles is not None:
        for slug in categories:
            new += store.add_articles(step.articles, slug, now)
        since = reading.complete_since
        sources = {a.feed_url for a in step.articles}
        if since is not None and len(sources) == 1:
            source = sources.pop()
            store.withdraw(source, withdrawn(step.articles, store.source_keys(source, since),
                                             since), now)
    store.save_feed_state(step.state)
    return FeedReport(state.url, categories, step.outcome,
                      entries=len(step.articles) if step.articles is not None else 0, new=new,
                      message=step.message)
