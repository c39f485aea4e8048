"""One feed in three formats: RSS 2.0, Atom 1.0 and JSON Feed 1.1 from the same items.

The callers describe a feed with plain frozen dataclasses; this module is the
only place that knows feedgen and its traps (see docs/feeds.md):

- `add_entry()` prepends unless `order="append"`;
- the RSS `<link>` is the last `link()` added, so rel="self" goes first;
- Atom entry links lose `rel` and `type` (feedgen issue #135): an entry
  extension (`_AtomLinks`, feedgen's own extension point) sets them again on the
  entry element before feedgen serialises the feed, so each format is written
  in one pass by one writer (feedgen for RSS and Atom, `json` for JSON Feed);
- `lastBuildDate` and Atom `updated` default to the clock: both are always set
  from the items, so rebuilding unchanged content gives identical bytes.

Everything that reaches a feed passes `published_text`, `clean_published` or
`published_url` first: whatever the sources held, the feeds carry no
executable HTML, no relative URLs and no character XML 1.0 forbids. (The summaries
were sanitised when fetched and the editions come from our own templates; this
second pass is what lets the feeds promise safety whatever reached the store.)
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from digest import __version__
from digest.text import absolute_url, clean_published, one_line

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# The date of a feed with no items: fixed, so an empty feed is stable too.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)



@dataclass(frozen=True)
class FeedLinks:
    """Where the three files of one feed are published (absolute URLs)."""

    rss: str
    atom: str
    json: str


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself."""

    id: str  # stable: an absolute URL
    title: str
    description: str
    home_url: str  # the web page the feed is about
    links: FeedLinks
    language: str
    author: str
    author_url: str


@dataclass(frozen=True)
class FeedItem:
    """One entry, the same in every format."""

    id: str  # stable and unique in the feed: a URL or a URN
    url: str  # the item's page
    title: str  # plain text
    summary_html: str  # HTML
    summary_text: str  # plain text (JSON Feed's summary)
    content_html: str | None  # HTML; None when the summary is all there is
    published: dt.datetime  # aware
    updated: dt.datetime  # aware
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    image: str | None = None
    permalink: bool = False  # the id is the item's own page (RSS isPermaLink)


def published_text(text: str) -> str:
    """Plain text for a feed element or a page: one line, no XML-forbidden characters.

    Titles, names and excerpts are plain text in the store: every character is meant,
    so "Why vector<int> is slow" keeps its "<int>". Each format escapes it for itself
    (templates autoescape, feedgen writes XML, RSS text elements carry hexadecimal
    references that read the same in readers that take RSS titles for HTML); treating
    the text as HTML here would drop what looks like a tag.
    """
    return one_line(text)


def published_url(value: str | None) -> str | None:
    """An absolute http(s) URL safe for a feed, or None."""
    if not value:
        return None
    url = absolute_url(value, None)
    if url is None or urlsplit(url).scheme not in ("http", "https"):
        return None
    if any(c.isspace() for c in url):
        return None
    return url


