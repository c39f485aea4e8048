"""The parser's faster paths give what the slower ones they replaced gave.

Each shortcut taken for speed (issue 14) is checked against the code it replaced, kept
here as the reference, over every document of feedparser's corpus and the parser's own
test documents, and over the edge cases where the two could part: the byte scan's
CDATA sections and comments matched whole, the tag pattern for sanitised HTML, RFC 822
zones made once, author names and titles that skip a regular expression, the text of
sanitised HTML without one_line's pass for forbidden characters, control bytes looked
for before a document is copied without them, tracking pictures' paths matched on the
lowercased URL.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import warnings
from pathlib import Path

import feedparser.datetimes as feedparser_dates
import pytest
from support.project import CORPUS, DATA

from digest.errors import FeedParseError
from digest.models import Article
from digest.sources import prescan
from digest.sources.charset import NONCHARACTERS, _without_forbidden, as_utf8_xml
from digest.sources.normalise import (
    ADDRESS_THEN_NAME,
    LOOKS_LIKE_HTML,
    NAME_THEN_ADDRESS,
    RFC822,
    TRACKING_HOST_PREFIXES,
    TRACKING_HOSTS,
    TRACKING_PATH,
    author_name,
    is_tracking_image,
    parse_date,
    title_text,
)
from digest.sources.parse import parse_feed
from digest.text import (
    _TEXT,
    BLOCK_TAG,
    C0_BYTES,
    CLEAN_TAG,
    clean_html,
    one_line,
    plain_text,
    text_of_clean,
    xml_safe,
)

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the feedparser corpus is not at {CORPUS} "
    "(it lives in the shared folder next to the repository)")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def documents() -> list[Path]:
    found = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")
    return found + sorted((DATA / "parse").glob("*.xml"))


def xml_of(path: Path) -> bytes:
    return as_utf8_xml(path.read_bytes(), None)[0]


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    """Every article the parser reads from the documents."""
    found: list[Article] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in documents():
            try:
                parsed = parse_feed(path.read_bytes(), "http://example.org/feed", now=NOW)
            except FeedParseError:
                continue
            found += parsed.articles
    return found


# -- the byte scan, as it was: one search per element, CDATA and comments skipped with find

REFERENCE_SCAN = re.compile(
    rb"<(?:!\[CDATA\[|!--|(/(?=(?:[A-Za-z_][\w.-]*:)?(?:item|entry)>))?"
    rb"(?:([A-Za-z_][\w.-]*):)?(item|entry|source|title|(?<=:)description|link(?=[\s>/])|guid"
    rb"|author|creator|managingEditor|pubDate|date|published|issued|updated|modified"
    rb"|created)(?![\w.:-])([^>]*?)(/?)>)")


def reference_scan(xml: bytes) -> list[prescan.Scanned] | None:
    entries: list[prescan.Scanned] = []
    current: prescan.Scanned | None = None
    tag, start, feed_author, pos = b"", 0, False, 0
    while (found := REFERENCE_SCAN.search(xml, pos)) is not None:
        closing, prefix, name, attributes, empty = found.groups()
        if name is None:
            close = xml.find(b"]]>", found.end()) if xml[found.start() + 2] == 91 \
                else xml.find(b"-->", found.end())
            if close < 0:
                return None
            pos = close + 3
            continue
        pos = found.end()
        if name in (b"item", b"entry"):
            tag = name
            if closing:
                if current is not None:
                    entries.append(current)
                current = None
            elif empty:
                entries.append(prescan.Scanned())
            else:
                start, current = pos, prescan.Scanned()
        elif closing:
            continue
        elif current is None:
            feed_author = feed_author or (not empty and name in prescan.AUTHORS)
        elif not prescan._entry_element(current, tag, start, xml, found.start(), found.end(),
                                        prefix, name, attributes, bool(empty)):
            return None
    if feed_author and any(e.authors == 0 for e in entries):
        return None
    return entries


@needs_corpus
def test_the_scan_finds_what_the_former_scan_found_in_every_document():
    compared = scanned = 0
    for path in documents():
        xml = xml_of(path)
        expected = reference_scan(xml)
        assert prescan.scan(xml) == expected, path
        compared += 1
        scanned += expected is not None
    assert compared > 2000 and scanned > 1000  # the corpus was there and mostly scanned


@pytest.mark.parametrize("document", [
    b"<rss><channel><item><title>A</title><![CDATA[ never closed <title>x</title>",
    b"<rss><channel><item><title>A</title><!-- never closed <item>",
    b"<rss><channel><item><title>A</title><!--></item></channel></rss>",
    b"<rss><channel><item><title>A</title><!---></item></channel></rss>",
    b"<rss><channel><item><title>A</title><!----></item></channel></rss>",
    b"<rss><channel><item><title>A</title><!-- a --- b --></item></channel></rss>",
    b"<rss><channel><item><description><![CDATA[x]]]></description>"
    b"<title>T</title></item></channel></rss>",
    b"<rss><channel><item><description><![CDATA[]]></description>"
    b"<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate></item></channel></rss>",
    b"<rss><channel><item><description><![CDATA[<item><title>in</title></item> ] ]> ]]>"
    b"</description><title>out</title></item><item/></channel></rss>",
    b"<rss><channel><item><link/><link href='x' /><guid isPermaLink='false'/>"
    b"<guid isPermaLink=\"false\">1</guid></item></channel></rss>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><link rel='self' href='a'/>"
    b"<title type='html'>&lt;b&gt;T</title><updated>2003-12-13T18:30:02Z</updated>"
    b"</entry><entry/></feed>",
    b"<rss xmlns:media='http://search.yahoo.com/mrss/'><channel><item><media:group>"
    b"<media:title>caption</media:title></media:group><title>T</title></item>"
    b"<item><media:title>own</media:title></item></channel></rss>",
    b"<rss><channel><author>feed</author><item><title>T</title></item></channel></rss>",
    b"<rss><channel><item><dc:creator>a</dc:creator><author>b</author></item></channel></rss>",
])
def test_the_scan_agrees_with_the_former_scan_where_they_could_part(document: bytes):
    assert prescan.scan(document) == reference_scan(document)


# -- text helpers


REFERENCE_CLEAN_TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
TAGS = ['<a href="x>y">', "<a title='it\"s'>", '<img alt="a" src="b"/>', "<br>",
        '<a href="unclosed>', "<>", "<p class='a>b' id=\"c'd\">", "text > more", "a < b"]


@needs_corpus
def test_the_tag_pattern_for_sanitised_html_finds_the_same_tags(articles: list[Article]):
    pairs = [tag + " text " + other for tag in TAGS for other in TAGS]
    fragments = pairs + [clean_html(pair, "http://example.org/") for pair in pairs]
    fragments += [a.summary_html for a in articles]
    assert len(fragments) > 500
    for fragment in fragments:
        assert CLEAN_TAG.sub("", fragment) == REFERENCE_CLEAN_TAG.sub("", fragment), fragment


def reference_title_text(value: str, is_html: bool | None) -> str:
    if is_html is None:
        is_html = LOOKS_LIKE_HTML.search(value) is not None
    return plain_text(value) if is_html else one_line(value)


def reference_author_name(text: str) -> str:
    found = ADDRESS_THEN_NAME.fullmatch(text) or NAME_THEN_ADDRESS.fullmatch(text)
    return found.group(1).strip() if found else text.strip()


TEXTS = ["Plain title", "AT&T and T-Mobile", "a &amp; b", "Festival <returns>", "x <b>y</b>",
         "vector<int>", "jo@example.org (Jo Bloggs)", "Jo Bloggs <jo@example.org>",
         "  Jo  ", "&#8211; dash", "@handle", "name (with) parentheses", "", "&NBSP; caps",
         "& alone;", "&x;", "&#x1F600; face", "R&amp;D <i>lab</i>"]


@needs_corpus
def test_titles_and_names_read_as_before(articles: list[Article]):
    texts = TEXTS + [a.title for a in articles] + [a.author or "" for a in articles]
    for value in texts:
        assert title_text(value, None) == reference_title_text(value, None), value
        assert author_name(value) == reference_author_name(value), value


# -- dates


def reference_date(text: str) -> dt.datetime | None:
    """feedparser's own reading, which the RFC 822 fast path stands in for."""
    parsed = feedparser_dates._parse_date(text)
    if parsed is None:
        return None
    return dt.datetime(*parsed[:6], tzinfo=dt.UTC)


