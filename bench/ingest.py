"""Ingestion speed: the project's gather() against N feeds served with injected latency.

Serves N feeds (default 200, 50 items each, WordPress-like HTML) from local HTTP
servers, in a process of their own, on several loopback addresses (127.0.0.2,
127.0.0.3, ...: one news site per address, so the per-host limit plays its part),
each request answered after
--latency seconds, with ETag/304 support. Prints, in one run:

- wall time of gather() (fetch, parse, sanitise, store) beside the ideal:
  N x latency / concurrency, plus the transfer time measured here without latency;
- entries per second of CPU time of the project's parse-and-sanitise step (parse_feed) beside
  feedparser.parse with its defaults on the same documents, and the ratio;
- a second gather() against the unchanged feeds: how many were answered by 304;
- the first run again with parsing kept in the fetching process (no worker processes).

Run: .venv/bin/python bench/ingest.py [--feeds 200] [--items 50] [--latency 0.05]
     .venv/bin/python bench/ingest.py --parse-only   (the parse comparison alone)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.server
import multiprocessing
import statistics
import tempfile
import threading
import time
import warnings
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import feedparser
import requests

from digest.config import load_config
from digest.sources import parse_pool
from digest.sources.gather import GatherReport, gather
from digest.sources.parse import parse_feed
from digest.store import Store

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SENTENCE = ("the central bank held its rate as the manat stayed steady against the dollar "
            "while analysts in Baku expected exports of gas through the southern corridor to "
            "grow next year with new contracts signed in Brussels and Ankara")
WORDS = SENTENCE.split(" ")


def paragraph(seed: int, words: int) -> str:
    chosen = [WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words)]
    link = f"/2026/11/related-{seed}/?utm_source=feed"
    chosen[words // 3] = f'<a href="{link}">{chosen[words // 3]}</a>'
    chosen[words // 2] = f"<strong>{chosen[words // 2]}</strong>"
    chosen[2 * words // 3] = f"<em>{chosen[2 * words // 3]}</em>"
    return "<p>" + " ".join(chosen) + "</p>"


def item(feed: int, number: int) -> str:
    guid = feed * 1000 + number
    # An hour apart: 50 items reach back past the 48-hour window, so no feed is paged
    # back (the paging is tests/test_paging.py's business, not a speed figure).
    when = NOW - dt.timedelta(minutes=60 * number + feed)
    body = "\n".join([
        paragraph(guid, 70),
        f'<figure class="wp-block-image"><img src="/wp-content/uploads/2026/11/p{guid}.jpg" '
        f'alt="Photo {guid}" width="1024" height="683" loading="lazy" '
        f'srcset="/wp-content/uploads/2026/11/p{guid}-300x200.jpg 300w" class="wp-image-{guid}">'
        "<figcaption>Baku, November 2026</figcaption></figure>",
        paragraph(guid + 1, 90),
        '<blockquote class="twitter-tweet"><p lang="en">A quote</p>&mdash; Someone '
        '<a href="https://twitter.com/x/status/1">November 25, 2026</a></blockquote>'
        '<script async src="https://platform.twitter.com/widgets.js"></script>',
        paragraph(guid + 2, 80),
        '<iframe width="560" height="315" src="https://www.youtube.com/embed/x" '
        'allowfullscreen></iframe>',
        "<ul>" + "".join(f"<li>{WORDS[(guid + k) % len(WORDS)]} point {k}</li>"
                         for k in range(5)) + "</ul>",
        paragraph(guid + 3, 90),
        '<p style="color:red" onclick="track()">Share this on '
        '<a href="javascript:share()">social media</a></p>',
    ])
    site = f"https://news{feed % 50}.example.org"
    story = f"{site}/2026/11/story-{guid}/"
    return f"""<item>
