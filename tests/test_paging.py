"""Feeds that carry only their newest items: paged back until the window is covered, a gap
said out loud; articles filed by the categories they name. Against a real HTTP server
answering like WordPress's category feeds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from feeds import CategoryFeeds, Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

from digest.app.pipeline import build
from digest.cli import cli
from digest.config import Config, load_config
from digest.sources.check import check_feeds
from digest.sources.gather import gather
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
NAMES = {"news": "News", "economy": "Economy", "energy": "Energy"}
PARENTS = {"economy": "news", "energy": "news"}


def posts(count: int, every: dt.timedelta, *, now: dt.datetime = NOW,
          categories: tuple[str, ...] = ("News",), first: int = 1) -> list[Item]:
    return [Item(n, f"Story {n}", now - every * (n - first + 1) + dt.timedelta(minutes=1),
                 categories=categories, words=400)
            for n in range(first, first + count)]


def configure(tmp_path: Path, site: CategoryFeeds, slugs: list[str], extra: str = "",
              lookback_hours: int = 48) -> Config:
    path = write_config(tmp_path, [(s, NAMES[s], [site.url(s)]) for s in slugs],
                        transport="file", extra=extra, lookback_hours=lookback_hours)
    return load_config(path)


def feed_requests(server: FeedServer) -> list[str]:
    return [r.path for r in server.requests if "/feed" in r.path]


def test_a_full_feed_is_paged_back_until_the_window_is_covered(tmp_path: Path,
                                                                feed_server: FeedServer):
    # 41 posts in 48 hours, 10 to a feed page: page 1 covers about 12 hours.
    site = CategoryFeeds(feed_server, posts(41, dt.timedelta(minutes=70)), NAMES,
                         parents=PARENTS)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert store.article_count() == 41
        assert store.feed_state(site.url("news")).covered_from is None
    assert (report.new, report.feeds[0].message) == (41, None)
    assert feed_requests(feed_server) == [
        "/category/news/feed/", "/category/news/feed/?paged=2", "/category/news/feed/?paged=3",
        "/category/news/feed/?paged=4", "/category/news/feed/?paged=5"]


def test_paging_stops_once_the_window_is_covered(tmp_path: Path, feed_server: FeedServer):
    site = CategoryFeeds(feed_server, posts(60, dt.timedelta(hours=3)), NAMES)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
    # Page 2 reaches back 60 hours: older pages hold nothing for a 48-hour window.
    assert feed_requests(feed_server) == ["/category/news/feed/",
                                          "/category/news/feed/?paged=2"]
    assert report.feeds[0].message is None


def test_an_unchanged_feed_is_one_304_and_no_paging(tmp_path: Path, feed_server: FeedServer):
    site = CategoryFeeds(feed_server, posts(30, dt.timedelta(hours=1)), NAMES)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        feed_server.requests.clear()
        second = gather(config, store, now=NOW + dt.timedelta(minutes=30))
    assert second.unchanged == 1 and second.new == 0
    assert [(r.path, r.headers.get("if-none-match") is not None)
            for r in feed_server.requests] == [("/category/news/feed/", True)]


def test_the_page_cap_leaves_a_gap_that_is_told(tmp_path: Path, feed_server: FeedServer):
    site = CategoryFeeds(feed_server, posts(50, dt.timedelta(minutes=54)), NAMES)
    config = configure(tmp_path, site, ["news"], extra="[fetch]\nmax_pages = 2")
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert store.article_count() == 20
        covered = store.feed_state(site.url("news")).covered_from
    [feed] = report.feeds
    assert feed.outcome == "ok"
    # 20 items of 54 minutes reach back 18 hours.
    assert feed.message == ("covers only the last 18 h of 48 h: articles may be missed "
                            "(stopped at 2 pages ([fetch] max_pages))")
    assert covered == NOW - dt.timedelta(minutes=54 * 20 - 1)


def test_a_feed_that_cannot_be_paged_leaves_a_gap_that_is_told(tmp_path: Path,
                                                                feed_server: FeedServer):
    site = CategoryFeeds(feed_server, posts(25, dt.timedelta(hours=1)), NAMES, pageable=False)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        [feed] = gather(config, store, now=NOW).feeds
    assert feed.message == ("covers only the last 10 h of 48 h: articles may be missed "
                            "(the feed cannot be paged back)")
    assert feed_requests(feed_server) == ["/category/news/feed/"]


def test_a_short_feed_is_complete(tmp_path: Path, feed_server: FeedServer):
    # Fewer items than a page, no paging advertised: all the site has, no warning.
    site = CategoryFeeds(feed_server, posts(4, dt.timedelta(hours=1)), NAMES, pageable=False)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        [feed] = gather(config, store, now=NOW).feeds
    assert (feed.new, feed.message) == (4, None)


def test_rfc5005_next_links_are_followed(tmp_path: Path, feed_server: FeedServer):
    items = posts(25, dt.timedelta(hours=1))
    feed_server.routes["/feed.xml"] = Route(200, {"Content-Type": "application/rss+xml"}, rss(
        "news", items[:10], next_url="/archive/feed-2.xml"))
    feed_server.routes["/archive/feed-2.xml"] = Route(
        200, {"Content-Type": "application/rss+xml"},
        rss("news", items[10:20], next_url=feed_server.url("/archive/feed-3.xml")))
    feed_server.routes["/archive/feed-3.xml"] = Route(
        200, {"Content-Type": "application/rss+xml"}, rss("news", items[20:]))
    path = write_config(tmp_path, [("news", "News", [feed_server.url("/feed.xml")])],
                        transport="file")
    config = load_config(path)
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
    assert (report.new, report.feeds[0].message) == (25, None)
    assert [r.path for r in feed_server.requests] == [
        "/feed.xml", "/archive/feed-2.xml", "/archive/feed-3.xml"]


def test_child_category_posts_are_filed_where_they_belong(tmp_path: Path,
                                                          feed_server: FeedServer):
    items = [
        *posts(12, dt.timedelta(hours=2), categories=("Economy",), first=1),
        *posts(6, dt.timedelta(hours=3), categories=("News",), first=101),
        *posts(3, dt.timedelta(hours=5), categories=("Energy", "Economy"), first=201),
    ]
    site = CategoryFeeds(feed_server, items, NAMES, parents=PARENTS)
    config = configure(tmp_path, site, ["news", "economy"])
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)
        assert report.new == 21
        edition = build(config, store, date=dt.date(2026, 11, 25), now=NOW).edition
    assert edition is not None
    filed = {s.slug: sorted(int(a.key.rsplit("=", 1)[1]) for a in s.articles)
             for s in edition.sections}
    # Economy's posts, carried by News's feed too, are under Economy; the Energy+Economy
    # posts under Economy (Energy is not configured); News keeps only its own.
    assert filed == {"news": list(range(101, 107)),
                     "economy": [*range(1, 13), 201, 202, 203]}
    economy = edition.for_categories(frozenset({"economy"}))
    assert sum(len(s.articles) for s in economy.sections) == 15


def test_password_protected_feed_items_are_skipped(tmp_path: Path, feed_server: FeedServer):
    form = ('<form action="https://news.example.org/wp-login.php?action=postpass" '
            'class="post-password-form" method="post"><p>This content is password '
            'protected.</p><input name="post_password" type="password"></form>')
    items = [Item(1, "Open story", NOW - dt.timedelta(hours=1), categories=("News",)),
             Item(2, "Protected: Secret story", NOW - dt.timedelta(hours=2),
                  categories=("News",), content=form,
                  excerpt="There is no excerpt because this is a protected post.")]
    site = CategoryFeeds(feed_server, items, NAMES)
    config = configure(tmp_path, site, ["news"])
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        keys = [a.key for a in store.candidate_articles(NOW - dt.timedelta(days=2), NOW,
                                                         "2026-11-25")]
    assert keys == ["https://news.example.org/?p=1"]


def test_fetch_check_and_status_tell_the_gap_and_exit_0(tmp_path: Path,
                                                        feed_server: FeedServer):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    site = CategoryFeeds(feed_server, posts(25, dt.timedelta(hours=1), now=now), NAMES,
                         pageable=False)
    config = configure(tmp_path, site, ["news"])
    runner = CliRunner()
    args = ["--config", str(config.path)]
    gap = "covers only the last 10 h of 48 h: articles may be missed"
    for command in (["fetch"], ["feeds", "check"], ["status"]):
        result = runner.invoke(cli, [*args, *command])
        assert result.exit_code == 0, (command, result.output)
        assert gap in result.output, (command, result.output)
    checked = check_feeds(config, now=now)
    assert checked[0].covered_from is not None and gap in (checked[0].message or "")


def test_an_article_filed_under_a_category_is_in_its_published_feed(
        tmp_path: Path, feed_server: FeedServer):
    # Economy's own source carries nothing; News's feed carries a post that names Economy.
    items = [Item(1, "Manat steady", NOW - dt.timedelta(hours=1), categories=("Economy",)),
             Item(2, "Snow in Gusar", NOW - dt.timedelta(hours=2), categories=("News",))]
    site = CategoryFeeds(feed_server, items, NAMES, parents=PARENTS)
    feed_server.routes["/empty/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                          rss("economy", []))
    path = write_config(tmp_path, [("news", "News", [site.url("news")]),
                                   ("economy", "Economy", [feed_server.url("/empty/")])],
                        transport="file")
    config = load_config(path)
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        edition = build(config, store, date=dt.date(2026, 11, 25), now=NOW).edition
    assert edition is not None
    assert [(s.slug, [a.title for a in s.articles]) for s in edition.sections] == [
        ("news", ["Snow in Gusar"]), ("economy", ["Manat steady"])]
    published = (config.output / "categories" / "economy" / "rss.xml").read_text()
    assert "Manat steady" in published and "Snow in Gusar" not in published


def test_a_next_link_to_a_local_file_is_never_followed(tmp_path: Path,
                                                       feed_server: FeedServer):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss("news", [Item(99, "Local secret", NOW - dt.timedelta(hours=1))]))
    feed_server.routes["/feed.xml"] = Route(200, {"Content-Type": "application/rss+xml"}, rss(
        "news", posts(12, dt.timedelta(hours=1)), next_url=secret.as_uri()))
    path = write_config(tmp_path, [("news", "News", [feed_server.url("/feed.xml")])],
                        transport="file")
    config = load_config(path)
    with Store(config.state) as store:
        [feed] = gather(config, store, now=NOW).feeds
        assert store.article_count() == 12
    assert "the feed cannot be paged back" in (feed.message or "")


def candidates(store: Store, now: dt.datetime = NOW) -> set[str]:
    return {a.title for a in store.candidate_articles(now - dt.timedelta(hours=48), now,
                                                      now.date().isoformat())}


def test_a_post_a_wordpress_feed_no_longer_lists_is_retracted_another_feeds_is_not(
        tmp_path: Path, feed_server: FeedServer):
    # 25 posts over 30 hours, three pages; then one of page 1 and one of page 3 are taken
    # back (trashed on the site). Beside it, a feed that is no WordPress drops an item.
    items = posts(25, dt.timedelta(minutes=70))
    site = CategoryFeeds(feed_server, items, NAMES, parents=PARENTS)
    other = rss("energy", [Item(100, "Other feed's story", NOW - dt.timedelta(hours=2)),
                           Item(101, "Other feed's dropped story", NOW - dt.timedelta(hours=3))])
    feed_server.routes["/other/"] = Route(200, {"Content-Type": "application/rss+xml"}, other)
    path = write_config(tmp_path, [("news", "News", [site.url("news")]),
                                   ("energy", "Energy", [feed_server.url("/other/")])],
                        transport="file")
    config = load_config(path)
    with Store(config.state) as store:
        gather(config, store, now=NOW)
        assert len(candidates(store)) == 27
        site.posts = [p for p in items if p.guid not in (2, 23)]
        feed_server.routes["/other/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                              rss("energy", [Item(100, "Other feed's story",
                                                                  NOW - dt.timedelta(hours=2))]))
        later = NOW + dt.timedelta(minutes=5)
        report = gather(config, store, now=later)
        assert (report.new, len(report.failed)) == (0, 0)
        assert candidates(store, later) == (
            {p.title for p in items} - {"Story 2", "Story 23"}
            | {"Other feed's story", "Other feed's dropped story"})
        site.posts = items  # published again
        gather(config, store, now=later)
        assert len(candidates(store, later)) == 27
        assert store.article_count() == 27
