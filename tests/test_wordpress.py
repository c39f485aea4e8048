"""A WordPress category through the REST API, against a local server answering like WordPress."""

from __future__ import annotations

import datetime as dt
import http.server
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

from digest.config import Config, WordPressSource, load_config
from digest.errors import ConfigError
from digest.sources.check import check_feeds
from digest.sources.gather import gather
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
JSON = {"Content-Type": "application/json; charset=UTF-8"}
CATEGORY = {"id": 12, "count": 340, "description": "", "name": "Economy", "slug": "economy",
            "taxonomy": "category", "parent": 0, "meta": [],
            "link": "https://news.example.org/category/economy/"}


def post(number: int, published: dt.datetime, *, title: str = "", media: Any = "ok",
         words: int = 600, categories: tuple[tuple[int, str, str], ...] = (
             (12, "economy", "Economy"),), password: bool = False) -> dict[str, Any]:
    """A post as /wp-json/wp/v2/posts?_embed=author,wp:featuredmedia,wp:term returns it."""
    local = published + dt.timedelta(hours=4)  # the site is in Asia/Baku
    embedded: dict[str, Any] = {"author": [{"id": 7, "name": "Leyla Mammadova",
                                            "slug": "leyla", "link": "https://x/author/leyla/"}]}
    if media == "ok":
        embedded["wp:featuredmedia"] = [{
            "id": 900 + number, "media_type": "image", "mime_type": "image/jpeg",
            "source_url": f"https://news.example.org/wp-content/uploads/2026/11/p{number}.jpg"}]
    elif media == "forbidden":
        embedded["wp:featuredmedia"] = [{"code": "rest_forbidden", "message": "Sorry",
                                         "data": {"status": 403}}]
    elif media == "sizes":
        upload = f"https://news.example.org/wp-content/uploads/2026/11/p{number}"
        embedded["wp:featuredmedia"] = [{
            "id": 900 + number, "media_type": "image", "source_url": f"{upload}.jpg",
            "media_details": {"width": 4000, "height": 3000, "sizes": {
                "thumbnail": {"source_url": f"{upload}-150x150.jpg", "width": 150,
                              "height": 150},
                "medium": {"source_url": f"{upload}-300x225.jpg", "width": 300, "height": 225},
                "medium_large": {"source_url": f"{upload}-768x576.jpg", "width": 768,
                                 "height": 576},
                "full": {"source_url": f"{upload}.jpg", "width": 4000, "height": 3000}}}}]
    embedded["wp:term"] = [
        [{"id": i, "slug": slug, "name": name, "taxonomy": "category"}
         for i, slug, name in categories],
        [{"id": 99, "slug": "oil", "name": "Oil", "taxonomy": "post_tag"}]]
    return {
        "id": number, "date": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_gmt": published.strftime("%Y-%m-%dT%H:%M:%S"),
        "guid": {"rendered": f"https://news.example.org/?p={number}"},
        "modified": local.strftime("%Y-%m-%dT%H:%M:%S"), "slug": f"story-{number}",
        "status": "publish", "type": "post",
        "link": f"https://news.example.org/2026/11/story-{number}/",
        "title": {"rendered": title or f"Manat steady &#8211; the bank&#8217;s &#8220;view"
                                       f"&#8221; #{number}"},
        "content": {"rendered": "" if password else "<p>" + "word " * words + "</p>\n"
                    "<p><img src=\"/wp-content/uploads/inline.jpg\"></p>\n"
                    "<script>alert('x')</script>", "protected": password},
        "excerpt": {"rendered": "" if password else "<p>The manat held at 1.70 &hellip; "
                               "<a href=\"javascript:alert(1)\">more</a></p>\n",
                    "protected": password},
        "author": 7, "featured_media": 900 + number if media else 0,
        "categories": [i for i, _, _ in categories],
        "_links": {"self": [{"href": f"https://news.example.org/wp-json/wp/v2/posts/{number}"}]},
        "_embedded": embedded,
    }


