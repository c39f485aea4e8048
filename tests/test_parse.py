"""Every feed format in, one normalised Article out: text, HTML, dates, images, safety."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from markup import same_html
from support.project import CORPUS, DATA, write_config
from support.servers import FeedServer, Route

from digest.config import load_config
from digest.errors import FeedParseError
from digest.models import Article
from digest.sources import parse
from digest.sources.gather import gather
from digest.sources.normalise import canonical_link
from digest.sources.parse import parse_feed
from digest.sources.parse_pool import MIN_FEEDS, ParsePool, usable_cores
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
URL = "https://news.example.org/feed/"
AZ_TITLE = "Gəncədə günəş elektrik stansiyası açıldı"
AZ_TEXT = "Şəhərin ətrafında quraşdırılan panellər ölkənin ğ, ı, ö, ü, ç hərflərini sınayır."
RU_TITLE = "Новости экономики: рубль и манат"
RU_TEXT = "Центральный банк сохранил ставку. Ещё одна фраза с буквами ё и щ."

FORMATS = {
    "rss090": """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>Aze News</title><link>https://news.example.org/</link>
<description>d</description></channel>
<item><title>Budget passes</title><link>https://news.example.org/budget/</link></item>
</rdf:RDF>""",
    "rss091": """<?xml version="1.0"?><rss version="0.91"><channel><title>Aze News</title>
<link>https://news.example.org/</link><description>d</description><language>en</language>
<item><title>Budget passes</title><link>https://news.example.org/budget/</link>
<description>The parliament voted.</description></item></channel></rss>""",
    "rss092": """<?xml version="1.0"?><rss version="0.92"><channel><title>Aze News</title>
<link>https://news.example.org/</link><description>d</description>
<item><title>Budget passes</title><link>https://news.example.org/budget/</link>
<description>The parliament voted.</description></item></channel></rss>""",
    "rss10": """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example.org/"><title>Aze News</title>
<link>https://news.example.org/</link><description>d</description></channel>
<item rdf:about="https://news.example.org/budget/"><title>Budget passes</title>
<link>https://news.example.org/budget/</link><description>The parliament voted.</description>
<dc:creator>Leyla Mammadova</dc:creator><dc:date>2026-11-25T08:00:00+04:00</dc:date></item>
</rdf:RDF>""",
    "rss20": """<?xml version="1.0"?><rss version="2.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Aze News</title>
<link>https://news.example.org/</link><description>d</description>
<item><title>Budget passes</title><link>https://news.example.org/budget/</link>
<guid isPermaLink="false">https://news.example.org/?p=1</guid>
<description>The parliament voted.</description><dc:creator>Leyla Mammadova</dc:creator>
<pubDate>Wed, 25 Nov 2026 08:00:00 +0400</pubDate></item></channel></rss>""",
    "atom03": """<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title>Aze News</title><link rel="alternate" type="text/html" href="https://news.example.org/"/>
<modified>2026-11-25T04:00:00Z</modified>
<entry><title>Budget passes</title>
<link rel="alternate" type="text/html" href="https://news.example.org/budget/"/>
<id>tag:news.example.org,2026:1</id><issued>2026-11-25T04:00:00Z</issued>
<modified>2026-11-25T04:00:00Z</modified><author><name>Leyla Mammadova</name></author>
<summary>The parliament voted.</summary></entry></feed>""",
    "atom10": """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Aze News</title><link href="https://news.example.org/"/><id>urn:aze</id>
