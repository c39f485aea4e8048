"""Incremental builds: day after day, a build renders only what changed, and the output
folder is byte for byte what a full rebuild from scratch writes."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route
from test_feeds_out import TODAY, late_on, run, snapshot

from digest.cli import cli
from digest.config import Config
from digest.models import Edition
from digest.render import feeds as feeds_out
from digest.render.site import SitePages
from digest.store import MIGRATIONS, Store

ATOM = "{http://www.w3.org/2005/Atom}"
DAYS = [TODAY - dt.timedelta(days=n) for n in range(6, -1, -1)]  # a week, oldest first
SLUGS = ("news", "economy", "energy")


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.date]]:
    """The dates of the edition pages rendered (a spy: the real method still runs)."""
    dates: list[dt.date] = []
    real = SitePages.edition

    def spy(self: SitePages, edition: Edition, *args: Any) -> str:
        dates.append(edition.date)
        return real(self, edition, *args)

    monkeypatch.setattr(SitePages, "edition", spy)
    yield dates


@pytest.fixture
def category_feeds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The slugs of the category feeds rendered (a spy, as above)."""
    slugs: list[str] = []
    real = feeds_out.render_category_feed

    def spy(config: Config, slug: str, *args: Any) -> dict[str, bytes]:
        slugs.append(slug)
        return real(config, slug, *args)

    monkeypatch.setattr(feeds_out, "render_category_feed", spy)
    yield slugs


def publish_day(server: FeedServer, upto: int, slugs: tuple[str, ...] = SLUGS) -> None:
    """The site's feeds as they stand on DAYS[upto]: each category's stories so far."""
    for c, slug in enumerate(SLUGS):
        if slug not in slugs:
            continue
        items = [Item(1000 * c + d * 10 + n, f"{slug.title()} story {d}.{n}",
                      late_on(DAYS[d]) - dt.timedelta(hours=n), words=200 + 40 * n)
                 for d in range(upto, -1, -1) for n in range(2)]
        server.routes[f"/category/{slug}/feed/"] = Route(
            200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, rss(slug, items))


@pytest.fixture
def config(tmp_path: Path, feed_server: FeedServer) -> Path:
    categories = [(slug, slug.title(), [feed_server.url(f"/category/{slug}/feed/")])
                  for slug in SLUGS]
    return write_config(tmp_path, categories, transport="file",
                        extra="[feeds]\neditions = 2\narticles = 3")


def fresh_full_rebuild(config: Path) -> dict[str, bytes]:
    """The output a full rebuild writes into an empty folder, from a copy of the state."""
    copy = config.parent / "fresh"
    copy.mkdir()
    text = config.read_text(encoding="utf-8").replace('output = "public"', 'output = "out"')
    (copy / "config.toml").write_text(text, encoding="utf-8")
    (copy / "state").mkdir()
    if (config.parent / "templates").is_dir():
        shutil.copytree(config.parent / "templates", copy / "templates")
    with Store(config.parent / "state" / "digest.sqlite3") as store:
        store.db.execute(f"VACUUM INTO '{copy / 'state' / 'digest.sqlite3'}'")
    run(copy / "config.toml", "build", "--all", "--date", DAYS[-1].isoformat())
    files = snapshot(copy / "out")
    shutil.rmtree(copy)
    return files


def test_building_day_after_day_renders_only_what_changed_and_matches_a_full_rebuild(
        config: Path, feed_server: FeedServer, rendered: list[dt.date],
        category_feeds: list[str]):
    output = config.parent / "public"
    for k, day in enumerate(DAYS):
        # On the fourth day energy publishes nothing new: its feed is left as it was.
        publish_day(feed_server, k, SLUGS if k != 3 else ("news", "economy"))
        run(config, "fetch")
        rendered.clear()
        category_feeds.clear()
        run(config, "build", "--date", day.isoformat())
        # The new edition's page, and the page before it (its "newer" link is new).
        assert sorted(rendered) == DAYS[max(0, k - 1):k + 1]
        assert category_feeds == (list(SLUGS) if k != 3 else ["news", "economy"])
        assert (output / "editions" / f"{day}.html").is_file()
        assert snapshot(output) == fresh_full_rebuild(config)

    # Nothing changed: nothing is rendered and no file is written.
    rendered.clear()
    category_feeds.clear()
    before = {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()}
    out = run(config, "build", "--date", DAYS[-1].isoformat())
    assert "0 file(s) changed" in out
    assert rendered == [] and category_feeds == []
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()} == before

    # --all renders every page again, to the same bytes.
    state = snapshot(output)
    run(config, "build", "--all", "--date", DAYS[-1].isoformat())
    assert sorted(rendered) == DAYS
    assert category_feeds == list(SLUGS)
    assert snapshot(output) == state


