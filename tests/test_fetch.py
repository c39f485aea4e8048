"""Fetching etiquette and limits, through gather() against a real server that records requests."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import http.server
import json
import socket
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

from digest import __version__
from digest.cli import cli
from digest.config import Config, load_config
from digest.models import FeedState
from digest.sources.gather import GatherReport, gather
from digest.sources.validators import WORDPRESS_TRUST
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
ITEMS = [Item(1, "Parliament passes budget", NOW - dt.timedelta(hours=2)),
         Item(2, "Metro line opens in Baku", NOW - dt.timedelta(hours=3))]
FEED = rss("news", ITEMS)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def make_config(tmp_path: Path, urls: list[str], fetch: str = "") -> Config:
    path = write_config(tmp_path, [("news", "News", urls)], transport="file",
                        extra=f"[fetch]\n{fetch}\n" if fetch else "")
    return load_config(path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state" / "digest.sqlite3") as s:
        yield s


def run(config: Config, store: Store, now: dt.datetime = NOW) -> GatherReport:
    return gather(config, store, now=now)


def paths(server: FeedServer) -> list[str]:
    return [r.path for r in server.requests]


def test_conditional_get_sends_back_the_validators_exactly(
        tmp_path: Path, feed_server: FeedServer, store: Store):
    etag = 'W/"5f1-abc"'  # weak, quoted: must come back byte for byte
    modified = "Wed, 25 Nov 2026 05:00:00 GMT"

    def answer(request: http.server.BaseHTTPRequestHandler) -> Route:
        if request.headers.get("If-None-Match") == etag:
            return Route(304, {"ETag": etag})
        return Route(200, {**RSS_TYPE, "ETag": etag, "Last-Modified": modified}, FEED)

    feed_server.routes["/feed/"] = Route(handler=answer)
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    first = run(config, store)
    assert (first.new, first.unchanged, len(first.failed)) == (2, 0, 0)
    assert "if-none-match" not in feed_server.requests[0].headers

    second = run(config, store, NOW + dt.timedelta(hours=1))
    sent = feed_server.requests[1].headers
    assert sent["if-none-match"] == etag
    assert sent["if-modified-since"] == modified
    assert (second.new, second.unchanged, len(second.failed)) == (0, 1, 0)
    assert second.summary() == "1 feeds: 0 new articles, 1 unchanged, 0 failed"
    state = store.feed_state(feed_server.url("/feed/"))
    assert (state.etag, state.last_modified) == (etag, modified)
    assert state.last_success == NOW + dt.timedelta(hours=1)


def test_user_agent_and_gzip(tmp_path: Path, feed_server: FeedServer, store: Store):
    feed_server.routes["/feed/"] = Route(200, {**RSS_TYPE, "Content-Encoding": "gzip"},
                                         gzip.compress(FEED))
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    report = run(config, store)
    headers = feed_server.requests[0].headers
    # Publishers see who fetches: the digest's own public address.
    assert headers["user-agent"] == f"digest/{__version__} (+{config.public_url})"
    assert "gzip" in [e.strip() for e in headers["accept-encoding"].split(",")]
    assert report.new == 2  # the gzip body was decoded and read


def chunked(request: http.server.BaseHTTPRequestHandler) -> None:
    """Transfer-Encoding: chunked, in small chunks, as many real servers send feeds."""
    request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n")
    for start in range(0, len(FEED), 777):
        piece = FEED[start:start + 777]
        request.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        request.wfile.flush()
    request.wfile.write(b"0\r\n\r\n")


def test_chunked_body(tmp_path: Path, feed_server: FeedServer, store: Store):
    feed_server.routes["/feed/"] = Route(stream=chunked)
    assert run(make_config(tmp_path, [feed_server.url("/feed/")]), store).new == 2


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_remembered_and_reported(
        tmp_path: Path, feed_server: FeedServer, store: Store, status: int):
    feed_server.routes["/old/"] = Route(status, {"Location": "/new/"})
    feed_server.routes["/new/"] = Route(200, RSS_TYPE, FEED)
    config = make_config(tmp_path, [feed_server.url("/old/")])
    first = run(config, store)
    assert first.new == 2
    [feed] = first.feeds
    assert feed.message == f"moved permanently to {feed_server.url('/new/')}; update the config"
    assert store.feed_state(feed_server.url("/old/")).moved_to == feed_server.url("/new/")

    second = run(config, store, NOW + dt.timedelta(hours=1))
    assert paths(feed_server) == ["/old/", "/new/", "/new/"]  # the old URL is not asked again
    assert second.feeds[0].message is None  # said once, not every run


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_keeps_the_configured_url(
        tmp_path: Path, feed_server: FeedServer, store: Store, status: int):
    feed_server.routes["/feed/"] = Route(status, {"Location": "/elsewhere/"})
    feed_server.routes["/elsewhere/"] = Route(200, RSS_TYPE, FEED)
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    assert run(config, store).new == 2
    run(config, store, NOW + dt.timedelta(hours=1))
    assert paths(feed_server) == ["/feed/", "/elsewhere/", "/feed/", "/elsewhere/"]
    assert store.feed_state(feed_server.url("/feed/")).moved_to is None


def test_redirect_to_a_local_file_is_refused(tmp_path: Path, feed_server: FeedServer,
                                             store: Store):
    feed_server.routes["/feed/"] = Route(301, {"Location": "file:///etc/passwd"})
    report = run(make_config(tmp_path, [feed_server.url("/feed/")]), store)
    assert "not an http(s) URL" in (report.feeds[0].message or "")
    assert store.feed_state(feed_server.url("/feed/")).moved_to is None


def test_gone_feed_is_marked_and_not_fetched_again(tmp_path: Path, feed_server: FeedServer,
                                                   store: Store):
    feed_server.routes["/feed/"] = Route(410, {"Content-Type": "text/plain"}, b"gone")
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    first = run(config, store)
    assert first.feeds[0].outcome == "gone"
    assert "410 Gone" in (first.feeds[0].message or "")
    assert store.feed_state(feed_server.url("/feed/")).gone
    second = run(config, store, NOW + dt.timedelta(days=3))
    assert second.feeds[0].outcome == "gone"
    assert paths(feed_server) == ["/feed/"]  # asked once, never again


@pytest.mark.parametrize(("status", "header"), [
    (429, "120"),
    (503, format_datetime(NOW + dt.timedelta(seconds=120), usegmt=True)),
])
def test_retry_after_is_honoured(tmp_path: Path, feed_server: FeedServer, store: Store,
                                 status: int, header: str):
    def answer(request: http.server.BaseHTTPRequestHandler) -> Route:
        if len(feed_server.requests) == 1:
            return Route(status, {"Retry-After": header, "Content-Type": "text/plain"}, b"wait")
        return Route(200, RSS_TYPE, FEED)

    feed_server.routes["/feed/"] = Route(handler=answer)
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    first = run(config, store)
    assert first.feeds[0].outcome == "waiting"
    assert store.feed_state(feed_server.url("/feed/")).retry_after == NOW + dt.timedelta(
        seconds=120)
    early = run(config, store, NOW + dt.timedelta(seconds=60))
    assert early.feeds[0].outcome == "waiting"
    assert len(feed_server.requests) == 1  # not asked before the time it gave
    later = run(config, store, NOW + dt.timedelta(seconds=121))
    assert later.new == 2 and len(feed_server.requests) == 2
    assert store.feed_state(feed_server.url("/feed/")).retry_after is None


def test_connect_timeout(tmp_path: Path, store: Store):
    # A listener whose accept queue is full: the kernel drops further SYNs, so a
    # connection attempt hangs exactly like one to an unresponsive host.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        config = make_config(tmp_path, [f"http://127.0.0.1:{port}/feed/"],
                             "connect_timeout = 0.3\nread_timeout = 5")
        report = run(config, store)
    finally:
        for s in [*fillers, listener]:
            s.close()
    assert report.feeds[0].outcome == "error"
    assert report.feeds[0].message == "no connection within 0.3 s ([fetch] connect_timeout)"


def test_read_timeout(tmp_path: Path, feed_server: FeedServer, store: Store):
    feed_server.routes["/slow/"] = Route(200, RSS_TYPE, FEED, delay=2)
    config = make_config(tmp_path, [feed_server.url("/slow/")], "read_timeout = 0.3")
    report = run(config, store)
    assert report.feeds[0].message == "no answer within 0.3 s ([fetch] read_timeout)"
    assert store.feed_state(feed_server.url("/slow/")).failing_since == NOW


def drip(request: http.server.BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 50 ms: never idle long enough for read_timeout."""
    request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        b"Content-Length: 100000\r\n\r\n")
    request.wfile.flush()
    for byte in FEED[:2000]:
        request.wfile.write(bytes([byte]))
        request.wfile.flush()
        time.sleep(0.05)


