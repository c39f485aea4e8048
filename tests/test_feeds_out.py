"""The feeds the digest publishes, checked through the real pipeline: feeds served over
HTTP -> `digest fetch` -> `digest build` for several dates -> files in the output folder."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import json
import os
import zoneinfo
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import CliRunner
from feeds import Item, rss
from lxml import etree
from published import (
    ATOM,
    XML_FORBIDDEN,
    check_atom,
    check_feed_folder,
    check_json_feed,
    check_rss,
    check_safe_html,
    no_bozo,
)
from support.project import write_config
from support.servers import FeedServer, Route

from digest.cli import cli

BAKU = zoneinfo.ZoneInfo("Asia/Baku")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.astimezone(BAKU).date()
PUBLIC = "https://news.example.org/digest/"
DAYS = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1), TODAY]


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def late_on(day: dt.date) -> dt.datetime:
    """Two hours before the end of a local day; for today, a moment that has passed."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=BAKU)
    if day < TODAY:
        return end.astimezone(dt.UTC) - dt.timedelta(hours=2)
    start = dt.datetime.combine(day, dt.time(), tzinfo=BAKU).astimezone(dt.UTC)
    # Halfway between local midnight and now: today, whatever the time of day.
    return (start + (NOW - start) / 2).replace(microsecond=0)


def snapshot(output: Path) -> dict[str, bytes]:
    return {str(p.relative_to(output)): p.read_bytes()
            for p in sorted(output.rglob("*")) if p.is_file()}


@pytest.fixture
def news_site(feed_server: FeedServer) -> dict[str, list[Item]]:
    shared = Item(2001, "Caspian gas deal signed", late_on(DAYS[1]), author="Rashad Aliyev")
    feeds = {
        "news": [Item(1003, "Night trains return", late_on(DAYS[2])),
                 Item(1002, "Metro line opens", late_on(DAYS[1]), author=None),
                 Item(1001, "Parliament passes budget", late_on(DAYS[0])),
                 Item(1000, "Budget first reading", late_on(DAYS[0]) - dt.timedelta(hours=1))],
        "economy": [shared, Item(2002, "Manat steady against dollar", late_on(DAYS[0]))],
        "energy": [shared, Item(3001, "Solar park in Gəncə", late_on(DAYS[2]))],
    }
    for slug, items in feeds.items():
        feed_server.routes[f"/category/{slug}/feed/"] = Route(
            200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, rss(slug, items))
    return feeds


@pytest.fixture
def built(tmp_path: Path, feed_server: FeedServer, news_site: dict[str, list[Item]]) -> Path:
    """Three editions built one day after another; [feeds] keeps 2 editions, 3 articles."""
    categories = [(slug, slug.title(), [feed_server.url(f"/category/{slug}/feed/")])
                  for slug in ("news", "economy", "energy")]
    config = write_config(tmp_path, categories, transport="file",
                          extra="[feeds]\neditions = 2\narticles = 3")
    run(config, "fetch")
    for day in DAYS:
        run(config, "build", "--date", day.isoformat())
    return config