def test_a_page_deleted_from_the_output_is_written_again(config: Path,
                                                         feed_server: FeedServer,
                                                         rendered: list[dt.date]):
    output = config.parent / "public"
    publish_day(feed_server, 3)
    run(config, "fetch")
    for day in DAYS[:4]:
        run(config, "build", "--date", day.isoformat())
    full = snapshot(output)
    (output / "editions" / f"{DAYS[1]}.html").unlink()
    (output / "archive.html").unlink()
    (output / "categories" / "news" / "atom.xml").unlink()
    rendered.clear()
    run(config, "build", "--date", DAYS[3].isoformat())
    assert rendered == [DAYS[1]]
    assert snapshot(output) == full
    # A page of no edition (a backup put back?) goes, as a full rebuild would remove it;
    # the editor's own files stay.
    (output / "editions" / "2020-01-01.html").write_text("stale", encoding="utf-8")
    (output / "editions" / "notes.txt").write_text("mine", encoding="utf-8")
    run(config, "build", "--date", DAYS[3].isoformat())
    assert snapshot(output) == {**full, "editions/notes.txt": b"mine"}


@pytest.mark.parametrize("change", ["words", "template", "title"])
def test_a_changed_template_or_config_renders_every_page_again(
        config: Path, feed_server: FeedServer, rendered: list[dt.date], change: str):
    output = config.parent / "public"
    publish_day(feed_server, 3)
    run(config, "fetch")
    for day in DAYS[:4]:
        run(config, "build", "--date", day.isoformat())
    text = config.read_text(encoding="utf-8")
    if change == "words":
        marker = "Stories of the day"
        text += f'\n[words]\nnew_articles = "{marker}"\n'
    elif change == "title":
        marker = "Baku Evening Digest"
        text = text.replace('title = "Aze Daily Digest"', f'title = "{marker}"', 1)
    else:
        marker = "A page from our own template"
        templates = config.parent / "templates"
        templates.mkdir()
        page = (Path(__file__).parents[1] / "templates" / "edition.html").read_text(
            encoding="utf-8")
        (templates / "edition.html").write_text(
            page.replace("{% block main %}", "{% block main %}<p>" + marker + "</p>"),
            encoding="utf-8")
        text = text.replace('lookback_hours', 'templates = "templates"\nlookback_hours', 1)
    config.write_text(text, encoding="utf-8")
    rendered.clear()
    run(config, "build", "--date", DAYS[3].isoformat())
    assert sorted(rendered) == DAYS[:4]
    for day in DAYS[:4]:
        assert marker in (output / "editions" / f"{day}.html").read_text(encoding="utf-8")
    assert snapshot(output) == fresh_full_rebuild(config)

    # A template edited in place (same name, new words) counts as a change too.
    if change == "template":
        edited = (config.parent / "templates" / "edition.html")
        edited.write_text(edited.read_text(encoding="utf-8").replace(marker, "Edited again"),
                          encoding="utf-8")
        rendered.clear()
        run(config, "build", "--date", DAYS[3].isoformat())
        assert sorted(rendered) == DAYS[:4]
        assert "Edited again" in (output / "editions" / f"{DAYS[0]}.html").read_text(
            encoding="utf-8")


