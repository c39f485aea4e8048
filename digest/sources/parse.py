"""Feed documents -> Articles.

RSS and Atom go through fastfeedparser first (lxml with entities left
unresolved and no network, about 20 times faster than feedparser with its
sanitiser on) and through feedparser when fastfeedparser cannot read the
document or finds nothing usable in it; JSON Feed through our own reader. Every
path hands RawEntries to `normalise.to_article`, where nh3 sanitises the HTML:
the safety does not depend on the parser.
"""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
import time
from typing import Any

import fastfeedparser
import feedparser

from digest.sources.charset import as_utf8_xml, decode
from digest.sources.jsonfeed import looks_like_json, read_json_feed
from digest.sources.normalise import (
    FeedParseError,
    ParsedFeed,
    RawEntry,
    canonical_link,
    parse_date,
    text_as_html,
    to_article,
)
from digest.sources.protected import password_protected
from digest.sources.sanitize import absolute_url, one_line, plain_text

__all__ = ["FeedParseError", "ParsedFeed", "canonical_link", "parse_feed"]

# Complaints about the HTTP headers, not the document: the entries are read correctly.
BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
PLAIN_TYPES = ("text", "text/plain")
# How fastfeedparser 0.6 makes a description from content (see _synthesised).
FFP_TAG = re.compile(r"<[^>]+>")
FFP_HTML_LIMIT = 2048
FFP_DESCRIPTION = 512



def _dimension(value: object) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else 0


def media_sizes(media: list[Any]) -> tuple[tuple[str, int, int], ...]:
    """(url, width, height) of each media:content that states its size."""
    sizes = []
    for item in media:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        width, height = _dimension(item.get("width")), _dimension(item.get("height"))
        if width and height:
            sizes.append((item["url"], width, height))
    return tuple(sizes)