def test_digest_feeds_follow_the_profile_and_hold_the_newest_editions(built: Path):
    output = built.parent / "public"
    check_feed_folder(output, "", PUBLIC)
    channel = check_rss((output / "rss.xml").read_bytes(), PUBLIC + "rss.xml")
    items = channel.findall("item")
    # [feeds] editions = 2: the two newest of three editions, newest first.
    assert [i.findtext("guid") for i in items] == [
        f"{PUBLIC}editions/{DAYS[2]}.html", f"{PUBLIC}editions/{DAYS[1]}.html"]
    newest = items[0]
    assert newest.find("guid").get("isPermaLink") == "true"
    assert newest.findtext("link") == newest.findtext("guid")
    # The summary lists the titles; the content is the edition's web body.
    summary = lxml.html.fragment_fromstring(newest.findtext("description"), create_parent="div")
    assert [li.text_content() for li in summary.iter("li")] == [
        "Night trains return", "Solar park in Gəncə"]
    content = newest.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert "Night trains return" in content and "Solar park in Gəncə" in content
    assert "unsubscribe" not in content.lower()
    page = (output / "editions" / f"{DAYS[2]}.html").read_text(encoding="utf-8")
    body = lxml.html.fromstring(page).find_class("edition")[0]
    assert [h.text_content() for h in body.iter("h3")] == [
        h.text_content()
        for h in lxml.html.fragment_fromstring(content, create_parent="div").iter("h3")]

    feed = check_atom((output / "atom.xml").read_bytes(), PUBLIC + "atom.xml")
    entry = feed.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == f"{PUBLIC}editions/{DAYS[2]}.html"
    assert entry.find(f"{ATOM}link").get("href") == f"{PUBLIC}editions/{DAYS[2]}.html"

    jf = json.loads((output / "feed.json").read_bytes())
    assert [i["id"] for i in jf["items"]] == [i.findtext("guid") for i in items]
    assert jf["items"][0]["summary"].startswith("Night trains return")
    assert jf["items"][0]["date_published"].endswith("Z")


def test_category_feeds_carry_articles_with_author_image_and_categories(
        built: Path, feed_server: FeedServer):
    output = built.parent / "public"
    for slug in ("news", "economy", "energy"):
        check_feed_folder(output, f"categories/{slug}/", PUBLIC)
    news = check_rss((output / "categories/news/rss.xml").read_bytes(),
                     PUBLIC + "categories/news/rss.xml")
    # [feeds] articles = 3: the newest three of four.
    assert [i.findtext("title") for i in news.findall("item")] == [
        "Night trains return", "Metro line opens", "Parliament passes budget"]
    first = news.find("item")
    assert first.findtext("link") == "https://news.example.org/2026/11/story-1003/"
    assert first.find("guid").get("isPermaLink") == "false"
    assert first.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Leyla Mammadova"
    assert news.findall("item")[1].find("{http://purl.org/dc/elements/1.1/}creator") is None

    # An article in two categories keeps one id and lists both categories.
    economy = no_bozo((output / "categories/economy/rss.xml").read_bytes())
    energy = no_bozo((output / "categories/energy/rss.xml").read_bytes())
    [in_economy] = [e for e in economy.entries if e.title == "Caspian gas deal signed"]
    [in_energy] = [e for e in energy.entries if e.title == "Caspian gas deal signed"]
    assert in_economy.id == in_energy.id
    assert sorted(t.term for t in in_economy.tags) == ["Economy", "Energy"]
    assert in_economy.author == "Rashad Aliyev"
    assert in_economy.published_parsed[:5] == late_on(DAYS[1]).timetuple()[:5]


def test_images_become_enclosures_and_json_images(tmp_path: Path, feed_server: FeedServer):
    body = (b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            b'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>'
            b"<link>https://news.example.org/</link><description>d</description><item>"
            b"<title>Pictured</title><link>https://news.example.org/pictured/</link>"
            b"<guid>p-1</guid><pubDate>" + email_date(NOW - dt.timedelta(hours=2)) +
            b'</pubDate><media:content url="https://news.example.org/i/photo.png" '
            b'medium="image"/><description>Seen</description></item></channel></rss>')
    feed_server.routes["/pics/"] = Route(200, {"Content-Type": "application/rss+xml"}, body)
    config = write_config(tmp_path, [("news", "News", [feed_server.url("/pics/")])],
                          transport="file")
    run(config, "fetch")
    run(config, "build")
    output = tmp_path / "public"
    channel = check_rss((output / "categories/news/rss.xml").read_bytes(),
                        PUBLIC + "categories/news/rss.xml")
    enclosure = channel.find("item/enclosure")
    assert enclosure.attrib == {"url": "https://news.example.org/i/photo.png", "length": "0",
                                "type": "image/png"}
    atom = check_atom((output / "categories/news/atom.xml").read_bytes(),
                      PUBLIC + "categories/news/atom.xml")
    links = {link.get("rel"): link.attrib for link in atom.find(f"{ATOM}entry/{ATOM}link/..")
             .findall(f"{ATOM}link")}
    assert links["enclosure"]["type"] == "image/png"
    assert links["alternate"]["href"] == "https://news.example.org/pictured/"
    jf = check_json_feed((output / "categories/news/feed.json").read_bytes(),
                         PUBLIC + "categories/news/feed.json")
    assert jf["items"][0]["image"] == "https://news.example.org/i/photo.png"
    assert jf["items"][0]["id"].startswith("urn:uuid:")