def rfc822_dates() -> list[str]:
    dates = [f"{day}, {n:02d} {month} 2026 {hour:02d}:{minute:02d}:07 {zone}"
             for n, (day, month) in enumerate([("Mon", "Jan"), ("Tue", "Jun"), ("Sun", "Dec")], 1)
             for hour, minute in [(0, 0), (12, 30), (23, 59)]
             for zone in ["+0000", "-0000", "+0400", "-0530", "+1345", "-1200", "GMT", "UT",
                          "UTC", "Z", "+0400"]]  # a zone seen twice is made once
    for path in documents():
        for found in re.finditer(rb"<(?:pubDate|dc:date|date)>([^<]{6,60})</", path.read_bytes()):
            dates.append(found.group(1).decode("utf-8", "replace").strip())
    return [d for d in dates if RFC822.fullmatch(d)]


@needs_corpus
def test_rfc822_dates_read_as_feedparser_reads_them():
    dates = rfc822_dates()
    assert len(dates) > 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for text in dates:
            assert parse_date(text) == reference_date(text), text
            assert parse_date(text) == parse_date(html.unescape(text))  # made once, same again


# -- text of sanitised HTML without one_line's pass for forbidden characters


def reference_text_of_clean(cleaned: str) -> str:
    if "<" not in cleaned and "&" not in cleaned:
        return one_line(cleaned)
    spaced = BLOCK_TAG.sub(" ", cleaned) if "<" in cleaned else cleaned
    return one_line(html.unescape(REFERENCE_CLEAN_TAG.sub("", spaced)))


