"""Feed documents -> Articles.

RSS and Atom go through fastfeedparser (lxml with entities left unresolved and no
network, many times faster than feedparser with its sanitiser on) where it reads
as feedparser does, and through feedparser elsewhere: a scan of the raw bytes sends
documents with what fastfeedparser reads differently (xml:base, XHTML titles, titles
with markup, item-level media:title, several authors...) to feedparser, and gives
the fast reader each entry's dates as written. feedparser is also the fallback when
fastfeedparser cannot read a document or finds nothing usable in it. JSON Feed goes
through our own reader. Every path hands RawEntries to `normalise.to_article`, where
nh3 sanitises the HTML: the safety does not depend on the parser."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
import time
from typing import Any

import fastfeedparser
import feedparser

from digest.clock import utcnow
from digest.errors import FeedParseError
from digest.sources.charset import as_utf8_xml, decode
from digest.sources.jsonfeed import looks_like_json, read_json_feed
from digest.sources.normalise import (
    ParsedFeed,
    RawEntry,
    author_name,
    canonical_link,
    parse_date,
    text_as_html,
    to_article,
)
from digest.sources.prescan import Scanned, needs_feedparser, scan
from digest.sources.protected import password_protected
from digest.text import absolute_url, one_line, plain_text, tags_end

__all__ = ["ParsedFeed", "canonical_link", "parse_feed"]

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
    now = now or utcnow()
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"{":
        text, _codec = decode(body, content_type)
        if looks_like_json(text):
            feed = read_json_feed(text)
            return _finish(feed.title, feed.link, feed.entries, url, now, None)
    xml, _codec = as_utf8_xml(body, content_type)
    fast = _read_fast(xml, url)
    if fast is not None:
        title, link, entries = fast
        return _finish(title, link, entries, url, now, None)
    return _read_feedparser(xml, url, now)


def _finish(title: str, link: str | None, entries: tuple[RawEntry, ...] | list[RawEntry],
            url: str, now: dt.datetime, warning: str | None) -> ParsedFeed:
    # The document's own URL is the base of its relative links (RFC 3986: the retrieval
    # URI), as for feedparser; an xml:base, when there is one, is in each RawEntry.
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


def _read_fast(xml: bytes, url: str) -> tuple[str, str | None, list[RawEntry]] | None:
    """The feed as fastfeedparser reads it; None to hand it to feedparser instead."""
    if needs_feedparser(xml):
        return None
    scanned = scan(xml)
    if scanned is None:
        return None
    try:
        # Bytes, so never fetched as a URL; tags are the entries' categories.
        parsed = fastfeedparser.parse(xml, include_tags=True)
    except Exception:  # it raises on what it cannot read; feedparser gets a go
        return None
    found = parsed.get("entries") or []
    if len(found) != len(scanned):
        return None  # the scan and the reader disagree on what is an entry: not this path
    entries = [_fast_entry(e, s, url) for e, s in zip(found, scanned, strict=True)]
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
        content = content[:FFP_HTML_LIMIT]
        end = tags_end(content)
        content = FFP_TAG.sub(" ", content[:end]) + content[end:]
    return " ".join(html.unescape(content).split())[:FFP_DESCRIPTION] == summary


def _alternate(entry: Any) -> str | None:
    """The entry's own page: an Atom link rel="alternate" (or without rel), never its
    enclosure, licence or related links; RSS's <link>."""
    links = [x for x in entry.get("links") or [] if isinstance(x, dict) and _str(x.get("href"))]
    for each in links:
        if (each.get("rel") or "alternate") == "alternate":
            return str(each["href"])
    link = _str(entry.get("link"))
    if link and any(x["href"] == link for x in links):
        return None  # the only links are other relations
    return link


def _first_date(texts: list[str | None]) -> dt.datetime | None:
    """Published, else updated, else created: the first that reads as a date."""
    for text in texts:
        when = parse_date(text) if text else None
        if when is not None:
            return when
    return None