class WordPress:
    """The two endpoints the source uses, filtering by `after` and paging like WordPress;
    with `plain`, a site with plain permalinks: the API at `/?rest_route=/…`, advertised
    by the home page's Link header."""

    def __init__(self, server: FeedServer, posts: list[dict[str, Any]], *,
                 plain: bool = False, legacy: bool = False) -> None:
        self.posts = posts
        self.legacy = legacy  # before WordPress 6.0: no categories[include_children]
        self.server = server
        self.category_id = 12
        if plain:
            server.routes["/"] = Route(handler=self.plain)
        else:
            server.routes["/wp-json/wp/v2/categories"] = Route(handler=self.categories)
            server.routes["/wp-json/wp/v2/posts"] = Route(handler=self.list_posts)

    def plain(self, request: http.server.BaseHTTPRequestHandler) -> Route:
        route = self.query(request.path).get("rest_route")
        if route == "/wp/v2/categories":
            return self.categories(request)
        if route == "/wp/v2/posts":
            return self.list_posts(request)
        link = f'<{self.server.base}/?rest_route=/>; rel="https://api.w.org/"'
        return Route(200, {"Content-Type": "text/html", "Link": link}, b"<html>Home</html>")

    @staticmethod
    def query(path: str) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}

    def categories(self, request: http.server.BaseHTTPRequestHandler) -> Route:
        found = ([{**CATEGORY, "id": self.category_id}]
                 if self.query(request.path).get("slug") == "economy" else [])
        return Route(200, JSON, json.dumps(found).encode())

    def list_posts(self, request: http.server.BaseHTTPRequestHandler) -> Route:
        q = self.query(request.path)
        terms = q.get("categories[terms]")
        if terms is not None and self.legacy:
            return Route(400, JSON, b'{"code":"rest_invalid_param","message":'
                                    b'"Invalid parameter(s): categories"}')
        if (terms if terms is not None else q.get("categories")) != str(self.category_id):
            return Route(200, {**JSON, "X-WP-Total": "0", "X-WP-TotalPages": "0"}, b"[]")
        after = q.get("after", "")
        # WordPress compares `after` with the local `date`, not date_gmt.
        matching = sorted((p for p in self.posts if p["date"] > after),
                          key=lambda p: p["date"], reverse=True)
        per_page, page = int(q.get("per_page", 10)), int(q.get("page", 1))
        pages = max(1, -(-len(matching) // per_page))
        if page > pages:
            return Route(400, JSON, b'{"code":"rest_post_invalid_page_number"}')
        chunk = matching[(page - 1) * per_page: page * per_page]
        return Route(200, {**JSON, "X-WP-Total": str(len(matching)),
                           "X-WP-TotalPages": str(pages)}, json.dumps(chunk).encode())


def make_config(tmp_path: Path, feeds_toml: str) -> Config:
    path = write_config(tmp_path, [("economy", "Economy", ["PLACEHOLDER"])], transport="file")
    text = path.read_text(encoding="utf-8").replace('feeds = ["PLACEHOLDER"]',
                                                    f"feeds = {feeds_toml}")
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def wp_config(tmp_path: Path, server: FeedServer, extra: str = "") -> Config:
    return make_config(tmp_path, f'[{extra}{{ wordpress = "{server.base}/", '
                                 'category = "economy" }]')


def stored(store: Store) -> dict[str, Any]:
    return {a.key: a for a in store.candidate_articles(
        NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=1), "2026-11-25")}


def test_the_table_form_in_feeds_is_read(tmp_path: Path):
    config = make_config(tmp_path, '["https://a.example/feed/", '
                                   '{ wordpress = "https://news.example.org/", '
                                   'category = "economy" }]')
    [category] = config.categories
    assert category.feeds == ("https://a.example/feed/",)
    assert category.wordpress == (WordPressSource("https://news.example.org", "economy"),)


@pytest.mark.parametrize(("toml", "message"), [
    ('[{ wordpress = "news.example.org", category = "economy" }]',
     "wordpress must be the site's http(s) URL"),
    ('[{ wordpress = "https://news.example.org" }]', "category must be the category's slug"),
    ('[{ wordpress = "https://n.example", category = "economy", tag = "x" }]',
     "unknown key 'tag'"),
])
def test_config_errors_say_what_to_write(tmp_path: Path, toml: str, message: str):
    with pytest.raises(ConfigError) as raised:
        make_config(tmp_path, toml)
    text = str(raised.value)
    assert message in text
    assert '{ wordpress = "https://news.example.org", category = "economy" }' in text


def test_posts_become_articles(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(4211, NOW - dt.timedelta(hours=3)),
                            post(4212, NOW - dt.timedelta(hours=5), media="forbidden"),
                            post(4100, NOW - dt.timedelta(days=10))])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        articles = stored(store)
    assert report.summary() == "1 feeds: 2 new articles, 0 unchanged, 0 failed"
    # The home page names no API (no Link header here), so /wp-json/ is asked.
    [home, lookup, posts] = feed_server.requests
    assert home.path == "/"
    assert WordPress.query(lookup.path) == {"slug": "economy", "_fields": "id,slug"}
    assert lookup.path.startswith("/wp-json/wp/v2/categories?")
    query = WordPress.query(posts.path)
    # The window (48 h) plus a day of overlap for the site's time zone.
    assert query["after"] == "2026-11-22T12:00:00"
    # The category with its children, as the category's own feed has them.
    assert (query["categories[terms]"], query["categories[include_children]"],
            query["per_page"]) == ("12", "1", "100")
    assert query["_embed"] == "author,wp:featuredmedia,wp:term"
    assert {"title", "content", "date_gmt", "_embedded"} <= set(query["_fields"].split(","))
    assert posts.headers["user-agent"].startswith("digest/")

    a = articles["https://news.example.org/?p=4211"]
    assert a.title == "Manat steady – the bank’s “view” #4211"
    assert a.link == "https://news.example.org/2026/11/story-4211/"
    assert a.author == "Leyla Mammadova"
    assert a.published == NOW - dt.timedelta(hours=3)  # from date_gmt, aware UTC
    assert a.image == "https://news.example.org/wp-content/uploads/2026/11/p4211.jpg"
    assert a.excerpt == "The manat held at 1.70 … more"
    assert "javascript" not in a.summary_html and "<script" not in a.summary_html
    assert a.reading_minutes == 3  # 600 words of content
    # Featured image not readable: the first image of the content instead.
    b = articles["https://news.example.org/?p=4212"]
    assert b.image == "https://news.example.org/wp-content/uploads/inline.jpg"