def email_date(when: dt.datetime) -> bytes:
    from email.utils import format_datetime
    return format_datetime(when).encode()


def test_rebuilding_gives_identical_bytes_until_content_changes(
        built: Path, feed_server: FeedServer, news_site: dict[str, list[Item]]):
    output = built.parent / "public"
    before = snapshot(output)
    inodes = {name: (output / name).stat().st_ino for name in before}
    out = run(built, "build", "--date", TODAY.isoformat())
    assert "0 file(s) changed" in out
    assert snapshot(output) == before
    # Building every date again, with the clock later, changes nothing either.
    for day in DAYS:
        run(built, "build", "--date", day.isoformat())
    assert snapshot(output) == before

    # New content changes the files that show it, each replaced by a rename.
    items = [Item(1004, "Ferry timetable changes", NOW - dt.timedelta(minutes=30)),
             *news_site["news"]]
    feed_server.routes["/category/news/feed/"] = Route(
        200, {"Content-Type": "application/rss+xml"}, rss("news", items))
    run(built, "fetch")
    run(built, "build", "--date", TODAY.isoformat())
    after = snapshot(output)
    changed = {name for name in before if after[name] != before[name]}
    assert {"rss.xml", "atom.xml", "feed.json", "index.html", f"editions/{TODAY}.html",
            "categories/news/rss.xml"} <= changed
    assert "categories/economy/rss.xml" not in changed
    for name in changed:
        assert (output / name).stat().st_ino != inodes[name], f"{name} was written in place"
    for name in set(before) - changed:
        assert (output / name).stat().st_ino == inodes[name], f"{name} was rewritten"
    assert not [p for p in output.rglob("*.tmp")], "a temporary file was left behind"
    assert b"Ferry timetable changes" in after["rss.xml"]


def test_a_rebuilt_edition_is_dated_by_its_content(tmp_path: Path, feed_server: FeedServer):
    from digest.app.pipeline import build, fetch
    from digest.config import load_config
    from digest.store import Store

    day = dt.date(2026, 11, 20)
    morning = dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.UTC)  # 09:00 in Baku
    items = [Item(1, "Morning story", morning - dt.timedelta(hours=1))]
    feed_server.routes["/news/"] = Route(200, {}, rss("news", items))
    config = load_config(write_config(tmp_path, [("news", "News", [feed_server.url("/news/")])],
                                      transport="file"))
    with Store(config.state) as store:
        fetch(config, store, now=morning)
        build(config, store, day, now=morning + dt.timedelta(minutes=1))
        first = no_bozo((config.output / "atom.xml").read_bytes()).entries[0]
        assert first.updated_parsed[:6] == (2026, 11, 20, 5, 1, 0)
        assert first.published_parsed == first.updated_parsed

        items.insert(0, Item(2, "Noon story", morning + dt.timedelta(hours=3)))
        feed_server.routes["/news/"] = Route(200, {}, rss("news", items))
        noon = morning + dt.timedelta(hours=3, minutes=20)
        fetch(config, store, now=noon)
        build(config, store, day, now=noon + dt.timedelta(minutes=5))
        [entry] = no_bozo((config.output / "atom.xml").read_bytes()).entries
        assert entry.published_parsed[:6] == (2026, 11, 20, 5, 1, 0)
        assert entry.updated_parsed[:6] == noon.timetuple()[:6]  # when the new story came
        check_feed_folder(config.output, "", PUBLIC)
        rss_doc = etree.fromstring((config.output / "rss.xml").read_bytes())
        assert rss_doc.findtext("channel/lastBuildDate") == "Fri, 20 Nov 2026 08:20:00 +0000"