<title>Story {guid}: manat &#8211; steady &amp; strong</title>
<link>{story}?utm_source=rss&amp;utm_medium=rss</link>
<dc:creator><![CDATA[Leyla Mammadova]]></dc:creator>
<pubDate>{format_datetime(when)}</pubDate>
<category><![CDATA[Economy]]></category>
<guid isPermaLink="false">{site}/?p={guid}</guid>
<description><![CDATA[<p>{" ".join(WORDS[:40])} [&hellip;]</p>
<p>The post <a href="{story}">Story {guid}</a> appeared first on
<a href="{site}">Aze News</a>.</p>]]></description>
<content:encoded><![CDATA[{body}]]></content:encoded>
<media:content url="{site}/wp-content/uploads/2026/11/p{guid}.jpg" medium="image"/>
</item>"""


def feed_document(feed: int, items: int) -> bytes:
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"
 xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Economy {feed} &#8211; Aze News</title>
<atom:link href="https://news.example.org/category/economy-{feed}/feed/" rel="self"
 type="application/rss+xml" />
<link>https://news.example.org/</link><description>News from Baku</description>
<lastBuildDate>{format_datetime(NOW)}</lastBuildDate><language>en-US</language>
<generator>https://wordpress.org/?v=6.7</generator>"""
    body = "\n".join(item(feed, n) for n in range(items))
    return (head + body + "</channel></rss>").encode("utf-8")


