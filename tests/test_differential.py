"""The digest reads feeds as feedparser does, where feedparser is right.

Every well-formed document of feedparser's own test corpus goes through `parse_feed`
and through `feedparser.parse` (its defaults) on the same bytes. The fields the digest
uses (title, link, id, author, published date, summary text) must agree once
feedparser's result is normalised the way the digest normalises its own: text
unescaped and on one line, links absolute without tracking parameters, dates in UTC,
the excerpt cut as the digest cuts it. The differences that remain are listed, by
category and with their reason, in tests/data/feedparser-differences.toml (and in
docs/sources.md): every difference found must be listed there, and every document
listed must still differ, so the list stays as small as the truth.
"""

from __future__ import annotations

import calendar
import datetime as dt
import tomllib
import warnings
from pathlib import Path
from typing import Any

import feedparser
import pytest
from support.project import CORPUS, DATA

from digest.errors import FeedParseError
from digest.models import Article
from digest.sources.normalise import (
    FUTURE_SLACK,
    author_name,
    canonical_link,
    excerpt_of,
)
from digest.sources.parse import parse_feed
from digest.text import absolute_url, one_line, plain_text

WELLFORMED = CORPUS / "wellformed"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
DIFFERENCES = DATA / "feedparser-differences.toml"
FIELDS = ("entries", "title", "link", "id", "author", "published", "summary")

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the feedparser corpus is not at {CORPUS} "
    "(it lives in the shared folder next to the repository)")


def text(value: str, kind: str | None) -> str:
    """feedparser's text construct as the digest keeps text: HTML unless text/plain."""
    return one_line(value) if kind == "text/plain" else plain_text(value)


def names(element: Any) -> str | None:
    found: list[str] = []
    for person in element.get("authors") or []:
        name = author_name(str(person.get("name") or "")) or str(person.get("email") or "")
        if name and name not in found:
            found.append(name)
    return ", ".join(found) or None


def when(entry: Any) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                found = dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return NOW if found > NOW + FUTURE_SLACK else found
    return None


def summary_of(entry: Any) -> str:
    value, kind = entry.get("summary") or "", (entry.get("summary_detail") or {}).get("type")
    if not value and entry.get("content"):
        value, kind = entry.content[0].value, entry.content[0].type
    return excerpt_of(text(value, kind)) if value else ""


def expected(entry: Any, url: str, feed_author: str | None) -> dict[str, Any]:
    """What the digest must make of one feedparser entry (None: no opinion)."""
    link = absolute_url(entry.get("link") or "", url)
    title = text(entry.get("title") or "", (entry.get("title_detail") or {}).get("type"))
    return {
        "title": title or None,  # untitled: the digest titles it from its text
        "link": canonical_link(link) if link else None,
        "id": one_line(entry.get("id") or "") or None,
        "author": names(entry) or feed_author,  # the digest inherits the feed's
        "published": when(entry),
        "summary": summary_of(entry),
    }


def got(article: Article) -> dict[str, Any]:
    return {
        "title": article.title, "link": article.link, "id": article.key,
        "author": article.author,
        "published": article.published.replace(microsecond=0) if article.published else None,
        "summary": article.excerpt,
    }


def kept(entry: Any, url: str) -> bool:
    """Whether the digest makes an article of it: a link, a title or some text."""
    title = text(entry.get("title") or "", (entry.get("title_detail") or {}).get("type"))
    return bool(absolute_url(entry.get("link") or "", url) or title or summary_of(entry))


def differences(path: Path) -> set[str]:
    """The fields in which the digest and feedparser disagree on this document."""
    body = path.read_bytes()
    url = "https://corpus.example.org/" + path.relative_to(CORPUS).as_posix()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = feedparser.parse(body, response_headers={"content-location": url})
    entries = [e for e in theirs.entries if kept(e, url)]
    try:
        ours = parse_feed(body, url, now=NOW).articles
    except FeedParseError:
        return {"entries"} if entries else set()
    if len(ours) != len(entries):
        return {"entries"}
    feed_author = names(theirs.feed)
    found = set()
    for article, entry in zip(ours, entries, strict=True):
        mine, want = got(article), expected(entry, url, feed_author)
        for field, value in want.items():
            if field in ("title", "link", "id") and value is None:
                continue  # the digest fills these in (excerpt, feed link, link)
            if mine[field] != value:
                found.add(field)
    return found


def listed() -> dict[str, set[str]]:
    """document -> fields, from the list of known differences."""
    data = tomllib.loads(DIFFERENCES.read_text(encoding="utf-8"))
    table: dict[str, set[str]] = {}
    for difference in data["difference"]:
        assert difference["reason"].strip() and difference["category"].strip()
        assert set(difference["fields"]) <= set(FIELDS), difference["category"]
        for document in difference["documents"]:
            table.setdefault(document, set()).update(difference["fields"])
    return table


@needs_corpus
def test_the_digest_reads_the_corpus_as_feedparser_does_but_for_listed_differences():
    documents = sorted(p for p in WELLFORMED.rglob("*.xml") if p.is_file())
    assert len(documents) > 1500
    allowed = listed()
    unexplained, stale = {}, []
    for path in documents:
        name = path.relative_to(CORPUS).as_posix()
        found = differences(path)
        if found - allowed.get(name, set()):
            unexplained[name] = sorted(found - allowed.get(name, set()))
        elif name in allowed and not found:
            stale.append(name)
    assert not unexplained, f"differences from feedparser not listed in {DIFFERENCES.name}"
    assert not stale, f"listed in {DIFFERENCES.name} but no longer different"
    assert set(allowed) <= {p.relative_to(CORPUS).as_posix() for p in documents}


def test_the_list_of_differences_is_small_and_explained():
    data = tomllib.loads(DIFFERENCES.read_text(encoding="utf-8"))
    assert 0 < len(data["difference"]) <= 6
    assert sum(len(d["documents"]) for d in data["difference"]) <= 30
