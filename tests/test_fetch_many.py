"""Many feeds in one run: each stored as soon as it is read, reported in config order,
and a slow feed holds up none of the others."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Callable
from pathlib import Path

from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

from digest.config import load_config
from digest.sources.gather import IN_FLIGHT_PER_WORKER, FeedReport, gather
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def test_many_feeds_are_all_stored_and_reported_in_config_order(tmp_path: Path,
                                                               feed_server: FeedServer):
    concurrency = 2
    count = IN_FLIGHT_PER_WORKER * concurrency * 4  # many more than are ever in flight
    others_asked = threading.Event()
    waited: list[bool] = []

    def answer(n: int, body: bytes) -> Callable[[http.server.BaseHTTPRequestHandler], Route]:
        def handler(_request: http.server.BaseHTTPRequestHandler) -> Route:
            if n == 0:  # the slow feed answers once every other feed has been asked for
                waited.append(others_asked.wait(timeout=20))
            elif len(feed_server.requests) == count:
                others_asked.set()
            return Route(200, RSS_TYPE, body)
        return handler

    urls = []
    for n in range(count):
        items = [Item(n * 10 + i, f"Story {n}.{i}", NOW - dt.timedelta(hours=i + 1))
                 for i in range(3)]
        feed_server.routes[f"/feed/{n}/"] = Route(handler=answer(n, rss("news", items)))
        urls.append(feed_server.url(f"/feed/{n}/"))
    config = load_config(write_config(tmp_path, [("news", "News", urls)], transport="file",
                                      extra=f"[fetch]\nconcurrency = {concurrency}\n"
                                            "per_host = 2\n"))
    heard: list[FeedReport] = []
    with Store(config.state) as store:
        report = gather(config, store, now=NOW, on_feed=heard.append)
        assert store.article_count() == 3 * count
    assert [r.url for r in report.feeds] == urls
    assert [r.url for r in heard] == urls
    assert all(r.outcome == "ok" and r.new == 3 for r in report.feeds)
    # The first feed answered only after all the others had been asked for: they were
    # fetched (and stored) meanwhile, not held up behind it.
    assert waited == [True]