class Site:
    """One loopback address serving its share of the feeds, each answer after `latency`."""

    def __init__(self, address: str, documents: dict[str, bytes], latency: float) -> None:
        etags = {path: '"' + hashlib.sha1(doc).hexdigest()[:16] + '"'
                 for path, doc in documents.items()}
        self.requests: list[int] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(latency)
                document = documents.get(self.path)
                if document is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = etags[self.path]
                if self.headers.get("If-None-Match") == etag:
                    site.requests.append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                site.requests.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=UTF-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((address, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.address = address
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.address}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(control: Connection, by_host: list[dict[str, bytes]], latency: float) -> None:
    """The server process: sites with latency, the same without (for the transfer time),
    answering "reset", "answers" and "stop" on the control pipe."""
    sites = [Site(f"127.0.0.{2 + h}", docs, latency) for h, docs in enumerate(by_host)]
    quiet = [Site(f"127.0.0.{2 + h}", docs, 0.0) for h, docs in enumerate(by_host)]
    control.send(([s.port for s in sites], [s.port for s in quiet]))
    while (command := control.recv()) != "stop":
        if command == "reset":
            for site in sites:
                site.requests.clear()
            control.send(None)
        elif command == "answers":
            control.send([code for site in sites for code in site.requests])
    for site in [*sites, *quiet]:
        site.close()


def write_config(folder: Path, urls: list[str], concurrency: int, per_host: int) -> Path:
    feeds = ", ".join(f'"{u}"' for u in urls)
    path = folder / "config.toml"
    path.write_text(f"""[digest]
title = "Bench"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"
state = "state.sqlite3"
[fetch]
concurrency = {concurrency}
per_host = {per_host}
[[categories]]
slug = "economy"
title = "Economy"
feeds = [{feeds}]
[email]
from = "Bench <bench@news.example.org>"
transport = "file"
""", encoding="utf-8")
    return path


def timed_gather(config_path: Path) -> tuple[float, GatherReport]:
    config = load_config(config_path)
    with Store(config.state) as store:
        start = time.perf_counter()
        report = gather(config, store, now=NOW)
        return time.perf_counter() - start, report


def transfer_time(urls: list[str]) -> float:
    """Fetching every document once, one after another, with no latency: the bytes' cost."""
    with requests.Session() as session:
        start = time.perf_counter()
        for url in urls:
            session.get(url, timeout=30).content  # noqa: B018
        return time.perf_counter() - start


def rates(documents: list[bytes], parsers: list[Any], passes: int = 5) -> list[float]:
    """Entries per second of CPU time of each parser over the documents, best of
    `passes`. The parsers take turns within each pass, and CPU time of this process
    (not wall time) is counted: on a machine shared with other jobs, time spent waiting
    for a core would otherwise weigh on whichever parser was running."""
    times: list[list[float]] = [[] for _ in parsers]
    entries = [0 for _ in parsers]
    for _ in range(passes):
        for n, parse in enumerate(parsers):
            start = time.process_time()
            entries[n] = sum(parse(doc) for doc in documents)
            times[n].append(time.process_time() - start)
    return [count / min(t) for count, t in zip(entries, times, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=8, help="[fetch] concurrency")
    parser.add_argument("--per-host", type=int, default=2, help="[fetch] per_host")
    parser.add_argument("--hosts", type=int, default=50, help="loopback addresses (sites)")
    parser.add_argument("--runs", type=int, default=3, help="gather runs; the median is shown")
    parser.add_argument("--sample", type=int, default=20,
                        help="documents for the parse comparison (feedparser is slow)")
    parser.add_argument("--parse-only", action="store_true",
                        help="only the parse comparison: no servers, no gather()")
    args = parser.parse_args()
    if args.parse_only:
        compare_parsers([feed_document(n, args.items) for n in range(args.sample)], args.items)
        return

    documents = {f"/feed/{n}/": feed_document(n, args.items) for n in range(args.feeds)}
    by_host: list[dict[str, bytes]] = [{} for _ in range(args.hosts)]
    for n, (path, doc) in enumerate(documents.items()):
        by_host[n % args.hosts][path] = doc
    # The servers run in their own process, as a publisher's server would: in ours they
    # would take the interpreter lock from the ingestion being measured.
    control, child_end = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(child_end, by_host, args.latency), daemon=True)
    server.start()
    slow_ports, quiet_ports = control.recv()

    def url(n: int, path: str, ports: list[int]) -> str:
        return f"http://127.0.0.{2 + n % args.hosts}:{ports[n % args.hosts]}{path}"

    urls = [url(n, path, slow_ports) for n, path in enumerate(documents)]
    size = sum(len(d) for d in documents.values())
    print(f"{args.feeds} feeds x {args.items} items ({size / args.feeds / 1024:.0f} KB each) "
          f"on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms latency per request, "
          f"concurrency {args.concurrency}, per host {args.per_host}")
    try:
        transfer = statistics.median(
            transfer_time([url(n, p, quiet_ports) for n, p in enumerate(documents)])
            for _ in range(3))
        ideal = args.feeds * args.latency / args.concurrency + transfer
        walls = []
        unchanged: list[tuple[float, GatherReport]] = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                config_path = write_config(Path(tmp), urls, args.concurrency, args.per_host)
                wall, report = timed_gather(config_path)
                assert not report.failed, report.failed[:3]
                walls.append(wall)
                control.send("reset")
                control.recv()
                unchanged.append(timed_gather(config_path))
        wall = statistics.median(walls)
        print(f"first run:  wall {wall:.2f} s (median of {args.runs}), ideal {ideal:.2f} s "
              f"(= {args.feeds} x {args.latency:g} s / {args.concurrency} + transfer "
              f"{transfer:.2f} s), ratio {wall / ideal:.2f}x  "
              f"[{report.new} new articles]")
        second = unchanged[-1][1]
        control.send("answers")
        answers: list[int] = control.recv()
        print(f"second run: wall {statistics.median(w for w, _ in unchanged):.2f} s, "
              f"{answers.count(304)} of {len(answers)} requests answered 304 "
              f"({second.summary()})")
        # The same without worker processes: what they bring on this machine now.
        parse_pool.MIN_FEEDS, saved = 10**9, parse_pool.MIN_FEEDS
        try:
            with tempfile.TemporaryDirectory() as tmp:
                in_process, _ = timed_gather(write_config(Path(tmp), urls, args.concurrency,
                                                          args.per_host))
        finally:
            parse_pool.MIN_FEEDS = saved
        print(f"first run, parsing in the fetching process only: wall {in_process:.2f} s, "
              f"ratio {in_process / ideal:.2f}x")
    finally:
        control.send("stop")
        server.join(5)

    compare_parsers(list(documents.values())[: args.sample], args.items)


def compare_parsers(sample: list[bytes], items: int) -> None:
    """parse_feed beside feedparser.parse's defaults on the same documents, in CPU time."""
    url = "https://news.example.org/feed/"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feedparser's complaints about the documents
        ours, theirs, unsanitised = rates(sample, [
            lambda doc: len(parse_feed(doc, url, now=NOW).articles),
            lambda doc: len(feedparser.parse(doc).entries),
            lambda doc: len(feedparser.parse(doc, sanitize_html=False,
                                             resolve_relative_uris=False).entries),
        ])
    print(f"parse+sanitise ({len(sample)} documents, {len(sample) * items} entries): "
          f"digest {ours:,.0f} entries/s ({1e6 / ours:.0f} us an entry), "
          f"feedparser.parse defaults {theirs:,.0f} entries/s ({1e6 / theirs:,.0f} us), "
          f"ratio {ours / theirs:.1f}x  (feedparser without its sanitiser, not as safe: "
          f"{unsanitised:,.0f} entries/s)")


if __name__ == "__main__":
    main()
