"""The one place that knows how to read a source: a feed URL (paged back until the
window is covered), a local file, or a WordPress category through its REST API.
`digest fetch` (gather) and `digest feeds check` (check) both read through `read_source`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

import requests

from digest.config import Config, WordPressSource
from digest.errors import FeedParseError
from digest.models import Article, FeedState
from digest.sources.fetch import Download, HostLimiter, download, is_local
from digest.sources.normalise import ParsedFeed
from digest.sources.paging import (
    FULL,
    coverage_note,
    is_wordpress,
    needs_more,
    next_link,
    oldest,
    paged_url,
)
from digest.sources.parse import parse_feed
from digest.sources.reading import Reading
from digest.sources.validators import trusted_until
from digest.sources.wordpress import read_wordpress

# Parses a document: (body, url, content type, now) -> ParsedFeed (in-process or a pool).
Parser = Callable[[bytes, str, str | None, dt.datetime], ParsedFeed]
END_OF_PAGES = (400, 404, 410)  # how servers answer a page past the last


def wordpress_sources(config: Config) -> dict[str, WordPressSource]:
    return {w.location: w for c in config.categories for w in c.wordpress}


def _parse_here(body: bytes, url: str, content_type: str | None,
                now: dt.datetime) -> ParsedFeed:
    return parse_feed(body, url, content_type=content_type, now=now)


def read_source(session: requests.Session, state: FeedState, config: Config,
                now: dt.datetime, limiter: HostLimiter, parser: Parser | None = None
                ) -> Reading:
    """Read one configured source as `state` remembers it. Never raises for the source:
    whatever goes wrong is the Reading's error."""
    parse = parser or _parse_here
    lookback = dt.timedelta(hours=config.lookback_hours)
    source = wordpress_sources(config).get(state.url)
    try:
        if source is not None:
            return read_wordpress(session, state, source, config.fetch, now, limiter,
                                  lookback)
        return _read_feed(session, state, config, now, limiter, parse, lookback)
    except Exception as exc:  # a reader bug must cost one source, never the run
        return Reading(Download(state.url, "error"), None,
                       f"could not be read ({type(exc).__name__}: {exc})")


def _read_feed(session: requests.Session, state: FeedState, config: Config,
               now: dt.datetime, limiter: HostLimiter, parse: Parser,
               lookback: dt.timedelta) -> Reading:
    first = download(session, state, config.fetch, now, limiter)
    if first.outcome == "not_modified":
        # Nothing new: the gap left last time stays, until the window moves past it.
        left = state.covered_from
        if left is None or left <= now - lookback:
            return Reading(first, None, None)
        return Reading(first, None, None, covered_from=left,
                       note=coverage_note(left, now, lookback))
    if first.outcome != "ok":
        return Reading(first, None, first.error)
    url = first.final_url or state.url
    try:
        parsed = parse(first.body, url, first.content_type, now)
    except FeedParseError as exc:
        return Reading(first, None, str(exc))
    except Exception as exc:  # a parser bug must cost one feed, never the run
        return Reading(first, None, f"could not be parsed ({type(exc).__name__}: {exc})")
    if is_local(state.url):
        return Reading(first, parsed, None)  # a file holds what it holds
    articles = list(parsed.articles)
    keys = {a.key for a in articles}
    wordpress = is_wordpress(first.body)
    first = replace(first, validators_until=trusted_until(
        first.etag, first.last_modified, now, wordpress=wordpress))
    body, page_url, page = first.body, url, 1
    gap: str | None = None
    while needs_more(articles, now - lookback):
        following = next_link(body, page_url) or (paged_url(url, page + 1) if wordpress
                                                  else None)
        if following is None:
            # After pages, the last one links no further: the end. A full first page
            # that cannot be paged is cut short.
            if page == 1 and len(parsed.articles) >= FULL:
                gap = "the feed cannot be paged back"
            break
        if page >= config.fetch.max_pages:
            gap = f"stopped at {page} pages ([fetch] max_pages)"
            break
        more, gap = _next_page(session, following, config, now, limiter, parse, page + 1)
        if more is None:
            break
        # A page is the same feed: its items are the feed's (one source, one guid each).
        fresh = [replace(a, feed_url=parsed.articles[0].feed_url) if parsed.articles else a
                 for a in more[0] if a.key not in keys]
        if not fresh:
            if more[0] and len(parsed.articles) >= FULL:
                gap = "the feed's next page repeats what came before"
            break
        articles.extend(fresh)
        keys.update(a.key for a in fresh)
        body, page_url = more[1], more[2]
        page += 1
        if len(more[0]) < len(parsed.articles):
            break  # a page shorter than the first is the last
    covered_from = oldest(articles) if gap else None
    note = f"{coverage_note(covered_from, now, lookback)} ({gap})" if covered_from else None
    # WordPress lists a feed's posts newest first, page after page: every post dated after
    # the oldest item read is among them (later than it, to be safe with equal dates).
    complete = oldest(articles) if wordpress else None
    return Reading(first, replace(parsed, articles=tuple(articles)), None,
                   covered_from=covered_from, note=note, pages=page, complete_since=complete)


def _next_page(session: requests.Session, url: str, config: Config, now: dt.datetime,
               limiter: HostLimiter, parse: Parser, number: int
               ) -> tuple[tuple[tuple[Article, ...], bytes, str] | None, str | None]:
    """The articles, body and URL of a further page; None with the reason it left a gap,
    or None and no reason past the last page."""
    result = download(session, FeedState(url=url), config.fetch, now, limiter)
    if result.outcome != "ok":
        if result.http_status in END_OF_PAGES:
            return None, None
        return None, f"page {number} could not be read: {result.error or result.outcome}"
    where = result.final_url or url
    try:
        parsed = parse(result.body, where, result.content_type, now)
    except FeedParseError as exc:
        return None, f"page {number} could not be read: {exc}"
    except Exception as exc:  # a parser bug costs the pages after, not the first
        return None, f"page {number} could not be parsed ({type(exc).__name__}: {exc})"
    return (parsed.articles, result.body, where), None