<updated>2026-11-25T04:00:00Z</updated>
<entry><title type="html">Budget &lt;em&gt;passes&lt;/em&gt;</title>
<link href="https://news.example.org/budget/"/><id>tag:news.example.org,2026:1</id>
<published>2026-11-25T08:00:00+04:00</published><updated>2026-11-25T09:00:00+04:00</updated>
<author><name>Leyla Mammadova</name></author><summary>The parliament voted.</summary></entry>
</feed>""",
}


def one(body: bytes | str, **kwargs: str) -> Article:
    data = body.encode("utf-8") if isinstance(body, str) else body
    parsed = parse_feed(data, URL, now=NOW, **kwargs)
    assert len(parsed.articles) == 1, parsed
    return parsed.articles[0]


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_every_xml_format_is_read(kind: str):
    parsed = parse_feed(FORMATS[kind].encode(), URL, now=NOW)
    assert parsed.title == "Aze News"
    [article] = parsed.articles
    assert article.title == "Budget passes"
    assert article.link == "https://news.example.org/budget/"
    assert article.feed_url == URL
    if kind not in ("rss090", "rss091", "rss092"):  # those versions have no dates
        assert article.published == dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
    if kind not in ("rss090", "rss091", "rss092", "rss20"):
        assert article.author == "Leyla Mammadova"
    if kind != "rss090":
        assert article.excerpt == "The parliament voted."


JSON_ITEM = {
    "id": 17, "url": "https://news.example.org/budget/?utm_source=jsonfeed",
    "title": "Budget <passes> & more",
    "content_html": "<p>The parliament <b>voted</b>.</p><script>alert(1)</script>"
                    "<img src=\"/img/vote.jpg\" onerror=\"alert(2)\">",
    "summary": "Short & plain.",
    "date_published": "2026-11-25T08:00:00+04:00",
}


def test_json_feed_1_1():
    item = {**JSON_ITEM, "authors": [{"name": "Leyla Mammadova"}, {"name": "Rashad Aliyev"}]}
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Aze News",
           "home_page_url": "https://news.example.org/", "items": [item]}
    parsed = parse_feed(json.dumps(doc).encode(), URL, now=NOW)
    assert (parsed.title, parsed.link) == ("Aze News", "https://news.example.org/")
    [a] = parsed.articles
    assert a.key == "17"
    assert a.title == "Budget <passes> & more"  # JSON Feed titles are plain text
    assert a.link == "https://news.example.org/budget/"
    assert a.author == "Leyla Mammadova, Rashad Aliyev"
    assert a.published == dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
    assert same_html(a.summary_html, "<p>Short &amp; plain.</p>")
    assert a.image == "https://news.example.org/img/vote.jpg"
    assert a.excerpt == "Short & plain."


def test_json_feed_1_0_with_text_content_and_attachment_image():
    item = {"id": "a-1", "url": "https://news.example.org/a/", "title": "A",
            "content_text": "First paragraph.\n\nSecond <b>not bold</b>.",
            "date_modified": "2026-11-25T04:00:00Z", "author": {"name": "Aysel"},
            "attachments": [{"url": "https://cdn.example.org/a.mp3", "mime_type": "audio/mpeg"},
                            {"url": "https://cdn.example.org/a.jpg", "mime_type": "image/jpeg"}]}
    doc = {"version": "https://jsonfeed.org/version/1", "title": "T", "items": [item]}
    a = one(json.dumps(doc))
    assert same_html(a.summary_html,
                     "<p>First paragraph.</p><p>Second &lt;b&gt;not bold&lt;/b&gt;.</p>")
    assert (a.author, a.image) == ("Aysel", "https://cdn.example.org/a.jpg")
    assert a.published == dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"items": [}', "not valid JSON"),
    (b'{"title": "x"}', "not a JSON Feed"),
    (b'["a"]', "not a readable feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "without an \"items\""),
])
def test_json_that_is_not_a_json_feed_is_a_clear_error(body: bytes, message: str):
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, URL, now=NOW)


RSS_ITEM = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:media="http://search.yahoo.com/mrss/"><channel><title>{channel}</title>
<link>https://news.example.org/</link><description>d</description>
<item>{item}</item></channel></rss>"""


def rss_item(item: str, channel: str = "Aze News", encoding: str = "utf-8") -> str:
    return RSS_ITEM.format(item=item, channel=channel, encoding=encoding)