def parse_feed(body: bytes, url: str, *, content_type: str | None = None,
               now: dt.datetime | None = None) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document fetched from `url` into Articles."""
    now = now or dt.datetime.now(dt.UTC)
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"{":
        text, _codec = decode(body, content_type)
        if looks_like_json(text):
            feed = read_json_feed(text)
            return _finish(feed.title, feed.link, feed.entries, url, now, None)
    xml, _codec = as_utf8_xml(body, content_type)
    fast = _read_fast(xml)
    if fast is not None:
        title, link, entries = fast
        return _finish(title, link, entries, url, now, None)
    return _read_feedparser(xml, url, now)


def _finish(title: str, link: str | None, entries: tuple[RawEntry, ...] | list[RawEntry],
            url: str, now: dt.datetime, warning: str | None) -> ParsedFeed:
    feed_link = absolute_url(link, url) if link else None
    articles = []
    for raw in entries:
        if password_protected(raw):
            continue  # its text is a password form: nothing a reader could open
        article = to_article(raw, url, feed_link, now)
        if article is not None:
            articles.append(article)
    return ParsedFeed(plain_text(title), feed_link, tuple(articles), warning)


# -- fastfeedparser -------------------------------------------------------------------


def _read_fast(xml: bytes) -> tuple[str, str | None, list[RawEntry]] | None:
    """The feed as fastfeedparser reads it; None to hand it to feedparser instead."""
    try:
        # Bytes, so never fetched as a URL; tags are the entries' categories.
        parsed = fastfeedparser.parse(xml, include_tags=True)
    except Exception:  # it raises on what it cannot read; feedparser gets a go
        return None
    entries = [_fast_entry(e) for e in parsed.get("entries") or []]
    if not any(e.link or e.title for e in entries):
        # Nothing usable may be something fastfeedparser missed (it drops elements
        # around entity references it leaves unresolved, for one).
        return None
    feed = parsed.get("feed") or {}
    return str(feed.get("title") or ""), _str(feed.get("link")), entries


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _synthesised(summary: str, entry: Any) -> bool:
    """Whether fastfeedparser made this description from the first content (it does so
    when an entry has none): its text, tags replaced by spaces, the first 512 characters.
    Only an exact match counts, so a real description is never mistaken for one."""
    if "<" in summary:
        return False
    content = str((entry.get("content") or [{}])[0].get("value") or "")
    if "<" in content and ">" in content:
        content = FFP_TAG.sub(" ", content[:FFP_HTML_LIMIT])
    return " ".join(html.unescape(content).split())[:FFP_DESCRIPTION] == summary


def _fast_entry(entry: Any) -> RawEntry:
    content_html = ""
    raw_values = set()
    for item in entry.get("content") or []:
        value = _str(item.get("value")) or ""
        raw_values.add(value)
        if str(item.get("type") or "").lower() in PLAIN_TYPES:
            value = text_as_html(value)
        if len(value) > len(content_html):
            content_html = value
    summary = _str(entry.get("description")) or ""
    if summary in raw_values or (raw_values and _synthesised(summary, entry)):
        # fastfeedparser repeats a lone description as content, and makes a description
        # from the content when there is none: one of them is enough, and the content
        # knows its type (HTML or text).
        summary = ""
    images = []
    for media in entry.get("media_content") or []:
        kind = str(media.get("medium") or media.get("type") or "image").lower()
        if "image" in kind and _str(media.get("url")):
            images.append(media["url"])
    sizes = media_sizes(entry.get("media_content") or [])
    for thumb in entry.get("media_thumbnail") or []:
        if _str(thumb.get("url")):
            images.append(thumb["url"])
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type") or "").startswith("image/") and _str(enclosure.get("url")):
            images.append(enclosure["url"])
    link = _str(entry.get("link"))
    raw_id = _str(entry.get("id"))
    return RawEntry(
        # fastfeedparser falls back to the link for a missing guid; so do we, after
        # canonicalising it, so take only a real id here.
        id=raw_id if raw_id and raw_id != link else None,
        link=link,
        title=str(entry.get("title") or ""),
        summary=summary,
        content=content_html,
        author=_str(entry.get("author")),
        published=parse_date(entry.get("published") or entry.get("updated")),
        images=tuple(images),
        image_sizes=sizes,
        terms=_terms(entry),
    )


def _terms(entry: Any) -> tuple[str, ...]:
    """The entry's category terms (RSS <category>, Atom category's term or label)."""
    terms = []
    for tag in entry.get("tags") or []:
        if isinstance(tag, dict):
            for key in ("term", "label"):
                value = tag.get(key)
                if isinstance(value, str) and value.strip():
                    terms.append(value)
    return tuple(terms)


# -- feedparser -----------------------------------------------------------------------


def _read_feedparser(xml: bytes, url: str, now: dt.datetime) -> ParsedFeed:
    parsed = feedparser.parse(
        xml, response_headers={"content-location": url,
                               "content-type": "application/xml; charset=utf-8"},
        sanitize_html=False, resolve_relative_uris=False,
    )
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    if not entries and (parsed.get("bozo") or not version):
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise FeedParseError(f"not a readable feed ({_reason(reason)})")
    feed = parsed.get("feed") or {}
    warning = None
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), BENIGN):
        warning = f"malformed, read what could be read ({_reason(parsed.get('bozo_exception'))})"
    raws = [_feedparser_entry(e) for e in entries]
    title = feed.get("title") or ""
    if (feed.get("title_detail") or {}).get("type") == "text/plain":
        title = html.escape(title)
    return _finish(title, feed.get("link"), raws, url, now, warning)


def _reason(exc: object) -> str:
    text = one_line(str(exc)) or type(exc).__name__
    return text[:200]


def _when(entry: Any) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _is_html(entry: Any, key: str) -> bool:
    """feedparser marks each text construct; only text/plain is not HTML-escaped."""
    return bool((entry.get(f"{key}_detail") or {}).get("type", "text/html") != "text/plain")


def _feedparser_entry(entry: Any) -> RawEntry:
    content = ""
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if item.get("type") == "text/plain":
            value = text_as_html(value)
        if len(value) > len(content):
            content = value
    summary = entry.get("summary") or ""
    if not _is_html(entry, "summary"):
        summary = text_as_html(summary)
    images = []
    for media in entry.get("media_content") or []:
        kind = (media.get("medium") or media.get("type") or "image").lower()
        if "image" in kind and media.get("url"):
            images.append(media["url"])
    sizes = media_sizes(entry.get("media_content") or [])
    for thumb in entry.get("media_thumbnail") or []:
        if thumb.get("url"):
            images.append(thumb["url"])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            images.append(link.get("href", ""))
    author = entry.get("author") or None
    return RawEntry(
        id=entry.get("id") or entry.get("guid") or None,
        link=entry.get("link") or None,
        title=entry.get("title") or "",
        title_html=_is_html(entry, "title"),
        summary=summary,
        content=content,
        author=(html.escape(author) if author and not _is_html(entry, "author") else author),
        published=_when(entry),
        images=tuple(images),
        image_sizes=sizes,
        terms=_terms(entry),
    )