def test_an_editions_listed_content_follows_every_change_to_its_articles(tmp_path: Path):
    from test_store import NOW, article

    from digest.models import Section

    with Store(tmp_path / "state.sqlite3") as store:
        store.add_articles([article(n) for n in range(1, 5)], "news", NOW)
        stored = {a.key: a for a in store.candidate_articles(
            NOW - dt.timedelta(days=2), NOW, "2026-11-25")}
        a1, a2, a3, _ = (stored[f"https://news.example.org/?p={n}"] for n in range(1, 5))
        day = dt.date(2026, 11, 25)

        def saved(*sections: Section) -> tuple[int, str]:
            store.save_edition(Edition(day, sections, NOW))
            [entry] = store.edition_entries()
            return entry.articles, entry.content

        first = saved(Section("news", "News\nand more", (a1, a2)))
        assert first[0] == 2  # a title with a line break counts once
        assert saved(Section("news", "News\nand more", (a1, a2))) == first
        seen = {first}
        for sections in [(Section("news", "News\nand more", (a2, a1)),),  # order
                         (Section("news", "News", (a1, a2)),),  # category title
                         (Section("news", "News", (a1,)), Section("world", "World", (a2,))),
                         (Section("news", "News", (a1, a2, a3)),)]:
            changed = saved(*sections)
            assert changed not in seen
            seen.add(changed)
        assert changed[0] == 3
        # Changed behind save_edition's back, the content is worked out afresh.
        store.db.execute("DELETE FROM edition_articles WHERE article_id = ?", (a3.id,))
        [entry] = store.edition_entries()
        assert (entry.articles, entry.content) == saved(Section("news", "News", (a1, a2)))


def test_a_build_cut_short_leaves_nothing_the_next_build_takes_for_done(
        config: Path, feed_server: FeedServer):
    output = config.parent / "public"
    publish_day(feed_server, 3)
    run(config, "fetch")
    for day in DAYS[:4]:
        run(config, "build", "--date", day.isoformat())
    # A template that shows a mark on every page, and fails on the oldest edition's,
    # which is rendered last: the newer pages are rewritten, then the build stops.
    templates = config.parent / "templates"
    templates.mkdir()
    page = (Path(__file__).parents[1] / "templates" / "edition.html").read_text(
        encoding="utf-8")
    (templates / "edition.html").write_text(page.replace(
        "{% block main %}",
        "{% block main %}<p>MARK</p>{% if iso == '" + DAYS[0].isoformat()
        + "' %}{{ no_such_value }}{% endif %}"), encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("lookback_hours", 'templates = "templates"\nlookback_hours',
                                   1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "build", "--date",
                                      DAYS[3].isoformat()])
    assert result.exit_code == 2, result.output  # the editor's template: a configuration error
    assert "MARK" in (output / "editions" / f"{DAYS[3]}.html").read_text(encoding="utf-8")
    # Back to the first config: every page it made is made again, none keeps the mark.
    config.write_text(text, encoding="utf-8")
    run(config, "build", "--date", DAYS[3].isoformat())
    assert not [p for p in output.rglob("*.html") if "MARK" in p.read_text(encoding="utf-8")]
    assert snapshot(output) == fresh_full_rebuild(config)