def test_normalisation_of_an_rss_item():
    a = one(rss_item("""
<title>Mugham festival &lt;returns&gt; &amp; more</title>
<link>/2026/11/mugham/?utm_source=rss&amp;utm_medium=feed&amp;id=7&amp;fbclid=x#comments</link>
<description><![CDATA[<p onclick="evil()">Short <a href="javascript:alert(1)">link</a>
 and <a href="/about/">about</a> &hellip; […]</p>]]></description>
<content:encoded><![CDATA[<p>""" + "word " * 450 + """</p>
<iframe src="https://evil.example/"></iframe><img src="/img/first.jpg" alt="x">]]>
</content:encoded>
<pubDate>Tue, 24 Nov 2026 23:30:00 -0500</pubDate>"""))
    assert a.title == "Mugham festival <returns> & more"
    assert a.link == "https://news.example.org/2026/11/mugham/?id=7"
    assert a.key == "https://news.example.org/2026/11/mugham/?id=7"  # no guid: the link
    assert "onclick" not in a.summary_html and "javascript" not in a.summary_html
    assert '<a href="https://news.example.org/about/" rel="noopener noreferrer">about</a>' \
        in a.summary_html
    assert a.excerpt == "Short link and about …"
    assert a.published == dt.datetime(2026, 11, 25, 4, 30, tzinfo=dt.UTC)
    assert a.published.tzinfo == dt.UTC
    assert a.reading_minutes == 3  # 450 words of content at 200 a minute
    assert a.image == "https://news.example.org/img/first.jpg"


def test_atom_text_content_is_escaped_not_interpreted():
    a = one("""<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><id>1</id>
<title>t</title><link href="https://news.example.org/1"/>
<content type="text">a &lt;b&gt; c

second</content></entry></feed>""")
    assert same_html(a.summary_html, "<p>a &lt;b&gt; c</p><p>second</p>")
    assert a.excerpt == "a <b> c second"


@pytest.mark.parametrize("fragment", [
    '<blockquote cite="javascript:alert(1)">q</blockquote>',
    '<a href=" JaVaScRiPt:alert(1)">a</a>', '<img src="data:image/png;base64,AAAA">',
    '<a href="vbscript:x">a</a>', '<p style="background:url(javascript:x)">p</p>',
    '<svg onload="alert(1)"><a xlink:href="javascript:x">s</a></svg>',
])
def test_no_script_urls_or_handlers_survive(fragment: str):
    a = one(rss_item(f"<title>T</title><link>https://news.example.org/t/</link>"
                     f"<description><![CDATA[<p>keep</p>{fragment}]]></description>"))
    lowered = a.summary_html.lower()
    assert "<p>keep</p>" in lowered
    for bad in ("javascript", "vbscript", "data:", "style=", "onload", "cite="):
        assert bad not in lowered, a.summary_html


def test_html_in_titles_becomes_text():
    a = one(rss_item("<title>&lt;b&gt;Breaking:&lt;/b&gt; AT&amp;T &amp;amp; &lt;i&gt;Azercell"
                     "&lt;/i&gt;</title><link>https://news.example.org/x/</link>"))
    assert a.title == "Breaking: AT&T & Azercell"


@pytest.mark.parametrize(("item", "image"), [
    ('<enclosure url="https://cdn.example.org/e.jpg" type="image/jpeg" length="9"/>',
     "https://cdn.example.org/e.jpg"),
    ('<media:content url="https://cdn.example.org/m.jpg" medium="image"/>',
     "https://cdn.example.org/m.jpg"),
    ('<media:thumbnail url="https://cdn.example.org/t.jpg"/>', "https://cdn.example.org/t.jpg"),
    ('<enclosure url="https://cdn.example.org/a.mp3" type="audio/mpeg" length="9"/>', None),
    ('<media:content url="javascript:alert(1)" medium="image"/>', None),
])
def test_image_sources(item: str, image: str | None):
    a = one(rss_item(f"<title>T</title><link>https://news.example.org/t/</link>{item}"))
    assert a.image == image


def test_no_date_means_first_seen_in_the_store(tmp_path: Path):
    a = one(rss_item("<title>Undated</title><link>https://news.example.org/u/</link>"))
    assert a.published is None
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([a], "news", NOW)
        [stored] = store.candidate_articles(NOW - dt.timedelta(hours=1), NOW, "2026-11-25")
    assert stored.when == NOW and stored.when.tzinfo is not None


def test_dates_in_the_future_are_capped_at_now():
    a = one(rss_item("<title>T</title><link>https://news.example.org/t/</link>"
                     "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>"))
    assert a.published == NOW


def test_xml_forbidden_characters_are_removed():
    a = one(rss_item("<title>Bad\u000b char\ufffe here</title>"
                     "<link>https://news.example.org/t/</link>"
                     "<description>&lt;p&gt;ok\u0008 text&lt;/p&gt;</description>"))
    assert a.title == "Bad char here"
    assert same_html(a.summary_html, "<p>ok text</p>")