def reference_plain_text(fragment: str) -> str:
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return one_line(fragment)
    return reference_text_of_clean(_TEXT.clean(xml_safe(fragment)))


FRAGMENTS = ["&#1;a", "a&#xFFFE;b", "&#55296;x", "x\x0by", "<p>a</p>&#11;<p>b</p>", "&amp;#1;",
             "<b>&#x1F;</b>", "\ufffe<i>k</i>", "a\x00b<br>c", "&#0;", "&#x85;&#xA0;&nbsp;z",
             "<p>one</p><p>two</p>", "x &lt; y &gt; z &amp; w", "<script>&#1;</script>t",
             "line\r\nbreak\u2028sep", "&#65535;&#xFFFF;", "<a title='&#1;'>t</a>"]


def test_text_of_sanitised_html_is_what_it_was(articles: list[Article]):
    fragments = FRAGMENTS + [a.summary_html for a in articles] + [a.title for a in articles]
    for fragment in fragments:
        cleaned = clean_html(fragment, "http://example.org/")
        assert text_of_clean(cleaned) == reference_text_of_clean(cleaned), fragment
        assert plain_text(fragment) == reference_plain_text(fragment), fragment


# -- control bytes looked for before the document is copied without them


@needs_corpus
def test_documents_lose_the_same_bytes_as_before():
    bodies = [path.read_bytes() for path in documents()]
    bodies += [b"<rss>a" + bytes([byte]) + b"b\xef\xbf\xbe</rss>" for byte in range(0x20)]
    for body in bodies:
        expected = body.translate(None, C0_BYTES)
        for sequence in NONCHARACTERS:
            expected = expected.replace(sequence, b"")
        assert _without_forbidden(body) == expected


# -- tracking pictures: an ASCII URL lowercased, the pattern without IGNORECASE


IMAGE_URLS = ["https://a.example/pixel.gif", "https://a.example/PIXEL.GIF?x=1", "http://a/B.GIF",
              "https://a/img/Spacer.Png#k", "https://a/~R/feed/", "https://a/WF/OPEN?x", "http://a/TR?",
              "https://a/1X1.jpeg", "https://a/pixels/1.jpg", "https://a/trackingx", "https://a/tr/",
              "https://a/Transparent.gif", "https://a/caf\u00e9/pixel.gif", "https://a/\u017fpacer",
              "https://a/\u212a/beacon.png", "https://a/p.GIFX", "https://a/open.gif/x"]


def test_tracking_pictures_are_found_as_before(articles: list[Article]):
    urls = IMAGE_URLS + [a.image for a in articles if a.image] + [a.link for a in articles]
    urls += [url.upper() for url in urls]
    for url in urls:
        assert is_tracking_image(url) == (TRACKING_PATH.search(url) is not None or
                                          is_tracking_host(url)), url


def is_tracking_host(url: str) -> bool:
    host = url.split("/", 3)[2].lower() if url.count("/") >= 2 else ""
    host = host.rpartition("@")[2].partition(":")[0]
    return host.startswith(TRACKING_HOST_PREFIXES) or ("." + host).endswith(TRACKING_HOSTS)
