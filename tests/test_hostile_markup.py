"""Markup a broken or hostile feed may hold: runs of "<" that no ">" closes.

Every regex that reads whole tags (`<name …>`, up to the first ">") stops at the
last ">" of its text (`digest.text.tags_end`): no such tag can end after it, and
looked for there, each "<" would send the engine to the end of the text and back,
so a 10 MiB feed of `<a href=x ` took hours. These tests check that the patterns
find exactly what they found over the whole text, on random markup and on the
feedparser corpus, and that the shapes which were quadratic are read to the end.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Iterator

import pytest
from support.project import CORPUS

from digest.sources.normalise import (
    LOOKS_LIKE_HTML,
    LOOKS_LIKE_HTML_NOT_TAG,
    TAG_BYTES,
    word_count,
)
from digest.sources.paging import LINK_TAG
from digest.sources.parse import FFP_TAG, parse_feed
from digest.sources.prescan import MEDIA_HOLDER, SCAN, Scanned, _in_media, scan
from digest.text import DEPTH_BUDGET, IMG_TAG, clean_html, plain_text, tags_end, too_deep

PIECES = ["<", ">", "/>", " ", "x", "words here", '"', "'", "=", "<img ", "<img src=a.jpg",
          "<a href=x ", "<p>", "</p>", "<title", "<title>", "</title>", "<item>", "</item>",
          "<media:content ", "<media:title>", "</media:content>", "<media:group/>",
          "<link ", "<atom:link rel=next href=y ", "<![CDATA[", "]]>", "<!--", "-->",
          "&amp;", "&#8211;", "<!doctype", "<dc:creator>", "<pubDate>", "<guid "]


def random_markup(seed: int, pieces: int) -> str:
    chooser = random.Random(seed)
    return "".join(chooser.choice(PIECES) for _ in range(pieces))


def samples() -> Iterator[str]:
    for seed in range(600):
        yield random_markup(seed, 1 + seed % 40)


def corpus_texts(limit: int = 400) -> Iterator[bytes]:
    if not CORPUS.is_dir():
        return
    files = sorted(p for p in CORPUS.rglob("*.xml") if p.is_file())
    for path in files[::max(1, len(files) // limit)]:
        yield path.read_bytes()


def spans(pattern: re.Pattern, text, *bounds: int) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    return [(m.span(), m.groups()) for m in pattern.finditer(text, *bounds)]


@pytest.mark.parametrize("pattern", [TAG_BYTES, LINK_TAG, MEDIA_HOLDER],
                         ids=["tag", "link", "media-holder"])
def test_a_bytes_tag_pattern_finds_the_same_up_to_the_last_close(pattern: re.Pattern[bytes]):
    texts = [s.encode() for s in samples()] + list(corpus_texts())
    assert any(t.count(b"<") > t[tags_end(t):].count(b"<") > 0 for t in texts)
    for text in texts:
        assert spans(pattern, text, 0, tags_end(text)) == spans(pattern, text), text[:200]


@pytest.mark.parametrize("pattern", [IMG_TAG, FFP_TAG], ids=["img", "ffp-tag"])
def test_a_text_tag_pattern_finds_the_same_up_to_the_last_close(pattern: re.Pattern[str]):
    for text in samples():
        assert spans(pattern, text, 0, tags_end(text)) == spans(pattern, text), text


def test_the_scan_stops_at_the_last_close_and_only_unclosed_sections_lie_past_it():
    for text in [s.encode() for s in samples()] + list(corpus_texts()):
        whole, cut = spans(SCAN, text), spans(SCAN, text, 0, tags_end(text))
        assert whole[:len(cut)] == cut
        # What only the whole text finds: a CDATA section or comment never closed
        # (group 1), which `scan` looks for past the last ">" by itself.
        assert all(groups[0] is not None for _, groups in whole[len(cut):])
        if len(whole) > len(cut):
            assert scan(text) is None


def test_a_title_looks_like_html_as_it_did_over_the_whole_text():
    for text in samples():
        end = tags_end(text)
        assert (LOOKS_LIKE_HTML.search(text, 0, end) is not None
                or LOOKS_LIKE_HTML_NOT_TAG.search(text) is not None) == \
            (LOOKS_LIKE_HTML.search(text) is not None), text


def test_captions_are_counted_on_from_the_last_one_as_from_the_entry_start():
    """`_in_media` keeps its count between the captions of one entry: the same answer
    as counting the media:content and media:group open from the entry's start."""
    for seed in range(400):
        text = random_markup(seed, 60).encode()
        start = seed % 7
        current = Scanned()
        for found in re.finditer(rb"<", text):
            at = found.start()
            if at < start:
                continue
            depth = sum(0 if empty else (-1 if closing else 1)
                        for closing, empty in MEDIA_HOLDER.findall(text[start:at]))
            assert _in_media(current, text, start, at) == (depth > 0), (text, at)


