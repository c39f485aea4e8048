"""The real WordPress of tests/wordpress_site.py answers like a WordPress news site does.

These tests check the fixture, not the digest: that the feeds page, carry their categories and
answer conditional requests, that the REST API filters and pages, on both permalink styles,
and that the manifest tells the truth about what the site publishes.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from zoneinfo import ZoneInfo

import requests
from lxml import etree
from wordpress_site import CATEGORIES, TIME_ZONE, Manifest, Post, WordPressSite

TIMEOUT = 30


def items(xml: bytes) -> list[etree._Element]:
    return list(etree.fromstring(xml).iter("item"))


def text(item: etree._Element, tag: str) -> str:
    return html.unescape(item.findtext(tag) or "")


def feed_pages(first: str) -> list[list[etree._Element]]:
    """Every page of a WordPress feed: ?paged=2, 3, … until WordPress answers 404."""
    pages = []
    for number in range(1, 20):
        url = first if number == 1 else f"{first}{'&' if '?' in first else '?'}paged={number}"
        response = requests.get(url, timeout=TIMEOUT)
        if response.status_code == 404:
            break
        assert response.status_code == 200, url
        assert response.headers["Content-Type"].startswith("application/rss+xml")
        pages.append(items(response.content))
    return pages


def feed_posts(manifest: Manifest, slug: str) -> list[Post]:
    """What a category feed carries: published posts (with a password too) in it or a child."""
    return [p for p in manifest.in_category(slug) if p.status == "publish"]


def shown_title(post: Post) -> str:
    return f"Protected: {post.title}" if post.password else post.title


def test_seeded_like_the_news_site(wordpress: WordPressSite) -> None:
    manifest = wordpress.manifest
    assert [(c.slug, c.name, c.parent) for c in manifest.categories] == list(CATEGORIES)
    window = manifest.window(48)
    assert len(window) == 41
    # Each stays in the window however long the session has run (up to two hours).
    newest = wordpress.now - dt.timedelta(minutes=12)
    oldest = wordpress.now - dt.timedelta(hours=46)
    assert all(p.date_gmt and oldest <= p.date_gmt <= newest for p in window)
    statuses = Counter(p.status for p in manifest.posts if not p.public)
    assert statuses == {"publish": 2, "future": 2, "draft": 2, "pending": 1, "private": 1}
    assert sum(p.password for p in manifest.posts) == 2
    assert len(manifest.public()) == 41 + 4  # four older than the window
    news = {"news", "economy", "energy", "climate-and-ecology"}
    assert sum(bool(news & set(p.categories)) for p in window) == 23
    assert any(set(p.categories) == {"economy"} for p in window)  # only in a child
    assert sum(len(p.categories) == 2 for p in window) == 5
    edited = manifest.post("edited")
    assert edited.title.endswith("(updated)")
    assert edited.date_gmt is not None and edited.modified_gmt > edited.date_gmt
    assert {p.author for p in manifest.posts} >= {"Leyla Məmmədova", "Rəşad Əliyev"}
    pictured = [p for p in window if p.image]
    assert len(pictured) == 14
    for post in pictured:
        assert post.image is not None
        assert {"thumbnail", "medium", "medium_large"} <= set(post.image.sizes)
        assert ("large" in post.image.sizes) == (post.image.width > 1024)
        assert post.image.sizes["medium"].width == 300
        assert post.image.mime_type in ("image/jpeg", "image/png")
    shown = [p for p in pictured if p.image and p.image.sizes["medium_large"].url in p.content]
    assert len(shown) == 7
    assert all(p.modified_gmt == p.date_gmt for p in shown)
    assert all(p.words >= 100 for p in manifest.posts)


def test_category_feeds_page_and_name_their_categories(wordpress: WordPressSite) -> None:
    manifest = wordpress.manifest
    pages = feed_pages(wordpress.feed_url("news"))
    assert [len(page) for page in pages][:2] == [10, 10]
    carried = [item for page in pages for item in page]
    expected = sorted(feed_posts(manifest, "news"), key=lambda p: (p.date_gmt, p.id),
                      reverse=True)
    assert [text(i, "link") for i in carried] == [p.link for p in expected]
    assert [text(i, "title") for i in carried] == [shown_title(p) for p in expected]
    names = {c.slug: c.name for c in manifest.categories}
    for item, post in zip(carried, expected, strict=True):
        assert sorted(html.unescape(c.text or "") for c in item.iter("category")) == sorted(
            names[slug] for slug in post.categories)
        assert text(item, "{http://purl.org/dc/elements/1.1/}creator") == post.author
        assert text(item, "guid") == post.guid == f"{wordpress.url}/?p={post.id}"
    # A child-only post is in its parent's feed, named by the child alone.
    child_only = next(p for p in expected if p.categories == ("economy",))
    item = next(i for i in carried if text(i, "link") == child_only.link)
    assert [html.unescape(c.text or "") for c in item.iter("category")] == ["Economy"]


def test_plain_permalinks_feeds_and_api(wordpress: WordPressSite) -> None:
    manifest = wordpress.manifest
    economy = manifest.category("economy")
    pages = feed_pages(wordpress.feed_url("economy", plain=True))
    assert f"?cat={economy.id}&feed=rss2" in wordpress.feed_url("economy", plain=True)
    assert len(pages[0]) == 10 and len(pages) == 2
    links = sorted(wordpress.plain_link(p) for p in feed_posts(manifest, "economy"))
    assert sorted(text(i, "link") for page in pages for i in page) == links
    assert sorted(text(i, "guid") for page in pages for i in page) == links
    home = requests.get(wordpress.plain_url + "/", timeout=TIMEOUT)
    api = home.links["https://api.w.org/"]["url"]
    assert "rest_route=/" in api
    in_economy = {p.id for p in manifest.in_category("economy", children=False)
                  if p.status == "publish"}
    for route in (api + "wp/v2/posts", wordpress.api_url("/wp/v2/posts", plain=True)):
        posts = requests.get(route, params={"categories": economy.id, "per_page": 100},
                             timeout=TIMEOUT)
        assert posts.status_code == 200
        assert {p["id"] for p in posts.json()} == in_economy


def test_rest_api_filters_pages_and_embeds(wordpress: WordPressSite) -> None:
    manifest = wordpress.manifest
    home = requests.get(wordpress.url + "/", timeout=TIMEOUT)
    assert home.links["https://api.w.org/"]["url"] == wordpress.url + "/wp-json/"
    news = manifest.category("news")
    url = wordpress.api_url("/wp/v2/posts")
    params: dict[str, str | int] = {"categories": news.id, "per_page": 4,
                                    "_embed": "author,wp:featuredmedia"}
    first = requests.get(url, params=params, timeout=TIMEOUT)
    expected = [p for p in manifest.in_category("news", children=False)
                if p.status == "publish"]
    assert int(first.headers["X-WP-Total"]) == len(expected)
    total_pages = int(first.headers["X-WP-TotalPages"])
    assert total_pages == -(-len(expected) // 4) > 1
    answered = first.json()
    for page in range(2, total_pages + 1):
        answered += requests.get(url, params={**params, "page": page}, timeout=TIMEOUT).json()
    assert sorted(p["id"] for p in answered) == sorted(p.id for p in expected)
    by_id = {p.id: p for p in manifest.posts}
    for item in answered:
        post = by_id[item["id"]]
        assert post.date_gmt is not None
        assert item["date_gmt"] == post.date_gmt.strftime("%Y-%m-%dT%H:%M:%S")
        local = post.date_gmt.astimezone(ZoneInfo(TIME_ZONE))  # the site's time zone
        assert item["date"] == local.strftime("%Y-%m-%dT%H:%M:%S")
        assert item["content"]["protected"] == post.password
        assert item["_embedded"]["author"][0]["name"] == post.author
        if post.image:
            media = item["_embedded"]["wp:featuredmedia"][0]
            assert media["source_url"] == post.image.url
            assert media["media_details"]["sizes"]["medium_large"]["source_url"] == \
                post.image.sizes["medium_large"].url
        else:
            assert item["featured_media"] == 0
    # The children's posts too, when asked: what News's feed carries.
    tree = requests.get(url, params={"categories[terms]": news.id, "per_page": 100,
                                     "categories[include_children]": 1}, timeout=TIMEOUT)
    assert sorted(p["id"] for p in tree.json()) == sorted(p.id for p in feed_posts(manifest,
                                                                                    "news"))
    # Not public: never in the API without logging in.
    hidden = {p.id for p in manifest.posts if p.status != "publish"}
    everything = requests.get(url, params={"per_page": 100}, timeout=TIMEOUT).json()
    assert hidden and not hidden & {p["id"] for p in everything}


def test_media_sizes_are_served(wordpress: WordPressSite) -> None:
    post = next(p for p in wordpress.manifest.posts if p.image)
    assert post.image is not None
    for size in (post.image.sizes["medium"], post.image.sizes["medium_large"]):
        response = requests.get(size.url, timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == post.image.mime_type
        assert response.content[:4] in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\x89PNG")


def test_feeds_answer_conditional_requests(wordpress: WordPressSite) -> None:
    url = f"{wordpress.url}/category/economy/feed/"
    first = requests.get(url, timeout=TIMEOUT)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    mark = wordpress.mark()
    again = requests.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified},
                         timeout=TIMEOUT)
    assert again.status_code == 304 and again.content == b""
    plain = f"{wordpress.plain_url}/?cat={wordpress.manifest.category('economy').id}&feed=rss2"
    plain_first = requests.get(plain, timeout=TIMEOUT)
    assert requests.get(plain, headers={"If-None-Match": plain_first.headers["ETag"]},
                        timeout=TIMEOUT).status_code == 304
    served = wordpress.requests(since=mark)
    assert ("pretty", "GET", "/category/economy/feed/", 304) in [
        (r.server, r.method, r.path, r.status) for r in served]
    # A post published now, anywhere, changes every feed's validators (WordPress's own rule:
    # they come from the latest date or modified date of any post).
    wordpress.add_post("Fresh figures on the manat", ["economy"])
    changed = requests.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified},
                           timeout=TIMEOUT)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_a_second_day_and_a_reset(wordpress: WordPressSite) -> None:
    before = wordpress.manifest
    added = wordpress.add_post("Second day: the budget passes", ["news", "economy"],
                               age=dt.timedelta(minutes=2), author="aysel", words=450,
                               image=True)
    edited = wordpress.edit_post(before.post("p40").id, title="Cabinet reshuffle (updated)")
    assert added.public and added.author == "Aysel Şükürova" and added.words == 450
    assert added.image is not None and "medium" in added.image.sizes
    assert edited.modified_gmt > before.post("p40").modified_gmt
    feed = items(requests.get(f"{wordpress.url}/category/economy/feed/",
                              timeout=TIMEOUT).content)
    assert text(feed[0], "link") == added.link
    assert text(feed[0], "title") == "Second day: the budget passes"
    scheduled = wordpress.add_post("Tomorrow", ["news"], age=-dt.timedelta(hours=3))
    assert scheduled.status == "future"
    wordpress.reset()
    assert wordpress.manifest == before
    feed = items(requests.get(f"{wordpress.url}/category/economy/feed/",
                              timeout=TIMEOUT).content)
    assert added.link not in [text(i, "link") for i in feed]



def test_a_site_whose_rest_api_is_closed(wordpress: WordPressSite) -> None:
    closed = wordpress.serve(rest=False)
    assert closed not in (wordpress.url, wordpress.plain_url)
    assert wordpress.serve(rest=False) == closed and wordpress.serve() == wordpress.url
    mark = wordpress.mark()
    home = requests.get(closed + "/", timeout=TIMEOUT)
    api = home.links["https://api.w.org/"]["url"]  # still advertised
    answer = requests.get(api + "wp/v2/posts", timeout=TIMEOUT)
    assert answer.status_code == 401
    assert answer.json()["code"] == "rest_not_logged_in"
    feed = items(requests.get(f"{closed}/category/economy/feed/", timeout=TIMEOUT).content)
    assert len(feed) == 10
    assert all(text(i, "guid").startswith(closed + "/?p=") for i in feed)
    assert all(text(i, "link").startswith(closed + "/20") for i in feed)
    assert [(r.server, r.path, r.status) for r in wordpress.requests(since=mark)] == [
        ("pretty-closed", "/", 200), ("pretty-closed", "/wp-json/wp/v2/posts", 401),
        ("pretty-closed", "/category/economy/feed/", 200)]