def image_type(url: str) -> str:
    """The MIME type of an image URL from its extension (JPEG when it has none)."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def last_updated(items: Sequence[FeedItem]) -> dt.datetime:
    """The feed's own date: its newest item's, never the clock."""
    return max((i.updated for i in items), default=EPOCH)


def render_feed(info: FeedInfo, items: Sequence[FeedItem]) -> dict[str, bytes]:
    """The feed as {"rss.xml", "atom.xml", "feed.json"}: bytes ready to publish."""
    clean = [_published_item(i) for i in items]
    return {
        "rss.xml": _rss(info, clean),
        "atom.xml": _atom(info, clean),
        "feed.json": _json_feed(info, clean),
    }


def _published_item(item: FeedItem) -> FeedItem:
    url = published_url(item.url)
    if url is None:
        raise ValueError(f"feed item {item.id!r} has no absolute http(s) link: {item.url!r}")
    return FeedItem(
        id=one_line(item.id),
        url=url,
        title=published_text(item.title) or url,
        summary_html=clean_published(item.summary_html),
        summary_text=published_text(item.summary_text),
        content_html=clean_published(item.content_html) if item.content_html else None,
        published=item.published,
        updated=max(item.updated, item.published),
        authors=tuple(a for a in (published_text(x) for x in item.authors) if a),
        categories=tuple(c for c in (published_text(x) for x in item.categories) if c),
        image=published_url(item.image),
        permalink=item.permalink and item.id == url,
    )


def _generator(info: FeedInfo, items: Sequence[FeedItem], self_url: str,
               mime: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("atom_links", BaseExtension, _AtomLinks, atom=True, rss=False)
    fg.id(info.id)
    fg.title(published_text(info.title))
    fg.subtitle(published_text(info.description) or published_text(info.title))
    # feedgen takes the RSS <link> from the last link added: self first, then alternate.
    fg.link(href=self_url, rel="self", type=mime)
    fg.link(href=info.home_url, rel="alternate", type="text/html")
    fg.language(info.language)
    fg.author(name=published_text(info.author), uri=info.author_url)
    fg.generator("digest", version=__version__)
    newest = last_updated(items)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.guid(item.id, permalink=item.permalink)
        fe.title(item.title)
        fe.link(href=item.url, rel="alternate", type="text/html")
        fe.atom_links.links.append({"rel": "alternate", "type": "text/html"})
        if item.image:
            fe.enclosure(item.image, "0", image_type(item.image))
            fe.atom_links.links.append({"rel": "enclosure", "type": image_type(item.image)})
        fe.published(item.published)
        fe.updated(item.updated)
        # summary() also fills the RSS description; description() would overwrite
        # Atom's content with it.
        fe.summary(item.summary_html, type="html")
        if item.content_html:
            fe.content(item.content_html, type="html")
        for name in item.authors:
            fe.author(name=name)
            # RSS <author> must be an email address; names go in dc:creator.
            fe.dc.dc_creator(name)
        for category in item.categories:
            fe.category(term=category)
    return fg


class _AtomLinks(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """Give Atom entry links back the rel and type that feedgen drops (its issue #135).

    feedgen writes each entry link with its href only. This is feedgen's own
    extension point: `extend_atom` runs on the entry element before the feed
    is serialised, so the links are right in the one pass that writes the feed.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        written = [child for child in entry
                   if isinstance(child.tag, str) and etree.QName(child).localname == "link"]
        for element, link in zip(written, self.links, strict=True):
            element.attrib.update(link)
        return entry


# An element holding only text: any name but the item's HTML ones.
_TEXT_ELEMENT = re.compile(r"<(?!description>|content:encoded>)([\w:]+)>([^<]*)</\1>")
_HEX_REFERENCES = {"&amp;": "&#x26;", "&lt;": "&#x3C;", "&gt;": "&#x3E;"}


def _rss(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    fg = _generator(info, items, info.links.rss, "application/rss+xml")
    data: bytes = fg.rss_str(pretty=True)
    return _plain_text_references(data.decode("utf-8")).encode("utf-8")


def _plain_text_references(xml: str) -> str:
    """The profile's advice for plain text: "&", "<" and ">" as hexadecimal references.

    This is how the characters are written, not what they are: an XML parser reads
    `&#x26;` and `&amp;` as the same "&", so the feed's content is feedgen's. lxml,
    which feedgen serialises with, has no option to write references this way, so
    it is done on the text feedgen wrote. Readers that take RSS titles for HTML read
    `&#x26;` and `&#x3C;` the same as those that do not. The channel's description is
    plain text too; the items' description and content:encoded are HTML and keep
    their escaping.
    """

    def hex_references(value: str) -> str:
        return re.sub("&(amp|lt|gt);", lambda m: _HEX_REFERENCES[m.group(0)], value)

    def element(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        return f"<{name}>{hex_references(value)}</{name}>"

    channel, item, items = xml.partition("<item>")
    channel = re.sub(r"<description>([^<]*)</description>",
                     lambda m: f"<description>{hex_references(m.group(1))}</description>",
                     channel, count=1)
    return _TEXT_ELEMENT.sub(element, channel) + item + _TEXT_ELEMENT.sub(element, items)


def _atom(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    fg = _generator(info, items, info.links.atom, "application/atom+xml")
    data: bytes = fg.atom_str(pretty=True)
    return data


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _json_feed(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": published_text(info.title),
        "home_page_url": info.home_url,
        "feed_url": info.links.json,
        "description": published_text(info.description),
        "language": info.language,
        "authors": [{"name": published_text(info.author), "url": info.author_url}],
        "items": [_json_item(i) for i in items],
    }
    if not feed["description"]:
        del feed["description"]
    text = json.dumps(feed, ensure_ascii=False, indent=2)
    # "<", ">" and "&" as \u escapes: the same strings, and a page or reader that pastes
    # the JSON into HTML can never find a tag in it (a title may say "<script>").
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode("utf-8")


def _json_item(item: FeedItem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": item.content_html or item.summary_html,
    }
    if item.summary_text:
        entry["summary"] = item.summary_text
    if item.image:
        entry["image"] = item.image
    entry["date_published"] = _rfc3339(item.published)
    entry["date_modified"] = _rfc3339(item.updated)
    if item.authors:
        entry["authors"] = [{"name": a} for a in item.authors]
    if item.categories:
        entry["tags"] = list(item.categories)
    return entry