def test_canonical_link_removes_tracking_only():
    assert canonical_link("https://a.org/x?utm_campaign=y&page=2&gclid=1&mc_eid=2#top") == \
        "https://a.org/x?page=2"
    assert canonical_link("https://a.org") == "https://a.org/"


# -- encodings -------------------------------------------------------------------------

def cyrillic_feed(declaration: str | None) -> bytes:
    prolog = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    text = (f"{prolog}<rss version=\"2.0\"><channel><title>{RU_TITLE}</title>"
            "<link>https://news.example.org/</link><description>d</description>"
            f"<item><title>{RU_TITLE}</title><link>https://news.example.org/ru/</link>"
            f"<description>{RU_TEXT}</description></item></channel></rss>")
    return text.encode("cp1251")


@pytest.mark.parametrize(("declaration", "content_type"), [
    ("windows-1251", None),                               # declared right
    (None, "application/rss+xml; charset=windows-1251"),  # declared in HTTP only
    (None, None),                                         # not declared at all
    ("utf-8", None),                                      # declared wrong
    ("utf-8", "text/xml; charset=utf-8"),                 # declared wrong twice
])
def test_cyrillic_windows_1251(declaration: str | None, content_type: str | None):
    body = cyrillic_feed(declaration)
    parsed = parse_feed(body, URL, now=NOW, content_type=content_type)
    assert parsed.title == RU_TITLE
    [a] = parsed.articles
    assert (a.title, a.excerpt) == (RU_TITLE, RU_TEXT)


@pytest.mark.parametrize(("declaration", "content_type"), [
    ("utf-8", None),
    (None, None),
    ("windows-1251", None),                        # declared wrong: the bytes are UTF-8
    ("iso-8859-1", "text/xml; charset=iso-8859-1"),
])
def test_azerbaijani_utf8(declaration: str | None, content_type: str | None):
    prolog = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    body = (f"{prolog}<rss version=\"2.0\"><channel><title>Xəbərlər</title>"
            "<link>https://news.example.org/</link><description>d</description>"
            f"<item><title>{AZ_TITLE}</title><link>https://news.example.org/az/</link>"
            f"<description>{AZ_TEXT}</description></item></channel></rss>").encode()
    parsed = parse_feed(body, URL, now=NOW, content_type=content_type)
    assert parsed.title == "Xəbərlər"
    [a] = parsed.articles
    assert (a.title, a.excerpt) == (AZ_TITLE, AZ_TEXT)


def test_utf16_with_bom_and_latin1_declared():
    text = rss_item(f"<title>{AZ_TITLE}</title><link>https://news.example.org/az/</link>",
                    encoding="utf-16")
    assert one(text.encode("utf-16")).title == AZ_TITLE
    latin = rss_item("<title>Café – “quoted”</title><link>https://news.example.org/c/</link>",
                     encoding="iso-8859-1").encode("cp1252")
    assert one(latin).title == "Café – “quoted”"  # latin-1 labels mean windows-1252


def test_encodings_through_http(tmp_path: Path, feed_server: FeedServer):
    feed_server.routes["/ru/"] = Route(
        200, {"Content-Type": "application/rss+xml; charset=windows-1251"}, cyrillic_feed(None))
    feed_server.routes["/ru-wrong/"] = Route(
        200, {"Content-Type": "application/rss+xml; charset=utf-8"},
        cyrillic_feed("utf-8").replace(b"/ru/", b"/ru2/"))
    urls = [feed_server.url("/ru/"), feed_server.url("/ru-wrong/")]
    config = load_config(write_config(tmp_path, [("news", "News", urls)], transport="file"))
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert report.new == 2
        titles = {a.title for a in store.candidate_articles(
            NOW - dt.timedelta(days=1), NOW, "2026-11-25")}
    assert titles == {RU_TITLE}


# -- safety ----------------------------------------------------------------------------