def test_total_deadline_stops_a_slow_drip(tmp_path: Path, feed_server: FeedServer,
                                          store: Store):
    feed_server.routes["/drip/"] = Route(stream=drip)
    config = make_config(tmp_path, [feed_server.url("/drip/")],
                         "read_timeout = 2\ndeadline = 0.5")
    report = run(config, store)
    assert report.feeds[0].message == "took longer than 0.5 s ([fetch] deadline)"


def endless(request: http.server.BaseHTTPRequestHandler) -> None:
    """A body that never ends (no length, no close)."""
    request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
    request.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
    chunk = b"<title>again</title>" * 1000
    for _ in range(100_000):
        request.wfile.write(chunk)


@pytest.mark.parametrize(("route", "what"), [
    (Route(200, RSS_TYPE, b"<rss>" + b" " * (2 * 1024 * 1024) + b"</rss>"), "oversize"),
    (Route(200, {**RSS_TYPE, "Content-Encoding": "gzip"},
           gzip.compress(b"<rss>" + b"\0" * (64 * 1024 * 1024))), "gzip bomb"),
    (Route(stream=endless), "never-ending"),
])
def test_body_cap(tmp_path: Path, feed_server: FeedServer, store: Store, route: Route,
                  what: str):
    feed_server.routes["/big/"] = route
    feed_server.routes["/ok/"] = Route(200, RSS_TYPE, FEED)
    config = make_config(tmp_path, [feed_server.url("/big/"), feed_server.url("/ok/")],
                         "max_bytes = 1048576\ndeadline = 20")
    report = run(config, store)
    big, ok = report.feeds
    assert big.message == "larger than the 1048576 byte limit ([fetch] max_bytes)", what
    assert ok.outcome == "ok" and report.new == 2  # the other feed is unaffected


