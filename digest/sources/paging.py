"""Paging back through a feed that carries only its newest items: pure decisions.

WordPress serves 10 items a feed by default, and a parent category's feed carries its
children's posts too, so a busy category's feed may cover a few hours of a 48-hour
window. Older items are at `?paged=2`, `3`, …; other feeds may link their next page
with RFC 5005's `rel="next"`.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from digest.models import Article
from digest.text import tags_end

LINK_TAG = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?link\b([^>]*)>")
ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
GENERATOR = re.compile(rb"<generator\b[^<]{0,300}wordpress", re.IGNORECASE)
HEAD = 32 * 1024  # the channel's generator comes before the items
# A feed that cannot be paged and holds at least this many items, all inside the
# window, is taken to be cut short (10 is WordPress's default and the usual minimum).
FULL = 10


def linked(body: bytes, base: str, rel: str) -> str | None:
    """The absolute URL of the first `<link rel=REL href=…>` (any namespace prefix)."""
    wanted = rel.encode().lower()
    for match in LINK_TAG.finditer(body, 0, tags_end(body)):
        attributes: dict[bytes, bytes] = {}
        for name, double, single in ATTRIBUTE.findall(match.group(1)):
            attributes[name.lower()] = double or single
        if wanted in attributes.get(b"rel", b"").lower().split() and attributes.get(b"href"):
            href = html.unescape(attributes[b"href"].decode("utf-8", "replace")).strip()
            url = urljoin(base, href)
            if urlsplit(url).scheme in ("http", "https"):  # never a local file
                return url
    return None


def next_link(body: bytes, base: str) -> str | None:
    """The RFC 5005 `rel="next"` link, wherever in the document it is."""
    return linked(body, base, "next")


def is_wordpress(body: bytes) -> bool:
    """Whether the feed says WordPress made it (its <generator>), so `paged=N` pages it."""
    return GENERATOR.search(body, 0, HEAD) is not None


def paged_url(url: str, page: int) -> str:
    """`url` asking for WordPress's page `page` (query kept, `paged` set)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != "paged"]
    query.append(("paged", str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def oldest(articles: tuple[Article, ...] | list[Article]) -> dt.datetime | None:
    dates = [a.published for a in articles if a.published is not None]
    return min(dates) if dates else None


def needs_more(articles: list[Article], window_start: dt.datetime) -> bool:
    """Whether the items read so far may leave part of the window out: their oldest is
    still inside it. Undated items tell nothing, so they never ask for more."""
    first = oldest(articles)
    return first is not None and first > window_start


def coverage_note(covered_from: dt.datetime, now: dt.datetime, lookback: dt.timedelta
                  ) -> str:
    """What the editor is told when a source cannot reach back over the whole window."""
    hours = max(0.0, (now - covered_from).total_seconds() / 3600)
    shown = f"{hours:.0f}" if hours >= 1 else f"{hours:.1f}"
    return (f"covers only the last {shown} h of {lookback.total_seconds() / 3600:g} h: "
            "articles may be missed")