def test_a_site_before_wordpress_6_is_asked_for_the_category_alone(
        tmp_path: Path, feed_server: FeedServer):
    # WordPress 5.x knows no categories[include_children] and refuses it with a 400.
    WordPress(feed_server, [post(4211, NOW - dt.timedelta(hours=3))], legacy=True)
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert sorted(stored(store)) == ["https://news.example.org/?p=4211"]
        state = store.feed_state(config.categories[0].wordpress[0].location)
        assert (state.api_root, state.category_id) == (f"{feed_server.base}/wp-json/", 12)
    assert report.summary() == "1 feeds: 1 new articles, 0 unchanged, 0 failed"
    refused, asked = [r for r in feed_server.requests if "/wp/v2/posts" in r.path]
    assert "categories[terms]" in WordPress.query(refused.path)
    assert WordPress.query(asked.path)["categories"] == "12"
    assert "categories[terms]" not in WordPress.query(asked.path)


def test_later_runs_overlap_and_dedupe(tmp_path: Path, feed_server: FeedServer):
    site = WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=2))])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        assert gather(config, store, now=NOW).new == 1
        state = store.feed_state(config.categories[0].wordpress[0].location)
        assert (state.api_root, state.category_id) == (f"{feed_server.base}/wp-json/", 12)
        site.posts.append(post(2, NOW + dt.timedelta(hours=1)))
        later = NOW + dt.timedelta(hours=2)
        feed_server.requests.clear()
        second = gather(config, store, now=later)
        assert second.new == 1  # post 1 came again in the overlap and was not added twice
        assert sorted(stored(store)) == ["https://news.example.org/?p=1",
                                         "https://news.example.org/?p=2"]
    # The API root and category id were kept: the second run asks for posts only.
    [posts] = feed_server.requests
    assert posts.path.startswith("/wp-json/wp/v2/posts?")
    # The window start (48 h before) less a day for the site's time zone.
    assert WordPress.query(posts.path)["after"] == "2026-11-22T14:00:00"


def test_many_posts_are_paged(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(n, NOW - dt.timedelta(minutes=n), words=50)
                            for n in range(1, 151)])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        assert gather(config, store, now=NOW).new == 150
    pages = [WordPress.query(r.path)["page"] for r in feed_server.requests if "/posts" in r.path]
    assert pages == ["1", "2"]


def test_same_post_from_rss_and_rest_is_one_article(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(4211, NOW - dt.timedelta(hours=3))])
    feed_server.routes["/category/economy/feed/"] = Route(
        200, {"Content-Type": "application/rss+xml"},
        rss("economy", [Item(4211, "Manat steady", NOW - dt.timedelta(hours=3))]))
    config = make_config(tmp_path, f'["{feed_server.url("/category/economy/feed/")}", '
                                   f'{{ wordpress = "{feed_server.base}", '
                                   'category = "economy" }]')
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert report.new == 1 and store.article_count() == 1