def test_one_broken_feed_costs_only_itself(tmp_path: Path, feed_server: FeedServer,
                                           store: Store):
    feed_server.routes["/ok/"] = Route(200, RSS_TYPE, FEED)
    feed_server.routes["/error/"] = Route(500, {"Content-Type": "text/plain"}, b"oops")
    feed_server.routes["/html/"] = Route(200, {"Content-Type": "text/html"},
                                         b"<html><body><h1>Not a feed</h1></body></html>")
    feed_server.routes["/json/"] = Route(200, {"Content-Type": "application/json"},
                                         b'{"error": "nope"}')
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused = f"http://127.0.0.1:{closed.getsockname()[1]}/feed/"
    closed.close()
    urls = [feed_server.url(p) for p in ("/ok/", "/error/", "/html/", "/json/")] + [refused]
    report = run(make_config(tmp_path, urls), store)
    messages = {f.url: f.message for f in report.feeds}
    assert report.new == 2 and len(report.failed) == 4
    assert messages[feed_server.url("/error/")] == "HTTP 500 Internal Server Error"
    assert messages[feed_server.url("/html/")].startswith("not a readable feed")
    assert "not a JSON Feed" in messages[feed_server.url("/json/")]
    assert messages[refused] == "cannot connect: connection refused"


def test_health_failing_since_kept_until_success(tmp_path: Path, feed_server: FeedServer,
                                                 store: Store):
    feed_server.routes["/feed/"] = Route(500, {"Content-Type": "text/plain"}, b"oops")
    config = make_config(tmp_path, [feed_server.url("/feed/")])
    url = feed_server.url("/feed/")
    run(config, store, NOW)
    run(config, store, NOW + dt.timedelta(hours=5))
    state = store.feed_state(url)
    assert state.failing_since == NOW  # since the first failure, not the latest
    assert state.last_error == "HTTP 500 Internal Server Error"
    assert state.last_success is None
    feed_server.routes["/feed/"] = Route(200, RSS_TYPE, FEED)
    run(config, store, NOW + dt.timedelta(hours=6))
    state = store.feed_state(url)
    assert (state.failing_since, state.last_error) == (None, None)
    assert state.last_success == NOW + dt.timedelta(hours=6)


