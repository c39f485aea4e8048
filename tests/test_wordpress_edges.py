"""Issue 11's edges on a real WordPress (tests/wordpress_site.py): a scheduled post that
WordPress's cron publishes late, a post edited after it was read (its headline fixed
before and after the send, its category changed), and a post retracted (trashed, back
to draft) after it was read. Both modes: category feeds and REST."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_wordpress_real import digest, filed, set_up, shown, today
from wordpress_site import WordPressSite

from digest.config import Config

MODES = ["feeds", "rest"]


def an_hour_passes(config: Config) -> None:
    """What an hour does to the state file: WordPress's feed validators, trusted for
    WORDPRESS_TRUST after the read that gave them, are no longer sent."""
    with sqlite3.connect(config.state) as db:
        db.execute("UPDATE feeds SET validators_until = '2000-01-01T00:00:00+00:00'"
                   " WHERE validators_until IS NOT NULL")
    db.close()


def edition_links(config: Config, date: dt.date) -> list[tuple[str, str, str]]:
    """(section, link, title) of every article of `date`'s edition."""
    data: dict[str, Any] = shown(config, date)
    return [(s["slug"], a["link"], a["title"]) for s in data["sections"]
            for a in s["articles"]]


def overdue_scheduled_post(site: WordPressSite, title: str, categories: tuple[str, ...],
                           late: dt.timedelta) -> int:
    """A post an editor scheduled two hours ago for `late` ago, whose time has come while
    WordPress's cron has not run yet (a "missed schedule"): still `future`, dated in the
    past, last modified when it was scheduled. Returns its id."""
    post = site.add_post(title, categories, status="future", age=-dt.timedelta(hours=2))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    baku = dt.timezone(dt.timedelta(hours=4))  # Asia/Baku, no DST
    when, saved = now - late, now - dt.timedelta(hours=2)
    site.php(f"""global $wpdb;
$wpdb->update($wpdb->posts, ['post_date' => '{when.astimezone(baku):%Y-%m-%d %H:%M:%S}',
                             'post_date_gmt' => '{when:%Y-%m-%d %H:%M:%S}',
                             'post_modified' => '{saved.astimezone(baku):%Y-%m-%d %H:%M:%S}',
                             'post_modified_gmt' => '{saved:%Y-%m-%d %H:%M:%S}'],
              ['ID' => {post.id}]);
clean_post_cache({post.id});""")
    assert site.manifest.post(post.key).status == "future"
    return post.id


def publish_as_cron_does(site: WordPressSite, post_id: int) -> None:
    """What wp-cron's `publish_future_post` event runs: WordPress publishes the post
    without touching its modified date."""
    before = next(p for p in site.manifest.posts if p.id == post_id)
    site.php(f"check_and_publish_future_post({post_id});")
    after = next(p for p in site.manifest.posts if p.id == post_id)
    assert after.status == "publish"
    assert after.modified_gmt == before.modified_gmt and after.date_gmt == before.date_gmt


@pytest.mark.parametrize("mode", MODES)
def test_a_scheduled_post_published_late_by_cron_comes_once(
        wordpress: WordPressSite, tmp_path: Path, mode: str) -> None:
    config = set_up(wordpress, tmp_path / "digest", mode, False)
    at = ["--config", str(config.path)]
    assert "0 failed" in digest(*at, "fetch")

    # Its time has come, but the cron has not run: not public, not fetched.
    post_id = overdue_scheduled_post(wordpress, "Scheduled: the port’s new cranes",
                                     ("economy",), dt.timedelta(hours=1))
    assert "0 new articles" in digest(*at, "fetch")
    # The cron publishes it. WordPress's feeds' validators come from the latest post date
    # or modified date of the site, which this post (dated an hour ago, modified when it
    # was scheduled) leaves as they were: a conditional GET of a feed is answered 304.
    publish_as_cron_does(wordpress, post_id)
    if mode == "feeds":
        # Within the hour after the last read, those validators are still sent: the
        # post waits, and nothing is lost.
        mark = wordpress.mark()
        assert "0 new articles" in digest(*at, "fetch")
        assert {r.status for r in wordpress.requests(since=mark)
                if r.server == "pretty"} == {304}
        an_hour_passes(config)
    assert "1 new article" in digest(*at, "fetch")
    assert "0 new articles" in digest(*at, "fetch")

    # A post already read is edited: its title changes, it is still one article.
    edited = wordpress.manifest.post("p30")
    wordpress.edit_post(edited.id, title="Air quality: Baku’s worst days are in winter")
    an_hour_passes(config)
    assert "0 new articles" in digest(*at, "fetch")

    digest(*at, "build")
    now = dt.datetime.now(dt.UTC)
    window = wordpress.manifest.window(48, now)
    assert len(window) == 42
    got = edition_links(config, today(config))
    assert sorted(link for _, link, _ in got) == sorted(p.link for p in window)
    by_link = {link: (section, title) for section, link, title in got}
    for post in window:
        assert by_link[post.link] == (filed(config, post), post.title)
    scheduled = next(p for p in window if p.id == post_id)
    assert by_link[scheduled.link][0] == "economy"
    assert by_link[edited.link][1] == "Air quality: Baku’s worst days are in winter"


