"""A scan of a feed's raw bytes before it is parsed: whether fastfeedparser reads it as
feedparser would, and each entry's dates and authors as written.

What fastfeedparser reads differently from feedparser, found in the raw bytes, sends
the document to feedparser (a few percent of feeds in the wild; WordPress's never).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from digest.text import tags_end

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


# The elements checked in each entry, and the CDATA sections and comments, matched
# whole: `[^\]]*+` and `[^-]*+` run in the regular expression engine's tightest loop, so
# a section costs no turn of the Python loop but its own match (group 1 is set only
# when one is never closed). Only the end tags of entries, and description only with a
# namespace prefix: each match costs a turn of the loop. Possessive quantifiers: none of
# these runs can end elsewhere, so the engine is told not to try; the attributes run to
# the tag's ">", a "/" before it (an empty element) is taken off by `scan`.
SCAN = re.compile(
    rb"<(?:!\[CDATA\[[^\]]*+(?:\](?!\]>)[^\]]*+)*+\]\]>|!--[^-]*+(?:-(?!->)[^-]*+)*+-->"
    rb"|(!\[CDATA\[|!--)"
    rb"|(/(?=(?:[A-Za-z_][\w.-]*+:)?(?:item|entry)>))?"
    rb"(?:([A-Za-z_][\w.-]*+):)?(item|entry|source|title|(?<=:)description|link(?=[\s>/])"
    rb"|guid|author|creator|managingEditor|pubDate|date|published|issued|updated|modified"
    rb"|created)(?![\w.:-])([^>]*+)>)")
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
    media_depth: int = 0  # media:content and media:group open at `media_seen`
    media_seen: int = -1  # how far into the document they are counted (-1: not yet)


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


def _in_media(current: Scanned, xml: bytes, start: int, at: int) -> bool:
    """Whether a media:content or media:group of the entry (its content starts at `start`)
    is open at `at`. Counted on from where the entry's last call stopped, so that many
    captions in one entry cost one pass, not one each from the entry's start."""
    pos = start if current.media_seen < 0 else current.media_seen
    end = max(pos, xml.rfind(b">", pos, at) + 1)  # a tag after it ends after `at`
    for closing, empty in MEDIA_HOLDER.findall(xml, pos, end):
        if not empty:
            current.media_depth += -1 if closing else 1
    current.media_seen = end
    return current.media_depth > 0


def scan(xml: bytes) -> list[Scanned] | None:
    """Each entry's raw dates and author count, or None when the document holds what
    fastfeedparser reads otherwise than feedparser: a title with markup, a namespaced
    title or description in an entry (media:title would win over the item's own), two
    authors in one entry (it keeps only one), a feed author to inherit, a <source>."""
    entries: list[Scanned] = []
    current: Scanned | None = None
    tag, start = b"", 0  # the entry's element (item or entry) and where its content starts
    feed_author = False
    end = tags_end(xml)  # past the last ">": only the opening of a section can follow
    if xml.find(b"<![CDATA[", end) >= 0 or xml.find(b"<!--", end) >= 0:
        return None  # a CDATA section or comment never closed (SCAN's group 1)
    for found in SCAN.finditer(xml, 0, end):
        unclosed, closing, prefix, name, attributes = found.groups()
        if name is None:  # a CDATA section or a comment: nothing inside counts
            if unclosed is not None:
                return None
            continue
        empty = attributes.endswith(b"/")
        if empty:
            attributes = attributes[:-1]
        if name in (b"item", b"entry"):
            tag = name
            if closing:
                if current is not None:
                    entries.append(current)
                current = None
            elif empty:
                entries.append(Scanned())
            else:
                start = found.end()
                current = Scanned()
        elif closing:
            continue
        elif current is None:
            feed_author = feed_author or (not empty and name in AUTHORS)
        elif not _entry_element(current, tag, start, xml, found.start(), found.end(),
                                prefix, name, attributes, empty):
            return None
    if feed_author and any(e.authors == 0 for e in entries):
        return None
    return entries


def _entry_element(current: Scanned, tag: bytes, start: int, xml: bytes, at: int, end: int,
                   prefix: bytes | None, name: bytes, attributes: bytes, empty: bool) -> bool:
    """Note what an element of the entry tells (`at`..`end`: its start tag; `tag` and
    `start`: the entry's element and where its content starts); False when the document
    must go to feedparser."""
    if name == b"link":
        # An Atom entry's own page is its rel="alternate" link, never self, edit,
        # enclosure...; an RSS item's is its <link>.
        if tag != b"entry" or OTHER_REL.search(attributes) is None:
            current.links += 1
        return True
    if empty:
        return True
    if name == b"source":
        return False
    if name == b"guid":
        current.guid_is_link = PERMALINK_FALSE.search(attributes) is None
    elif name in (b"title", b"description"):
        return _entry_text(current, tag, start, xml, at, end, prefix, name, attributes)
    elif name in AUTHORS:
        current.authors += 1
        return current.authors <= 1
    else:
        kind = DATE_KINDS[name]
        if current.dates[kind] is None:
            current.dates[kind] = _text_at(xml, end) or ""
    return True


def _entry_text(current: Scanned, tag: bytes, start: int, xml: bytes, at: int, end: int,
                prefix: bytes | None, name: bytes, attributes: bytes) -> bool:
    """A title or description of the entry; False when fastfeedparser would misread it."""
    if prefix is not None and _in_media(current, xml, start, at):
        return True  # a caption: only an entry's own namespaced title would count
    if prefix is not None or (name == b"title" and not _plain_at(xml, end)):
        return False
    if name == b"title" and OTHER_TYPE.search(attributes):
        return False  # a base64-encoded title (type="application/octet-stream")
    if name == b"title" and tag == b"entry":
        # Atom: text unless the type says HTML.
        current.title_html = HTML_TYPE.search(attributes) is not None
    return True