def test_a_state_file_from_before_incremental_builds_is_migrated_and_built_in_full(
        config: Path, feed_server: FeedServer, rendered: list[dt.date]):
    output = config.parent / "public"
    publish_day(feed_server, 2)
    run(config, "fetch")
    for day in DAYS[:3]:
        run(config, "build", "--date", day.isoformat())
    full = snapshot(output)
    # Back to the schema before the migration that brought incremental builds (and
    # before the sign-up, pause and retraction ones after it), as an earlier digest left
    # the state file.
    [before] = [n for n, m in enumerate(MIGRATIONS)
                if any("published_files" in statement for statement in m)]
    state = config.parent / "state" / "digest.sqlite3"
    with Store(state) as store:
        store.db.executescript(f"""
            DROP TRIGGER edition_articles_added; DROP TRIGGER edition_articles_removed;
            DROP TRIGGER edition_articles_changed; DROP TABLE published_files;
            DROP TABLE edition_bodies; ALTER TABLE editions DROP COLUMN content;
            DELETE FROM meta WHERE key = 'published';
            ALTER TABLE subscribers DROP COLUMN confirm_sent_at;
            ALTER TABLE subscribers DROP COLUMN consent_at;
            ALTER TABLE subscribers DROP COLUMN consent_form;
            ALTER TABLE subscribers DROP COLUMN consent_ip; DROP TABLE forgotten;
            DROP TRIGGER subscribers_pause_ends; DROP TABLE signup_mail;
            DROP TABLE signup_refusals; ALTER TABLE subscribers DROP COLUMN confirm_nonce;
            ALTER TABLE subscribers DROP COLUMN paused_until;
            DROP TABLE bounce_events; DROP TABLE handled_messages;
            ALTER TABLE subscribers DROP COLUMN status_reason;
            ALTER TABLE subscribers DROP COLUMN status_changed_at;
            DROP INDEX article_sources_article;
            ALTER TABLE article_sources DROP COLUMN withdrawn;
            ALTER TABLE feeds DROP COLUMN validators_until;
            DROP TRIGGER article_revised; ALTER TABLE articles DROP COLUMN revision;
            ALTER TABLE articles DROP COLUMN revised_at; DROP TABLE left_messages;
            PRAGMA user_version = {before};""")
    rendered.clear()
    run(config, "build", "--date", DAYS[2].isoformat())
    assert sorted(rendered) == DAYS[:3]
    assert snapshot(output) == full
    with Store(state) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.db.execute("SELECT count(*) FROM editions WHERE content IS NULL"
                                ).fetchone()[0] == 2  # worked out when listed, until saved


def test_a_correction_reaches_a_built_edition_until_it_is_sent(
        config: Path, feed_server: FeedServer, rendered: list[dt.date]):
    """An editor fixes a headline after the morning's build, before the send: the
    rebuilt page, and the email, carry the fix. Once the sending began, the edition
    keeps what it showed."""
    output = config.parent / "public"
    day = DAYS[-1]
    page = output / "editions" / f"{day}.html"

    def news_titled(title: str) -> None:
        items = [Item(n, title if n == 0 else f"News story {n}",
                      late_on(day) - dt.timedelta(hours=n)) for n in range(2)]
        feed_server.routes["/category/news/feed/"] = Route(
            200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, rss("news", items))

    def updated() -> tuple[str, str]:
        """The `updated` of the digest feed's entry for the edition, and of the news feed's
        entry for the story (Atom)."""
        found = []
        for path in ("atom.xml", "categories/news/atom.xml"):
            root = ElementTree.fromstring((output / path).read_bytes())
            entry = root.find(f"{ATOM}entry")
            assert entry is not None
            found.append(entry.findtext(f"{ATOM}updated") or "")
        return found[0], found[1]

    publish_day(feed_server, len(DAYS) - 1, ("economy", "energy"))
    news_titled("Parliament pases the budget")
    run(config, "fetch")
    run(config, "build", "--date", day.isoformat())
    assert "Parliament pases the budget" in page.read_text(encoding="utf-8")
    first = updated()

    time.sleep(1.1)  # the state file keeps times to the second
    news_titled("Parliament passes the budget")
    run(config, "fetch")
    rendered.clear()
    run(config, "build", "--date", day.isoformat())
    assert rendered == [day]  # the page whose article changed, and only it
    text = page.read_text(encoding="utf-8")
    assert "Parliament passes the budget" in text and "pases" not in text
    assert snapshot(output) == fresh_full_rebuild(config)
    # Feed readers are told: both entries are dated by the correction.
    assert all(now > then for now, then in zip(updated(), first, strict=True))

    run(config, "subscribers", "add", "reader@example.org")
    run(config, "send", "--date", day.isoformat())
    [mail] = (config.parent / "outbox").rglob("*.eml")
    assert "Parliament passes the budget" in mail.read_text(encoding="utf-8")
    news_titled("Parliament passes the budget, 71 to 40")
    run(config, "fetch")
    rendered.clear()
    run(config, "build", "--date", day.isoformat())
    assert rendered == []  # sent: the edition keeps what its readers got
    assert "71 to 40" not in page.read_text(encoding="utf-8")
