"""Feed documents -> Articles: feedparser for the formats, our sanitiser for the HTML."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from digest.models import Article
from digest.sources.sanitize import absolute_url, clean_html, one_line, plain_text

WORDS_PER_MINUTE = 200
EXCERPT_WORDS = 45
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|_hsenc|_hsmi"
    r"|mkt_tok|igshid|ref_src|oly_enc_id|oly_anon_id|vero_id|__s|s_cid)$",
    re.IGNORECASE,
)
# WordPress and others end truncated excerpts with these; such text says nothing of length.
TRUNCATION = re.compile(r"(\[\s*(…|\.\.\.|&hellip;)\s*\]|…|\.\.\.|continue reading.*)\s*$",
                        re.IGNORECASE)
APPEARED_FIRST = re.compile(r"\s*The post .{1,300} appeared first on .{1,200}\.?\s*$")


# Complaints about the HTTP headers, not the document: the entries are read correctly.
BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


class FeedParseError(Exception):
    """The document is not a feed that can be read."""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    articles: tuple[Article, ...]
    warning: str | None  # set when the document was malformed but still yielded entries


def canonical_link(url: str) -> str:
    """The link without tracking parameters and fragment, for comparing and publishing."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMS.match(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/" if parts.netloc else
                       parts.path, urlencode(query, doseq=True), ""))


def _when(entry: Any) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _image(entry: Any, content_html: str, base: str | None) -> str | None:
    candidates: list[str] = []
    for media in entry.get("media_content") or []:
        kind = (media.get("medium") or media.get("type") or "image").lower()
        if "image" in kind and media.get("url"):
            candidates.append(media["url"])
    for thumb in entry.get("media_thumbnail") or []:
        if thumb.get("url"):
            candidates.append(thumb["url"])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            candidates.append(link.get("href", ""))
    found = re.search(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", content_html)
    if found:
        candidates.append(found.group(1).replace("&amp;", "&"))
    for candidate in candidates:
        url = absolute_url(candidate, base)
        if url and url.startswith(("https://", "http://")):
            return url
    return None


def excerpt_of(text: str, words: int = EXCERPT_WORDS) -> str:
    text = APPEARED_FIRST.sub("", text).strip()
    text = TRUNCATION.sub("", text).rstrip(" ,;:—-")
    parts = text.split()
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(" ,;:—-") + "…"


def reading_minutes(content_text: str, summary_text: str) -> int | None:
    """Minutes to read at 200 words a minute; None when only a cut-short excerpt exists."""
    text = content_text or summary_text
    if not text:
        return None
    if not content_text and TRUNCATION.search(APPEARED_FIRST.sub("", summary_text)):
        return None
    return max(1, math.ceil(len(text.split()) / WORDS_PER_MINUTE))


def parse_feed(body: bytes, url: str, *, content_type: str | None = None,
               now: dt.datetime | None = None) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document fetched from `url` into Articles."""
    now = now or dt.datetime.now(dt.UTC)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    if not entries and (parsed.get("bozo") or not version):
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise FeedParseError(f"not a readable feed ({_reason(reason)})")
    feed = parsed.get("feed") or {}
    feed_link = absolute_url(feed.get("link") or "", url) if feed.get("link") else None
    articles = []
    for entry in entries:
        article = _article(entry, url, feed_link, now)
        if article is not None:
            articles.append(article)
    warning = None
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), BENIGN):
        warning = f"malformed, read what could be read ({_reason(parsed.get('bozo_exception'))})"
    return ParsedFeed(
        title=plain_text(feed.get("title") or ""),
        link=feed_link,
        articles=tuple(articles),
        warning=warning,
    )


def _reason(exc: object) -> str:
    text = one_line(str(exc)) or type(exc).__name__
    return text[:200]


def _text(entry: Any, key: str) -> str:
    """A text field as plain text: markup removed only when the feed declares it HTML."""
    value = entry.get(key) or ""
    kind = (entry.get(f"{key}_detail") or {}).get("type", "text/html")
    if kind == "text/plain":
        return one_line(value)
    return plain_text(value)


def _article(entry: Any, feed_url: str, feed_link: str | None,
             now: dt.datetime) -> Article | None:
    raw_link = entry.get("link") or ""
    link = absolute_url(raw_link, feed_link or feed_url) if raw_link else None
    link = canonical_link(link) if link else None
    base = link or feed_link or feed_url
    title = _text(entry, "title")
    contents = entry.get("content") or []
    content_raw = max((c.get("value") or "" for c in contents), key=len, default="")
    summary_raw = entry.get("summary") or ""
    content_html = clean_html(content_raw, base) if content_raw else ""
    summary_html = clean_html(summary_raw, base) if summary_raw else ""
    if summary_html == content_html:
        summary_html = ""  # feedparser repeats content as summary for some formats
    content_text = plain_text(content_html)
    summary_text = plain_text(summary_html)
    if not title:
        title = excerpt_of(summary_text or content_text, 12)
    if not link and not title:
        return None
    key_source = entry.get("id") or entry.get("guid") or link
    if not key_source:
        digest = hashlib.sha256(f"{title}\n{summary_text or content_text}".encode())
        key_source = "sha256:" + digest.hexdigest()
    published = _when(entry)
    if published is not None and published > now + dt.timedelta(minutes=10):
        published = now  # a date in the future would hold the article back or jump the queue
    author = _text(entry, "author") or None
    return Article(
        key=one_line(str(key_source))[:1000],
        link=link or feed_link or "",
        title=title,
        summary_html=summary_html or content_html,
        excerpt=excerpt_of(summary_text or content_text),
        author=author,
        published=published,
        image=_image(entry, content_html, base),
        reading_minutes=reading_minutes(content_text, summary_text),
        feed_url=feed_url,
    )