def _fast_entry(entry: Any, scanned: Scanned, url: str) -> RawEntry:
    content_html = ""
    raw_values = []  # a list: `in` compares lengths first, a set would hash every content
    for item in entry.get("content") or []:
        value = _str(item.get("value")) or ""
        raw_values.append(value)
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
    link = _alternate(entry)
    raw_id = _str(entry.get("id"))
    if not scanned.links:
        # No link to the entry's page: fastfeedparser offers the guid or another link
        # (rel="self", "edit", "enclosure"); a guid is the link only when it is an RSS
        # permalink, as feedparser has it.
        link = raw_id if scanned.guid_is_link and raw_id and raw_id == link else None
    return RawEntry(
        # fastfeedparser falls back to the link for a missing guid; so do we, after
        # canonicalising it, so take only a real id here.
        id=raw_id if raw_id and raw_id != link else None,
        link=link,
        title=str(entry.get("title") or ""),
        title_html=scanned.title_html,
        summary=summary,
        content=content_html,
        author=author_name(_str(entry.get("author")) or "") or None,
        # Dates as the document wrote them, not fastfeedparser's reading (which completes
        # partial dates from today and takes a guid such as "013" for a date).
        published=_first_date(scanned.dates),
        images=tuple(images),
        image_sizes=sizes,
        terms=_terms(entry),
        base=url,
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


MRSS_PREFIX = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']http://search\.yahoo\.com/mrss/?["']""")


def _without_media_text(xml: bytes) -> bytes:
    """The document with Media RSS's title and description renamed: feedparser takes
    whichever of media:description and description comes first as the summary, and the
    item's own elements must win. Renamed, feedparser keeps them as media_title_fallback
    and media_description_fallback (plain text), used only when the item has none."""
    for prefix in set(MRSS_PREFIX.findall(xml)):
        # Without attributes: feedparser would keep those and drop the text.
        end = tags_end(xml)
        xml = re.sub(rb"<(/?)" + re.escape(prefix) + rb":(title|description)\b[^>]*?(/?)>",
                     rb"<\1" + prefix + rb":\2_fallback\3>", xml[:end]) + xml[end:]
    return xml


def _read_feedparser(xml: bytes, url: str, now: dt.datetime) -> ParsedFeed:
    if b"search.yahoo.com/mrss" in xml:
        xml = _without_media_text(xml)
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
    feed_author = _authors(feed)
    raws = [_feedparser_entry(e, feed_author) for e in entries]
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


def _authors(element: Any) -> str | None:
    """Every author's name (feedparser's `author` is only the last one)."""
    names = []
    for person in element.get("authors") or []:
        if not isinstance(person, dict):
            continue
        name = author_name(str(person.get("name") or "")) or str(person.get("email") or "")
        if name and name not in names:
            names.append(name)
    if not names and element.get("author"):
        names.append(author_name(str(element["author"])))
    return ", ".join(names) or None


def _feedparser_entry(entry: Any, feed_author: str | None) -> RawEntry:
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
    if not summary and not content and _str(entry.get("media_description_fallback")):
        summary = text_as_html(entry["media_description_fallback"])
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
    author = _authors(entry) or feed_author
    base = ((entry.get("content") or [{}])[0].get("base")
            or (entry.get("summary_detail") or {}).get("base") or None)
    return RawEntry(
        id=entry.get("id") or entry.get("guid") or None,
        link=entry.get("link") or None,
        title=entry.get("title") or _str(entry.get("media_title_fallback")) or "",
        title_html=_is_html(entry, "title") if entry.get("title") else False,
        summary=summary,
        content=content,
        # Names are text: "AT&T" must not be read as HTML.
        author=html.escape(author) if author else None,
        published=_when(entry),
        images=tuple(images),
        image_sizes=sizes,
        terms=_terms(entry),
        base=base,
    )