@pytest.mark.parametrize(("routes", "message"), [
    ({}, "HTTP 404 Not Found"),
    ({"/wp-json/wp/v2/categories": Route(200, JSON, b"[]")},
     "has no category with the slug 'economy'"),
    ({"/wp-json/wp/v2/categories": Route(200, {"Content-Type": "text/html"},
                                         b"<html>Welcome</html>")},
     "is not JSON; is this a WordPress site with the REST API enabled?"),
    ({"/wp-json/wp/v2/categories": Route(200, JSON, json.dumps([CATEGORY]).encode()),
      "/wp-json/wp/v2/posts": Route(429, {"Retry-After": "600"})},
     "HTTP 429; not asking again before 2026-11-25 12:10 UTC"),
])
def test_failures_are_clear_and_cost_only_the_source(
        tmp_path: Path, feed_server: FeedServer, routes: dict[str, Route], message: str):
    feed_server.routes.update(routes)
    feed_server.routes["/ok/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                       rss("economy", [Item(1, "Fine", NOW)]))
    config = wp_config(tmp_path, feed_server, f'"{feed_server.url("/ok/")}", ')
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        ok, wp = report.feeds
        assert wp.url == f"wordpress:{feed_server.base}/category/economy"
        assert message in (wp.message or ""), wp.message
        assert ok.outcome == "ok" and report.new == 1
        state = store.feed_state(wp.url)
        assert state.last_error == wp.message


def test_every_page_is_read_however_many(tmp_path: Path, feed_server: FeedServer):
    # 7 pages of 100: no fixed cap on pages, X-WP-TotalPages says when to stop.
    WordPress(feed_server, [post(n, NOW - dt.timedelta(minutes=n), words=5, media=None)
                            for n in range(1, 651)])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        assert gather(config, store, now=NOW).new == 650
    pages = [WordPress.query(r.path)["page"] for r in feed_server.requests if "/posts" in r.path]
    assert pages == ["1", "2", "3", "4", "5", "6", "7"]


def test_featured_image_is_the_size_near_twice_the_thumbnail(tmp_path: Path,
                                                              feed_server: FeedServer):
    WordPress(feed_server, [post(5, NOW - dt.timedelta(hours=1), media="sizes")])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        [article] = stored(store).values()
    # Not the 4000 px original, not the square-cropped thumbnail: `medium` (300 wide,
    # the smallest at least 240 px, twice the email's 120 px thumbnail).
    assert article.image == "https://news.example.org/wp-content/uploads/2026/11/p5-300x225.jpg"
    assert article.image_size == (300, 225)


def test_password_protected_posts_are_skipped(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=1)),
                            post(2, NOW - dt.timedelta(hours=2), password=True)])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert sorted(stored(store)) == ["https://news.example.org/?p=1"]
    assert report.new == 1 and report.feeds[0].message is None


def test_plain_permalink_site_is_read_through_the_advertised_api(tmp_path: Path,
                                                                 feed_server: FeedServer):
    WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=1))], plain=True)
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        assert gather(config, store, now=NOW).new == 1
        state = store.feed_state(config.categories[0].wordpress[0].location)
    assert state.api_root == f"{feed_server.base}/?rest_route=/"
    routes = [WordPress.query(r.path).get("rest_route") for r in feed_server.requests]
    assert routes == [None, "/wp/v2/categories", "/wp/v2/posts"]
    assert all(r.path.startswith("/?") or r.path == "/" for r in feed_server.requests)


def test_posts_carry_their_categories(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=1),
                                 categories=((12, "economy", "Economy"),
                                             (14, "climate-and-ecology",
                                              "Climate &amp; Ecology")))])
    config = wp_config(tmp_path, feed_server)
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        [article] = stored(store).values()
    # Slugs and names of categories; tags (post_tag) are not categories.
    assert article.terms == {"economy", "Economy", "climate-and-ecology",
                             "Climate & Ecology"}


def test_feeds_check_reads_rest_sources(tmp_path: Path, feed_server: FeedServer):
    WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=1)),
                            post(2, NOW - dt.timedelta(hours=3))])
    config = wp_config(tmp_path, feed_server)
    [check] = check_feeds(config, now=NOW)
    assert (check.outcome, check.entries, check.message) == ("ok", 2, None)
    assert check.newest == NOW - dt.timedelta(hours=1)
    assert check.url == f"wordpress:{feed_server.base}/category/economy"


def test_a_remade_category_is_looked_up_again(tmp_path: Path, feed_server: FeedServer):
    site = WordPress(feed_server, [post(1, NOW - dt.timedelta(hours=2))])
    config = wp_config(tmp_path, feed_server)
    location = config.categories[0].wordpress[0].location
    with Store(config.state) as store:
        assert gather(config, store, now=NOW).new == 1
        # The editors deleted and remade Economy: the kept id 12 now matches nothing.
        site.category_id = 40
        for p in site.posts:
            p["categories"] = [40]
        site.posts.append(post(2, NOW + dt.timedelta(minutes=30)))
        report = gather(config, store, now=NOW + dt.timedelta(hours=1))
        assert report.new == 1
        assert store.feed_state(location).category_id == 40
