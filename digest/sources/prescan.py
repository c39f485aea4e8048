"""A scan of a feed's raw bytes before it is parsed: whether fastfeedparser reads it as
feedparser would, and each entry's dates and authors as written.

What fastfeedparser reads differently from feedparser, found in the raw bytes, sends
the document to feedparser (a few percent of feeds in the wild; WordPress's never).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# xml:base (fastfeedparser ignores it) and XHTML text constructs (it drops them).
# Atom 0.3 (base64 and escaped modes, text/plain by default) is rare enough to leave
# to feedparser whole, as are XHTML and base64 text constructs (Atom only). Looked for
# with `in` over the fewest bytes: a regex over the whole document is many times slower.
HEAD_BYTES = 4096  # the root element and its namespace declarations are in there
ATOM_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?feed[\s>]")
ATOM_ONLY = ((b"xhtml", re.compile(rb"type\s*=\s*[\"']xhtml[\"']")),
             (b"base64", re.compile(rb"mode\s*=\s*[\"']base64")))


def needs_feedparser(xml: bytes) -> bool:
    head = xml[:HEAD_BYTES]
    if b"xml:base" in xml or b"purl.org/atom/ns#" in head:
        return True
    return ATOM_ROOT.search(head) is not None and any(
        word in xml and pattern.search(xml) is not None for word, pattern in ATOM_ONLY)


# The elements checked in each entry, and the CDATA sections and comments (skipped
# whole with bytes.find, much faster than a lazy match). Only the end tags of entries,
# and description only with a namespace prefix: each match costs a turn of the loop.
SCAN = re.compile(
    rb"<(?:!\[CDATA\[|!--|(/(?=(?:[A-Za-z_][\w.-]*:)?(?:item|entry)>))?"
    rb"(?:([A-Za-z_][\w.-]*):)?(item|entry|source|title|(?<=:)description|link(?=[\s>/])|guid"
    rb"|author|creator|managingEditor|pubDate|date|published|issued|updated|modified"
    rb"|created)(?![\w.:-])([^>]*?)(/?)>)")
# media:content and media:group, open or closed, inside an entry: what they hold are
# captions (media:title, media:description), which fastfeedparser leaves alone.
MEDIA_HOLDER = re.compile(rb"<(/?)[A-Za-z_][\w.-]*:(?:content|group)\b[^>]*?(/?)>")
DATE_KINDS = {b"pubDate": 0, b"published": 0, b"issued": 0,
              b"date": 1, b"updated": 1, b"modified": 1, b"created": 2}
AUTHORS = (b"author", b"creator", b"managingEditor")
PERMALINK_FALSE = re.compile(rb"isPermaLink\s*=\s*[\"']false", re.IGNORECASE)
OTHER_REL = re.compile(rb"\brel\s*=\s*[\"'](?!alternate[\"'])", re.IGNORECASE)
OTHER_TYPE = re.compile(rb"type\s*=\s*[\"'](?!(?:text|html|text/plain|text/html)[\"'])",
                        re.IGNORECASE)
HTML_TYPE = re.compile(rb"type\s*=\s*[\"'](?:html|text/html)[\"']", re.IGNORECASE)


@dataclass
class Scanned:
    """What one entry holds, as the byte scan found it."""

    dates: list[str | None] = field(default_factory=lambda: [None, None, None])
    authors: int = 0
    links: int = 0  # links to the entry's page: none, and fastfeedparser's is another
    guid_is_link: bool = False  # an RSS guid without isPermaLink="false"
    title_html: bool | None = None  # from the title's type (Atom); None: tell from the text


def _text_at(xml: bytes, start: int) -> str | None:
    """The text of the element whose start tag ends at `start`: plain or one CDATA
    section; None when it holds markup."""
    end = xml.find(b"<", start)
    if end < 0:
        return None
    if xml.startswith(b"<![CDATA[", end) and not xml[start:end].strip():
        close = xml.find(b"]]>", end)
        if close < 0 or not xml.startswith(b"</", close + 3):
            return None
        text = xml[end + 9:close]
        return None if b"<" in text else text.decode("utf-8", "replace")
    if not xml.startswith(b"</", end):
        return None
    return html.unescape(xml[start:end].decode("utf-8", "replace"))


def _plain_at(xml: bytes, start: int) -> bool:
    """Whether the element whose start tag ends at `start` holds text only (plain or
    one CDATA section without markup)."""
    end = xml.find(b"<", start)
    if xml.startswith(b"</", end):
        return True
    if not xml.startswith(b"<![CDATA[", end):
        return False
    close = xml.find(b"]]>", end)
    return close > 0 and xml.startswith(b"</", close + 3) and b"<" not in xml[end + 9:close]


def _cdata_end(xml: bytes, start: int) -> int:
    """Where the CDATA section that starts at `start` ends ("]]>"), or -1. Found by
    its first byte (memchr) rather than `find(b"]]>")`, several times slower."""
    while (end := xml.find(b"]", start)) >= 0:
        if xml.startswith(b"]]>", end):
            return end
        start = end + 1
    return -1


def _in_media(before: bytes) -> bool:
    """Whether a media:content or media:group is open at the end of `before`."""
    depth = 0
    for closing, empty in MEDIA_HOLDER.findall(before):
        if not empty:
            depth += -1 if closing else 1
    return depth > 0


def scan(xml: bytes) -> list[Scanned] | None:
    """Each entry's raw dates and author count, or None when the document holds what
    fastfeedparser reads otherwise than feedparser: a title with markup, a namespaced
    title or description in an entry (media:title would win over the item's own), two
    authors in one entry (it keeps only one), a feed author to inherit, a <source>."""
    entries: list[Scanned] = []
    current: Scanned | None = None
    entry = _Entry(b"", 0)
    feed_author = False
    pos = 0
    while (found := SCAN.search(xml, pos)) is not None:
        closing, _prefix, name, _attributes, empty = found.groups()
        if name is None:  # a CDATA section or a comment: nothing inside counts
            close = _cdata_end(xml, found.end()) if xml[found.start() + 2] == 91 \
                else xml.find(b"-->", found.end())
            if close < 0:
                return None
            pos = close + 3
            continue
        pos = found.end()
        if name in (b"item", b"entry"):
            entry = _Entry(name, entry.start if closing or empty else pos)
            if closing:
                if current is not None:
                    entries.append(current)
                current = None
            elif empty:
                entries.append(Scanned())
            else:
                current = Scanned()
        elif closing:
            continue
        elif current is None:
            feed_author = feed_author or (not empty and name in AUTHORS)
        elif not _entry_element(current, entry, xml, found):
            return None
    if feed_author and any(e.authors == 0 for e in entries):
        return None
    return entries


@dataclass(frozen=True)
class _Entry:
    tag: bytes  # item or entry
    start: int  # where its content starts


def _entry_element(current: Scanned, entry: _Entry, xml: bytes, found: re.Match[bytes]) -> bool:
    """Note what an element of the entry tells; False when the document must go to
    feedparser."""
    _closing, _prefix, name, attributes, empty = found.groups()
    if name == b"link":
        # An Atom entry's own page is its rel="alternate" link, never self, edit,
        # enclosure...; an RSS item's is its <link>.
        if entry.tag != b"entry" or OTHER_REL.search(attributes) is None:
            current.links += 1
        return True
    if empty:
        return True
    if name == b"source":
        return False
    if name == b"guid":
        current.guid_is_link = PERMALINK_FALSE.search(attributes) is None
    elif name in (b"title", b"description"):
        return _entry_text(current, entry, xml, found)
    elif name in AUTHORS:
        current.authors += 1
        return current.authors <= 1
    else:
        kind = DATE_KINDS[name]
        if current.dates[kind] is None:
            current.dates[kind] = _text_at(xml, found.end()) or ""
    return True


def _entry_text(current: Scanned, entry: _Entry, xml: bytes, found: re.Match[bytes]) -> bool:
    """A title or description of the entry; False when fastfeedparser would misread it."""
    _closing, prefix, name, attributes, _empty = found.groups()
    if prefix is not None and _in_media(xml[entry.start:found.start()]):
        return True  # a caption: only an entry's own namespaced title would count
    if prefix is not None or (name == b"title" and not _plain_at(xml, found.end())):
        return False
    if name == b"title" and OTHER_TYPE.search(attributes):
        return False  # a base64-encoded title (type="application/octet-stream")
    if name == b"title" and entry.tag == b"entry":
        # Atom: text unless the type says HTML.
        current.title_html = HTML_TYPE.search(attributes) is not None
    return True