def cli_run(config: Config, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config.path), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def test_status_flags_a_feed_failing_for_over_a_day_and_fetch_summarises(
        tmp_path: Path, feed_server: FeedServer):
    feed_server.routes["/long/"] = Route(500, {"Content-Type": "text/plain"}, b"oops")
    feed_server.routes["/recent/"] = Route(500, {"Content-Type": "text/plain"}, b"oops")
    feed_server.routes["/gone/"] = Route(410)
    feed_server.routes["/ok/"] = Route(handler=lambda request: Route(304) if request.headers.get(
        "If-None-Match") == '"1"' else Route(200, {**RSS_TYPE, "ETag": '"1"'}, FEED))
    urls = [feed_server.url(p) for p in ("/long/", "/recent/", "/gone/", "/ok/")]
    config = make_config(tmp_path, urls)
    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Store(config.state) as store:
        gather(load_config(config.path), store, now=real_now - dt.timedelta(days=2))
        store.save_feed_state(FeedState(
            url=urls[1], last_error="HTTP 500 Internal Server Error",
            failing_since=real_now - dt.timedelta(hours=2)))

    out = cli_run(config, "fetch")
    assert "fetched 4 feeds: 0 new articles, 1 unchanged, 3 failed" in out
    assert f"{urls[2]} [news]: the server said 410 Gone; not fetched any more" in out
    assert len([r for r in feed_server.requests if r.path == "/gone/"]) == 1

    result = CliRunner().invoke(cli, ["--config", str(config.path), "status", "--json"])
    health = {s["url"]: s["health"] for s in json.loads(result.stdout)["sources"]}
    assert health == {urls[0]: "failing", urls[1]: "error", urls[2]: "gone", urls[3]: "ok"}
    status = cli_run(config, "status")
    rows = {line.split()[-1]: line.split()[0] for line in status.splitlines()
            if line.startswith("  ") and line.rstrip().endswith(tuple(urls))}
    assert rows == {urls[0]: "FAILING", urls[1]: "error", urls[2]: "GONE", urls[3]: "ok"}
    assert "HTTP 500 Internal Server Error" in status
    assert "1 failing for over a day" in status

    feed_server.routes["/gone/"] = Route(200, RSS_TYPE, rss("news", [Item(7, "Back", NOW)]))
    out = cli_run(config, "fetch", "--reenable", urls[2])
    assert "1 new articles" in out
    assert cli_run(config, "fetch", "--reenable", "https://nowhere.example/feed",
                   code=2).count("not a feed in") == 1


def test_wordpress_validators_are_sent_only_within_the_hour_after_a_read(
        tmp_path: Path, feed_server: FeedServer, store: Store):
    # WordPress's ETag is the MD5 of its Last-Modified date, the site's latest post date
    # or modified date: a 304 built on it can hide a post its cron published late. They
    # are sent only within WORDPRESS_TRUST of the read that gave them.
    modified = "Wed, 25 Nov 2026 05:00:00 GMT"
    wordpress = {"ETag": '"' + hashlib.md5(modified.encode()).hexdigest() + '"',
                 "Last-Modified": modified}
    own = {"ETag": '"a1b2c3"', "Last-Modified": modified}  # the feed's own: trusted

    def answer(headers: dict[str, str]) -> Route:
        def handler(request: http.server.BaseHTTPRequestHandler) -> Route:
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return Route(304, headers)
            return Route(200, {**RSS_TYPE, **headers}, FEED)
        return Route(handler=handler)

    feed_server.routes["/wordpress/"] = answer(wordpress)
    feed_server.routes["/own/"] = answer(own)
    urls = [feed_server.url("/wordpress/"), feed_server.url("/own/")]
    config = make_config(tmp_path, urls)
    assert run(config, store).new == 2
    kept = store.feed_state(urls[0])
    assert kept.etag == wordpress["ETag"]
    assert kept.validators_until == NOW + WORDPRESS_TRUST
    assert store.feed_state(urls[1]).validators_until is None

    def sent_after(later: dt.timedelta) -> dict[str, Any]:
        feed_server.requests.clear()
        again = run(config, store, NOW + later)
        assert (again.new, len(again.failed)) == (0, 0)
        return {r.path: r.headers for r in feed_server.requests}

    # Right after: both are conditional, both 304.
    sent = sent_after(dt.timedelta(minutes=5))
    assert sent["/wordpress/"]["if-none-match"] == wordpress["ETag"]
    assert sent["/own/"]["if-none-match"] == '"a1b2c3"'
    # An hour after the read that gave them: WordPress's feed is read whole (a 304 would
    # not extend their trust), and trusted for another hour from that read.
    sent = sent_after(WORDPRESS_TRUST)
    assert "if-none-match" not in sent["/wordpress/"]
    assert "if-modified-since" not in sent["/wordpress/"]
    assert sent["/own/"]["if-none-match"] == '"a1b2c3"'
    assert store.feed_state(urls[0]).validators_until == NOW + 2 * WORDPRESS_TRUST
    # A state kept before WordPress's validators were recognised (no end): not sent.
    store.save_feed_state(FeedState(url=urls[0], etag=wordpress["ETag"],
                                    last_modified=modified))
    sent = sent_after(3 * WORDPRESS_TRUST)
    assert "if-none-match" not in sent["/wordpress/"]
    assert "if-modified-since" not in sent["/wordpress/"]