def test_xxe_is_not_resolved(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>
<rss version="2.0"><channel><title>t</title><link>https://news.example.org/</link>
<item><title>Leak &xxe;</title><link>https://news.example.org/x/</link>
<description>&xxe;</description></item></channel></rss>"""
    parsed = parse_feed(body.encode(), URL, now=NOW)
    for a in parsed.articles:
        assert "TOP-SECRET" not in repr(a)


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(entities)}]>'
            '<rss version="2.0"><channel><title>t</title><link>https://news.example.org/</link>'
            "<item><title>&lol9;</title><link>https://news.example.org/l/</link>"
            "<description>&lol9;</description></item></channel></rss>").encode()


def test_billion_laughs_does_not_expand():
    start = time.process_time()
    try:
        parsed = parse_feed(billion_laughs(), URL, now=NOW)
        sizes = [len(a.title) + len(a.summary_html) for a in parsed.articles] or [0]
    except FeedParseError:
        sizes = [0]
    assert max(sizes) < 10_000  # 3 GB if expanded
    assert time.process_time() - start < 5  # a guard against expansion, not a benchmark


@pytest.mark.parametrize("body", [
    b"", b"\x00\x01\x02binary\xff\xfe", b"<html><body><p>Not a feed</p></body></html>",
    b"plain text, not XML", b"<rss version=\"2.0\"><channel><title>cut off",
    b"\xef\xbb\xbf   ",
])
def test_non_feeds_are_a_clear_error(body: bytes):
    with pytest.raises(FeedParseError, match="not a readable feed"):
        parse_feed(body, URL, now=NOW)


def test_malformed_feed_still_yields_its_entries():
    body = rss_item("<title>Broken &nbsp; entity & bare ampersand</title>"
                    "<link>https://news.example.org/b/</link>")
    a = one(body)
    assert a.link == "https://news.example.org/b/"
    assert "Broken" in a.title


def test_feedparser_fallback_reads_what_fastfeedparser_refuses():
    # fastfeedparser raises on an RSS document whose channel element is missing;
    # feedparser still reads the item, so the fallback must be taken.
    body = (b'<?xml version="1.0"?><rss version="2.0"><item><title>Orphan</title>'
            b"<link>https://news.example.org/o/</link></item></rss>")
    assert parse._read_fast(body, "https://news.example.org/feed/") is None
    assert one(body).title == "Orphan"


def test_both_parsers_agree_on_the_sample_feeds(sample_copy: Path):
    for path in sorted((sample_copy / "feeds").glob("*.xml")):
        body = path.read_bytes()
        url = path.as_uri()
        fast = parse_feed(body, url, now=NOW)
        slow = parse._read_feedparser(body, url, NOW)
        assert fast.articles == slow.articles, path.name
        assert fast.articles


# -- worker processes ------------------------------------------------------------------

needs_cores = pytest.mark.skipif(usable_cores() < 2, reason="one core: no worker processes")


@needs_cores
def test_worker_processes_parse_as_this_process_does(sample_copy: Path):
    parser = ParsePool(MIN_FEEDS)
    try:
        assert parser.processes
        for path in sorted((sample_copy / "feeds").glob("*.xml")):
            body = path.read_bytes()
            assert parser.parse(body, path.as_uri(), None, NOW) == parse_feed(
                body, path.as_uri(), now=NOW)
        with pytest.raises(FeedParseError, match="not a readable feed"):
            parser.parse(b"<html>no</html>", URL, "text/html", NOW)
    finally:
        parser.close()


@needs_cores
def test_a_dead_worker_costs_nothing(sample_copy: Path):
    parser = ParsePool(MIN_FEEDS)
    try:
        body = (sample_copy / "feeds" / "news.xml").read_bytes()
        parser.parse(body, URL, None, NOW)  # starts the workers
        assert parser._pool is not None
        worker = parser._pool.submit(os.getpid).result()
        os.kill(worker, signal.SIGKILL)
        assert parser.parse(body, URL, None, NOW).articles  # parsed here instead
        assert not parser.processes
    finally:
        parser.close()


def test_few_feeds_are_parsed_in_this_process():
    parser = ParsePool(MIN_FEEDS - 1)
    assert not parser.processes
    parser.close()


def test_wordpress_feeds_take_the_fast_reader_and_odd_ones_feedparser():
    """fastfeedparser reads what it reads as feedparser does; the rest goes to feedparser
    (its reading is checked against feedparser's in tests/test_differential.py)."""
    url = "https://news.example.org/feed/"
    cases = Path(__file__).resolve().parent / "data" / "parse"
    for name in ("wordpress-captions", "wordpress-authors", "pictures", "dates-rss"):
        assert parse._read_fast((cases / f"{name}.xml").read_bytes(), url) is not None, name
    for name in ("xml-base", "titles-atom", "titles-rss", "media-text", "authors-rss",
                 "authors-atom", "dates-atom03"):
        assert parse._read_fast((cases / f"{name}.xml").read_bytes(), url) is None, name


def test_canonical_link_keeps_the_other_parameters_byte_for_byte():
    assert canonical_link("https://a.org/x?q=a%20b&utm_source=rss&utm_medium=rss") == \
        "https://a.org/x?q=a%20b"
    assert canonical_link("https://a.org/x?utm_source=rss&utm_medium=rss") == "https://a.org/x"
    assert canonical_link("HTTPS://a.org/x?s=%C3%BC&fbclid=1#c") == "https://a.org/x?s=%C3%BC"


def test_an_item_linking_to_the_home_page_has_no_canonical_link():
    feed = parse_feed(rss_item("<title>Notice</title><link>https://news.example.org/</link>"
                               "<guid isPermaLink='false'>n-1</guid>").encode(),
                      "https://news.example.org/feed/", now=NOW)
    [notice] = feed.articles
    assert notice.link == "https://news.example.org/" and notice.canonical is None
    story = one(rss_item("<title>T</title><link>https://news.example.org/t/?utm_source=x"
                         "</link>"))
    assert story.canonical == "https://news.example.org/t/"


# A tracking parameter's name as the server reads it: percent-decoded (once).
ENCODED_TRACKING = [
    ("https://site/a/?%75tm_source=x&id=3", "https://site/a/?id=3"),
    ("https://site/a/?id=3&%75%74%6D_medium=rss&q=a%20b", "https://site/a/?id=3&q=a%20b"),
    ("https://site/a/?%55TM_CAMPAIGN=y", "https://site/a/"),
    ("https://site/a/?%66bclid=1&p=%C3%BC#top", "https://site/a/?p=%C3%BC"),
    ("https://site/a/?g%63lid=1&page=2", "https://site/a/?page=2"),
    ("https://site/a/?mc%5Feid=9", "https://site/a/"),
    ("https://site/a b/?%75tm_source=x&id=3", "https://site/a b/?id=3"),  # the slow path
    # Not tracking parameters: kept byte for byte.
    ("https://site/a/?q=%75tm_source&x=1", "https://site/a/?q=%75tm_source&x=1"),  # a value
    ("https://site/a/?%2575tm_source=x", "https://site/a/?%2575tm_source=x"),  # decoded once
    ("https://site/a/?utm_source%0A=x&id=3", "https://site/a/?utm_source%0A=x&id=3"),
    ("https://site/a/?%75tm=1&%E2%9C%93=%20", "https://site/a/?%75tm=1&%E2%9C%93=%20"),
]


@pytest.mark.parametrize(("link", "canonical"), ENCODED_TRACKING)
def test_a_percent_encoded_tracking_parameter_is_dropped(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical


def corpus_links() -> list[str]:
    """Every absolute http(s) link written in the feedparser corpus and the test feeds."""
    found: set[str] = set()
    for folder in (CORPUS, DATA):
        for path in folder.rglob("*"):
            if path.suffix in (".xml", ".rss", ".atom", ".rdf", ".json") and path.is_file():
                text = path.read_bytes().decode("utf-8", "replace")
                found.update(re.findall(r"https?://[^\s\"'<>]+", text))
    return sorted(found)


def test_the_corpus_links_keep_every_other_parameter_byte_for_byte() -> None:
    links = corpus_links()
    # With each link, the same link carrying encoded and plain tracking parameters.
    assert len(links) > 300
    for link in links:
        link = link.split("#", 1)[0]
        base, _, query = link.partition("?")
        pairs = [p for p in query.split("&") if p]
        for extra in ("%75tm_source=feed", "utm_medium=rss", "%66%62clid=1"):
            tracked = f"{base}?{'&'.join([extra, *pairs])}"
            kept = canonical_link(link)
            assert canonical_link(tracked) == kept, (link, tracked)
        kept_pairs = kept.partition("?")[2]
        assert all(p in pairs for p in kept_pairs.split("&") if p), link