def test_wordpress_feed_validators_are_sent_for_an_hour_after_a_read(
        wordpress: WordPressSite, tmp_path: Path) -> None:
    # WordPress's feed validators are the site's, not the feed's (see above): sent right
    # after the read that gave them (304), not once an hour has passed (read whole).
    config = set_up(wordpress, tmp_path / "digest", "feeds", False)
    at = ["--config", str(config.path)]
    digest(*at, "fetch")

    def first_pages() -> set[int]:
        mark = wordpress.mark()
        assert "0 new articles" in digest(*at, "fetch")
        served = [r for r in wordpress.requests(since=mark) if r.server == "pretty"]
        first = [r for r in served if "paged" not in r.path]
        assert len(first) == len(config.categories)
        return {r.status for r in first}

    assert first_pages() == {304}
    an_hour_passes(config)
    assert first_pages() == {200}
    assert first_pages() == {304}  # trusted again for an hour from that read


def built_today(site: WordPressSite, tmp_path: Path, mode: str) -> tuple[Config, list[str]]:
    """A digest of the site, fetched, with today's edition built and not sent yet (it
    may still change); its config and the `--config` arguments."""
    config = set_up(site, tmp_path / "digest", mode, False)
    at = ["--config", str(config.path)]
    assert "0 failed" in digest(*at, "fetch")
    digest(*at, "build")
    return config, at


@pytest.mark.parametrize("mode", MODES)
def test_a_post_retracted_after_it_was_read_is_not_in_the_next_edition(
        wordpress: WordPressSite, tmp_path: Path, mode: str) -> None:
    config, at = built_today(wordpress, tmp_path, mode)
    assert len(edition_links(config, today(config))) == 41

    # Read, then retracted before the edition is sent: one trashed (in News and Economy:
    # two feeds carried it), one back to draft, one given a password.
    manifest = wordpress.manifest
    trashed, drafted, protected = (manifest.post(k) for k in ("p21", "p40", "p35"))
    assert {"news", "economy"} <= set(trashed.categories)
    wordpress.php(f"wp_trash_post({trashed.id});"
                  f"wp_update_post(['ID' => {drafted.id}, 'post_status' => 'draft']);"
                  f"wp_update_post(['ID' => {protected.id}, 'post_password' => 'secret']);")
    window = wordpress.manifest.window(48, dt.datetime.now(dt.UTC))
    assert len(window) == 38
    an_hour_passes(config)
    assert "0 failed" in digest(*at, "fetch")
    digest(*at, "build")
    got = edition_links(config, today(config))
    assert sorted(link for _, link, _ in got) == sorted(p.link for p in window)

    # Published again: back in the edition, once.
    wordpress.php(f"wp_untrash_post({trashed.id});"
                  f"wp_publish_post({trashed.id});")
    an_hour_passes(config)
    assert "0 failed" in digest(*at, "fetch")
    digest(*at, "build")
    got = edition_links(config, today(config))
    assert sorted(link for _, link, _ in got) == sorted(
        p.link for p in wordpress.manifest.window(48, dt.datetime.now(dt.UTC)))
    assert [link for _, link, _ in got].count(trashed.link) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_post_moved_to_another_category_before_the_edition_goes_is_filed_there(
        wordpress: WordPressSite, tmp_path: Path, mode: str) -> None:
    config, at = built_today(wordpress, tmp_path, mode)
    window = wordpress.manifest.window(48, dt.datetime.now(dt.UTC))
    slugs = [c.slug for c in config.categories]
    # A post of one category, moved (an editor's correction) to a category listed after
    # it: filed by the terms it had, it would stay where it was.
    moved = next(p for p in window if len(p.categories) == 1
                 and p.categories[0] in slugs[:-1] and not wordpress.manifest.category(
                     p.categories[0]).parent)
    before = filed(config, moved)
    target = next(s for s in slugs[slugs.index(before) + 1:]
                  if not wordpress.manifest.category(s).parent)
    assert dict((link, section) for section, link, _ in
                edition_links(config, today(config)))[moved.link] == before
    wordpress.php(f"wp_set_post_categories({moved.id}, "
                  f"[get_term_by('slug', '{target}', 'category')->term_id]);")
    assert wordpress.manifest.post(moved.key).categories == (target,)
    an_hour_passes(config)
    assert "0 failed" in digest(*at, "fetch")
    digest(*at, "build")
    got = edition_links(config, today(config))
    assert [section for section, link, _ in got if link == moved.link] == [target]
    assert len(got) == len(window)


@pytest.mark.parametrize("mode", MODES)
def test_a_headline_fixed_before_the_send_is_sent_fixed_and_kept_after(
        wordpress: WordPressSite, tmp_path: Path, mode: str) -> None:
    """An editor fixes a headline on the site after the morning's build: the send (which
    reads the site again first) mails the fixed one. A fix after the send began changes
    nothing of the edition its readers got."""
    config, at = built_today(wordpress, tmp_path, mode)
    post = wordpress.manifest.window(48, dt.datetime.now(dt.UTC))[0]

    def titled(title: str) -> None:
        wordpress.php(f"wp_update_post(['ID' => {post.id}, 'post_title' => '{title}']);")
        an_hour_passes(config)

    def title_shown() -> str:
        [title] = [t for _, link, t in edition_links(config, today(config))
                   if link == post.link]
        return title

    assert title_shown() == post.title
    titled("Parliament passes the budget (corrected)")
    digest(*at, "subscribers", "add", "reader@example.org")
    assert "sent 1" in digest(*at, "send")
    assert title_shown() == "Parliament passes the budget (corrected)"
    [mail] = (config.path.parent / "outbox").rglob("*.eml")
    assert "Parliament passes the budget (corrected)" in mail.read_text(encoding="utf-8")

    titled("Parliament passes the budget, 71 to 40")
    assert "0 failed" in digest(*at, "fetch")
    digest(*at, "build")
    assert title_shown() == "Parliament passes the budget (corrected)"