def test_word_count_is_unchanged_by_text_after_the_last_tag():
    assert word_count("<p>one two</p> three <b four") == 5
    assert word_count("<<<< a < b") == 4
    assert word_count("<p>one</p><p>two</p>" + "<" * 10) == 3


def test_markup_too_deep_to_parse_is_kept_as_its_text():
    deep = "<div>" * 40_000 + "Budget <b>passed</b> &amp; signed"
    assert too_deep(deep)
    assert clean_html(deep, "https://news.example.org/") == \
        "<p>Budget passed &amp; signed</p>"
    assert plain_text("<span>" * 40_000 + "A &lt;title&gt;") == "A <title>"
    # As deep once, then closed: html5ever still walks them all for each later tag.
    assert too_deep("<div>" * 2_000 + "</div>" * 2_000 + "<div>x</div>" * 20_000)


def test_long_ordinary_markup_is_sanitised_as_always():
    """Thousands of paragraphs, list items, table cells and images, none left open for
    long: far from the budget, whatever their number."""
    article = ("<p>Text <a href='/a'>link</a> <img src='/i.jpg'><br>more</p><ul>"
               + "<li>item" * 20 + "</ul><table><tr><td>1<td>2</table>") * 400
    assert article.count("<") ** 2 > DEPTH_BUDGET and not too_deep(article)  # counted
    cleaned = clean_html(article, "https://news.example.org/")
    assert cleaned.count('<a href="https://news.example.org/a"') == 400
    assert cleaned.count("<li>") == 8_000


def hostile(shape: str, size: int) -> bytes:
    head = (b'<?xml version="1.0"?><rss version="2.0" '
            b'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            b'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>x</title>'
            b'<link>https://news.example.org/</link>')

    def item(content: bytes = b"x", title: bytes = b"T", extra: bytes = b"",
             description: bytes = b"<description>short</description>") -> bytes:
        return (b"<item><title>" + title + b"</title><link>https://news.example.org/a</link>"
                + description + extra
                + b"<content:encoded><![CDATA[" + content + b"]]></content:encoded></item>"
                + b"</channel></rss>")

    def run(unit: bytes) -> bytes:
        return unit * (size // len(unit))

    return {
        "open-tags": lambda: head + b"<item>" + run(b"<title "),
        "links": lambda: head + run(b"<link "),
        "captions": lambda: head + item(extra=b'<media:content url="https://e.org/i.jpg">'
                                        + run(b"<media:title>c</media:title>")
                                        + b"</media:content>"),
        "content-lt": lambda: head + item(content=run(b"<")),
        "content-img": lambda: head + item(content=run(b"<img ")),
        "content-a": lambda: head + item(content=run(b"<a href=x ")),
        "title": lambda: head + item(title=run(b"&lt;b ")),
        # Content alone (no description), so it is sanitised: nested <div>, and <div>
        # pairs under a few hundred open ones (html5ever walks them for each).
        "deep-divs": lambda: head + item(content=run(b"<div>"), description=b""),
        "wide-divs": lambda: head + item(content=b"<div>" * 500 + run(b"<div>x</div>"),
                                         description=b""),
    }[shape]()


class Hung(Exception):
    pass


ALARM = 30  # seconds


@pytest.mark.parametrize("shape", ["open-tags", "links", "captions", "content-lt",
                                   "content-img", "content-a", "title", "deep-divs",
                                   "wide-divs"])
def test_a_hostile_document_is_read_to_the_end(shape: str):
    """1 MiB of each shape that was quadratic (40 s to a quarter of an hour each): read,
    or refused as unreadable, instead of holding the run (bench/hostile.py measures how
    fast). The alarm only stops a hang: ten times what the reading takes here."""
    document = hostile(shape, 1024 * 1024)

    def hung(signum: int, frame: object) -> None:
        raise Hung(f"{shape}: still parsing after {ALARM} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(ALARM)
    try:
        parsed = parse_feed(document, "https://news.example.org/feed/")
    except Hung:
        raise
    except Exception as exc:  # an unreadable document is an error, said: not a hang
        assert "not a readable feed" in str(exc), exc
    else:
        assert len(parsed.articles) <= 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

