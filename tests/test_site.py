"""The web archive: pages built by the real pipeline, read from file://, from a static
HTTP host under a sub-path, and by headless Chromium."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
import requests
from lxml import etree
from published import check_page_links
from support.servers import FeedServer, Route
from test_feeds_out import DAYS, PUBLIC, built, news_site  # noqa: F401  (fixtures)

CHROMIUM = "/usr/bin/chromium"


def pages(output: Path) -> list[Path]:
    return sorted(output.rglob("*.html"))


def test_every_link_between_pages_resolves_from_file(built: Path):  # noqa: F811
    output = built.parent / "public"
    names = {str(p.relative_to(output)) for p in pages(output)}
    assert names == {"index.html", "archive.html",
                     *(f"editions/{day}.html" for day in DAYS)}
    reached: set[str] = set()
    for page in pages(output):
        reached.update(check_page_links(page, output))
    # Together the pages reach every page and every published feed.
    published = {str(p.relative_to(output)) for p in output.rglob("*") if p.is_file()}
    assert published <= reached, published - reached


def test_every_page_links_its_feeds_and_canonical_url(built: Path):  # noqa: F811
    output = built.parent / "public"
    for page in pages(output):
        root = lxml.html.parse(str(page)).getroot()
        alternates = {(link.get("type"), link.get("href"))
                      for link in root.xpath("//head/link[@rel='alternate']")}
        prefix = "../" if page.parent.name == "editions" else ""
        assert {("application/rss+xml", prefix + "rss.xml"),
                ("application/atom+xml", prefix + "atom.xml"),
                ("application/feed+json", prefix + "feed.json"),
                ("application/rss+xml", prefix + "categories/news/rss.xml")} <= alternates
        [canonical] = root.xpath("//head/link[@rel='canonical']/@href")
        assert canonical.startswith(PUBLIC)
        assert root.get("lang") == "en"
        assert not root.xpath("//script")


def test_index_shows_the_latest_edition_and_links_earlier_ones(built: Path):  # noqa: F811
    output = built.parent / "public"
    index = lxml.html.parse(str(output / "index.html")).getroot()
    titles = [h.text_content() for h in index.find_class("edition")[0].iter("h3")]
    assert titles == ["Night trains return", "Solar park in Gəncə"]
    earlier = [a.get("href") for a in index.xpath("//ul[@class='editions']//a")]
    assert earlier == [f"editions/{DAYS[1]}.html", f"editions/{DAYS[0]}.html"]

    archive = lxml.html.parse(str(output / "archive.html")).getroot()
    listed = [a.get("href") for a in archive.xpath("//ul[@class='editions']//a")]
    assert listed == [f"editions/{day}.html" for day in reversed(DAYS)]
    months = [h.text_content() for h in archive.xpath("//h2[@class='category']")]
    assert len(months) == len({(d.year, d.month) for d in DAYS})
    assert months[0] == DAYS[2].strftime("%B %Y")

    middle = lxml.html.parse(str(output / "editions" / f"{DAYS[1]}.html")).getroot()
    assert middle.xpath("//a[@rel='prev']/@href") == [f"../editions/{DAYS[0]}.html"]
    assert middle.xpath("//a[@rel='next']/@href") == [f"../editions/{DAYS[2]}.html"]
    assert middle.xpath("//link[@rel='canonical']/@href") == [
        f"{PUBLIC}editions/{DAYS[1]}.html"]


def test_sitemap_lists_every_page_with_absolute_urls(built: Path):  # noqa: F811
    output = built.parent / "public"
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    sitemap = etree.fromstring((output / "sitemap.xml").read_bytes())
    urls = [u.findtext(f"{ns}loc") for u in sitemap.iter(f"{ns}url")]
    assert urls == [PUBLIC, PUBLIC + "archive.html",
                    *(f"{PUBLIC}editions/{day}.html" for day in reversed(DAYS))]
    for u in sitemap.iter(f"{ns}url"):
        dt.date.fromisoformat(u.findtext(f"{ns}lastmod"))


def test_the_folder_works_on_a_static_host_under_a_sub_path(
        built: Path, feed_server: FeedServer):  # noqa: F811
    output = built.parent / "public"
    for path in output.rglob("*"):
        if path.is_file():
            feed_server.routes[f"/mirror/digest/{path.relative_to(output)}"] = Route(
                200, {"Content-Type": "text/html"}, path.read_bytes())
    start = feed_server.url("/mirror/digest/index.html")
    seen, queue = set(), [start]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, url
        if not url.endswith(".html"):
            continue
        for _el, _attr, link, _pos in lxml.html.fromstring(response.content).iterlinks():
            target = urljoin(url, link).partition("#")[0]
            if urlsplit(target).netloc == urlsplit(start).netloc:
                queue.append(target)
    assert feed_server.url(f"/mirror/digest/editions/{DAYS[0]}.html") in seen
    assert feed_server.url("/mirror/digest/feeds.opml") in seen
    assert feed_server.url("/mirror/digest/categories/energy/feed.json") in seen


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed")
def test_chromium_renders_the_index_from_file(built: Path, tmp_path: Path):  # noqa: F811
    output = built.parent / "public"
    profile = tmp_path / "chromium"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
         (output / "index.html").as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = lxml.html.fromstring(result.stdout)
    assert [h.text_content() for h in dom.iter("h3")][:2] == [
        "Night trains return", "Solar park in Gəncə"]
    assert dom.xpath("//a[@class='brand']/@href") == ["index.html"]