def test_an_empty_digest_publishes_valid_empty_feeds_and_pages(tmp_path: Path,
                                                               feed_server: FeedServer):
    old = NOW - dt.timedelta(days=30)
    feed_server.routes["/old/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                        rss("news", [Item(1, "Old", old)]))
    config = write_config(tmp_path, [("news", "News", [feed_server.url("/old/")]),
                                     ("sport", "Sport", [feed_server.url("/old/")])],
                          transport="file")
    run(config, "fetch")
    assert "no edition" in run(config, "build")
    output = tmp_path / "public"
    check_feed_folder(output, "", PUBLIC)
    check_feed_folder(output, "categories/news/", PUBLIC)
    assert no_bozo((output / "rss.xml").read_bytes()).entries == []
    # The category feed still carries the article: it is not tied to an edition.
    assert [e.title for e in no_bozo((output / "categories/sport/rss.xml").read_bytes())
            .entries] == ["Old"]
    assert "No editions yet." in (output / "index.html").read_text(encoding="utf-8")
    before = snapshot(output)
    run(config, "build")
    assert snapshot(output) == before


def test_files_no_longer_published_are_removed_and_others_kept(built: Path):
    output = built.parent / "public"
    (output / "robots.txt").write_text("User-agent: *\n", encoding="utf-8")
    (output / "editions" / "notes.txt").write_text("mine", encoding="utf-8")
    # An edition page the store no longer has (its edition was deleted).
    (output / "editions" / "2020-01-01.html").write_text("stale", encoding="utf-8")
    # The energy category leaves the config.
    text = built.read_text(encoding="utf-8")
    start = text.index('[[categories]]\nslug = "energy"')
    built.write_text(text[:start] + text[text.index("[email]"):], encoding="utf-8")
    run(built, "build", "--date", TODAY.isoformat())
    assert not (output / "categories" / "energy").exists()
    assert not (output / "editions" / "2020-01-01.html").exists()
    assert (output / "categories" / "news" / "rss.xml").is_file()
    assert (output / "robots.txt").is_file() and (output / "editions" / "notes.txt").is_file()
    assert all((output / "editions" / f"{day}.html").is_file() for day in DAYS)
    assert "categories/energy/" not in (output / "feeds.opml").read_text(encoding="utf-8")


def test_opml_lists_every_published_feed(built: Path):
    output = built.parent / "public"
    opml = etree.fromstring((output / "feeds.opml").read_bytes())
    assert opml.get("version") == "2.0" and opml.findtext("head/title")
    outlines = [o for o in opml.iter("outline") if o.get("xmlUrl")]
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    listed = [o.get("xmlUrl") for o in outlines]
    published = sorted(PUBLIC + str(p.relative_to(output)) for p in output.rglob("rss.xml"))
    assert sorted(listed) == published
    assert len(listed) == 4  # the digest and three categories
    for url in listed:
        assert (output / url.removeprefix(PUBLIC)).is_file()


HOSTILE_TITLES = [
    "Budget <script>alert('t1')</script>passes <b>today</b>",
    "Ends with ]]> and <![CDATA[ inside",
    "Double escaped &lt;script&gt;alert('t2')&lt;/script&gt;",
    "خبر عاجل: \u202eevil.txt\u202c — שלום עולם",
    "Emoji 🇦🇿 Baku 👩‍👩‍👧 🚀 night",
    "Control\x01chars\x08here\x0b and \ufffe",
]
HOSTILE_SUMMARY = (
    '<p onclick="steal()">Hi<script>alert("s1")</script>'
    '<img src="x.png" onerror="alert(\'s2\')"> <a href="javascript:alert(\'s3\')">js</a> '
    '<a href="/relative/path">rel</a> <iframe src="https://evil.example/"></iframe>'
    "<style>body{display:none}</style> ]]> <svg onload=alert('s4')></svg>"
    '<a href="data:text/html,<script>alert(1)</script>">data</a>'
    '<form action="https://evil.example/"><input name="q"></form>'
    "\x02 نص عربي 🧪</p>"
)


def hostile_feed() -> bytes:
    """An RSS document full of traps; the control characters make it ill-formed XML."""
    from xml.sax.saxutils import escape
    parts = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/" '
             'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Hostile</title>'
             "<link>https://news.example.org/</link><description>d</description>"]
    for n, title in enumerate(HOSTILE_TITLES):
        link = "/2026/11/relative-story/" if n == 1 else f"https://news.example.org/h/{n}/"
        image = "javascript:alert(9)" if n == 2 else "/img/relative.jpg"
        parts.append(
            f"<item><title>{escape(title)}</title><link>{link}</link><guid>hostile-{n}</guid>"
            f"<dc:creator>{escape('<img src=x onerror=alert(5)>Evil ]]> ' + title[:12])}"
            f"</dc:creator><pubDate>{email_date(NOW - dt.timedelta(hours=n + 1)).decode()}"
            f'</pubDate><media:content url="{image}" medium="image"/>'
            f"<description>{escape(HOSTILE_SUMMARY)}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def test_hostile_sources_cannot_break_or_poison_any_output(tmp_path: Path,
                                                           feed_server: FeedServer):
    feed_server.routes["/hostile/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                            hostile_feed())
    config = write_config(tmp_path, [("news", "News <b>&amp; views</b>",
                                      [feed_server.url("/hostile/")])], transport="file")
    run(config, "fetch")
    run(config, "build")
    output = tmp_path / "public"
    check_feed_folder(output, "", PUBLIC)
    check_feed_folder(output, "categories/news/", PUBLIC)

    titles = [e.title for e in no_bozo((output / "categories/news/rss.xml").read_bytes()).entries]
    assert len(titles) == len(HOSTILE_TITLES)
    joined = " ".join(titles)
    assert "]]>" in joined  # text survives as text
    assert "\u202eevil.txt\u202c" in joined and "שלום עולם" in joined
    assert "🇦🇿 Baku 👩‍👩‍👧 🚀" in joined
    assert "Controlcharshere and" in joined
    assert "Budget passes today" in joined
    for name in ("rss.xml", "atom.xml", "feed.json", "categories/news/rss.xml",
                 "categories/news/atom.xml", "categories/news/feed.json", "feeds.opml"):
        text = (output / name).read_text(encoding="utf-8")
        assert not XML_FORBIDDEN.search(text), name
        for parsed in feedparser.parse(text).entries:
            for field in ("title", "summary", "author"):
                kind = (parsed.get(f"{field}_detail") or {}).get("type", "text/html")
                if kind != "text/plain":  # text may say "<script>": it is not markup
                    assert "<script" not in parsed.get(field, "").lower(), (name, field)
            if "Double escaped" in parsed.get("title", ""):
                # Escaped twice at the source: the characters meant are shown as text.
                assert parsed.title == "Double escaped <script>alert('t2')</script>", name
                assert parsed.title_detail.type == "text/plain", name
            for content in parsed.get("content", []):
                check_safe_html(content.value, name)
    for path in output.rglob("*"):
        if path.is_file():
            lowered = path.read_text(encoding="utf-8").lower()
            # "alert('t2')" may stay: its title was escaped twice, so it is text.
            for trap in ("javascript:", "onerror", "onclick", "onload", 'href="/', 'src="/',
                         "<script", "alert('t1')", 'alert("s1")', "alert('s2')",
                         "alert('s3')", "alert('s4')", "alert(5)", "alert(9)"):
                assert trap not in lowered, (path, trap)
    etree.fromstring((output / "feeds.opml").read_bytes())
    # The web pages hold no script and show the hostile text as text.
    for page in [output / "index.html", output / "archive.html",
                 *(output / "editions").glob("*.html")]:
        root = lxml.html.parse(str(page)).getroot()
        assert not root.xpath("//script|//iframe|//svg|//form|//@onerror|//@onclick"), page
        assert not [h for h in root.xpath("//@href|//@src") if h.lower().startswith(
            ("javascript:", "data:"))], page
    index = lxml.html.parse(str(output / "index.html")).getroot()
    shown = [h.text_content() for h in index.iter("h3")]
    assert any("🇦🇿" in s for s in shown) and any("]]>" in s for s in shown)


def test_feeds_stay_under_the_size_readers_accept(tmp_path: Path, feed_server: FeedServer):
    from digest.render.feeds import MAX_FEED_BYTES
    big = "<p>" + " ".join(["lorem ipsum dolor sit amet"] * 2500) + "</p>"
    items = [Item(5000 + n, f"Long story {n}", NOW - dt.timedelta(hours=n + 1), excerpt=big)
             for n in range(12)]
    feed_server.routes["/big/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                        rss("news", items))
    config = write_config(tmp_path, [("news", "News", [feed_server.url("/big/")])],
                          transport="file")
    run(config, "fetch")
    run(config, "build")
    output = tmp_path / "public"
    entries = no_bozo((output / "categories/news/rss.xml").read_bytes()).entries
    assert 1 < len(entries) < len(items)  # the oldest left; the newest stayed
    assert entries[0].title == "Long story 0"
    for name in ("categories/news/rss.xml", "categories/news/atom.xml",
                 "categories/news/feed.json", "rss.xml", "atom.xml", "feed.json"):
        size = os.path.getsize(output / name)
        assert size <= MAX_FEED_BYTES or len(feedparser.parse(
            (output / name).read_bytes()).entries) == 1, (name, size)


def test_feed_sizes_are_checked_in_the_config(tmp_path: Path):
    from digest.config import load_config
    from digest.errors import ConfigError

    path = write_config(tmp_path, [("news", "News", ["https://news.example.org/feed/"])],
                        extra="[feeds]\narticles = 0")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "articles" in str(caught.value) and "[feeds]" in str(caught.value)
    path = write_config(tmp_path, [("news", "News", ["https://news.example.org/feed/"])])
    assert load_config(path).feed_articles == 50


def test_a_title_is_published_with_every_character_it_meant(tmp_path: Path,
                                                            feed_server: FeedServer):
    # Escaped in the source, stored as text: "<int>" is part of the title, not a tag.
    title = "Why vector<int> is slow & what to do"
    feed_server.routes["/news/"] = Route(200, {"Content-Type": "application/rss+xml"}, rss(
        "news", [Item(7001, title, NOW - dt.timedelta(hours=1))]))
    config = write_config(tmp_path, [("news", "News", [feed_server.url("/news/")])],
                          transport="file")
    run(config, "subscribers", "add", "reader@example.org")
    run(config, "send")
    run(config, "build")
    output = tmp_path / "public"
    index = lxml.html.parse(str(output / "index.html")).getroot()
    assert title in [h.text_content().strip() for h in index.iter("h3")]
    for name in ("categories/news/rss.xml", "categories/news/atom.xml"):
        [entry] = no_bozo((output / name).read_bytes()).entries
        assert entry.title == title, name
    for name in ("rss.xml", "atom.xml"):  # an edition's entry lists its titles in HTML
        [entry] = no_bozo((output / name).read_bytes()).entries
        assert title in lxml.html.fromstring(entry.summary).text_content(), name
    [item] = json.loads((output / "categories/news/feed.json").read_bytes())["items"]
    assert item["title"] == title
    [eml] = (tmp_path / "outbox").rglob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    text = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text is not None and html_part is not None
    assert title in text.get_content()
    assert title in lxml.html.fromstring(html_part.get_content()).text_content()
