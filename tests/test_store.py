"""The SQLite state: versioned migrations, and editions that never change once sent."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from digest.deliver.policy import receives
from digest.errors import DigestError
from digest.models import Article, Edition, Section, StoredArticle
from digest.store import MIGRATIONS, Store, schema

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)


def article(n: int, **changes: object) -> Article:
    values: dict[str, object] = dict(
        key=f"https://news.example.org/?p={n}", link=f"https://news.example.org/{n}/",
        title=f"Story {n}", summary_html="<p>s</p>", excerpt="s", author="A",
        published=NOW - dt.timedelta(hours=n), image=None, reading_minutes=2,
        feed_url="https://news.example.org/category/news/feed/")
    values.update(changes)
    return Article(**values)  # type: ignore[arg-type]


def test_a_new_state_file_is_migrated_to_the_latest_version(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
    with Store(path) as store:  # opening again migrates nothing and keeps data
        assert store.schema_version == len(MIGRATIONS)


def test_a_state_file_from_a_newer_digest_is_refused(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(DigestError, match="newer than this digest knows"):
        Store(path)


def test_articles_are_stored_once_with_every_category(tmp_path: Path):
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.add_articles([article(1), article(2)], "economy", NOW) == 2
        assert store.add_articles([article(1)], "energy", NOW) == 0
        found = store.candidate_articles(NOW - dt.timedelta(days=2), NOW, "2026-11-25")
        cats = {a.key.rsplit("=", 1)[1]: a.categories for a in found}
        assert cats == {"1": {"economy", "energy"}, "2": {"economy"}}


def test_corrections_reach_an_edition_until_its_sending_begins(tmp_path: Path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([article(1)], "news", NOW)
        store.add_articles([article(1, title="Story 1 (corrected)")], "news", NOW)
        [stored] = store.candidate_articles(NOW - dt.timedelta(days=2), NOW, "2026-11-25")
        assert stored.title == "Story 1 (corrected)"
        edition = store.save_edition(Edition(dt.date(2026, 11, 25),
                                             (Section("news", "News", (stored,)),), NOW))
        assert edition.id is not None
        [before] = store.edition_entries()
        # Built (its page may be on the site) but not yet sent: it takes corrections, and
        # what it holds reads differently, so its page is rendered again.
        later = NOW + dt.timedelta(hours=1)
        store.add_articles([article(1, title="Story 1 (corrected again)")], "news", later)
        built = store.edition(dt.date(2026, 11, 25))
        assert built is not None and not built.frozen
        [corrected] = built.sections[0].articles
        assert corrected.title == "Story 1 (corrected again)"
        assert (corrected.first_seen, corrected.revised_at) == (NOW, later)
        [after] = store.edition_entries()
        assert after.content != before.content and after.articles == before.articles
        store.add_articles([article(1, title="Story 1 (corrected again)")], "news", NOW)
        assert store.edition_entries() == [after]  # read again unchanged: no new revision
        store.freeze_edition(edition.id, NOW)  # its sending begins
        store.add_articles([article(1, title="Rewritten later")], "news", NOW)
        kept = store.edition(dt.date(2026, 11, 25))
        assert kept is not None and kept.frozen
        assert kept.sections[0].articles[0].title == "Story 1 (corrected again)"
        assert store.edition_entries() == [after]
        with pytest.raises(DigestError, match="already sent and cannot change"):
            store.save_edition(Edition(dt.date(2026, 11, 25), (), NOW))


FEED_A = "https://one.example.org/feed/"
FEED_B = "https://two.example.org/feed/"


def stored(store: Store) -> list[StoredArticle]:
    return sorted(store.candidate_articles(NOW - dt.timedelta(days=2), NOW, "2026-11-25"),
                  key=lambda a: a.id)


def test_a_guid_names_an_article_only_within_its_feed(tmp_path: Path):
    one = article(1, key="1", link="https://one.example.org/story/", title="One's story",
                  feed_url=FEED_A, canonical="https://one.example.org/story/")
    two = article(1, key="1", link="https://two.example.org/other/", title="Two's story",
                  feed_url=FEED_B, canonical="https://two.example.org/other/")
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.add_articles([one], "news", NOW) == 1
        assert store.add_articles([two], "economy", NOW) == 1  # not an update of One's
        assert store.add_articles([one], "news", NOW) == 0
        assert store.add_articles([two], "economy", NOW) == 0
        found = stored(store)
    assert [(a.title, a.link, a.categories) for a in found] == [
        ("One's story", "https://one.example.org/story/", {"news"}),
        ("Two's story", "https://two.example.org/other/", {"economy"})]
    assert len({a.key for a in found}) == 2  # published ids stay distinct


def test_two_feeds_items_are_one_article_when_their_canonical_links_match(tmp_path: Path):
    link = "https://news.example.org/2026/11/story/"
    rss = article(1, key="https://news.example.org/?p=1", link=link, canonical=link)
    other = article(1, key="tag:other,2026:1", link=link, canonical=link, feed_url=FEED_B)
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.add_articles([rss], "news", NOW) == 1
        assert store.add_articles([other], "economy", NOW) == 0
        [one] = stored(store)
    assert one.categories == {"news", "economy"}


def test_the_same_article_from_two_feeds_is_merged_never_emptied(tmp_path: Path):
    link = "https://news.example.org/2026/11/story/"
    full = article(1, link=link, canonical=link, author="Leyla Mammadova",
                   summary_html="<p>" + "word " * 300 + "</p>", excerpt="word word",
                   reading_minutes=2, image="https://news.example.org/big.jpg",
                   image_size=(1200, 800))
    excerpt = article(1, link=link, canonical=link, feed_url=FEED_B, author=None,
                      summary_html="<p>word word […]</p>", excerpt="word word",
                      reading_minutes=None, image="https://news.example.org/small.jpg",
                      image_size=(150, 100), published=None)
    for order in ((full, excerpt), (excerpt, full)):
        with Store(tmp_path / f"s{order[0] is full}.sqlite3") as store:
            for a in order:
                store.add_articles([a], "news", NOW)
            [one] = stored(store)
        assert one.author == "Leyla Mammadova", order
        assert one.summary_html == full.summary_html
        assert one.reading_minutes == 2
        assert (one.image, one.image_size) == ("https://news.example.org/big.jpg", (1200, 800))
        assert one.published == full.published


def test_a_correction_from_the_same_feed_never_empties_a_known_value(tmp_path: Path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([article(1)], "news", NOW)
        store.add_articles([article(1, title="Story 1 (corrected)", author=None,
                                    summary_html="", published=None)], "news", NOW)
        [one] = stored(store)
    assert (one.title, one.author, one.summary_html) == ("Story 1 (corrected)", "A", "<p>s</p>")
    assert one.published == NOW - dt.timedelta(hours=1)


def test_a_state_file_of_version_2_keeps_its_articles_and_their_identity(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    for number, migration in enumerate(MIGRATIONS[:2]):
        schema.apply(db, migration)
        db.execute(f"PRAGMA user_version = {number + 1}")
    for n, link in ((1, "https://news.example.org/1/"), (2, "https://news.example.org/1/"),
                    (3, "https://news.example.org/3/")):
        db.execute("INSERT INTO articles (key, link, title, summary_html, excerpt, first_seen,"
                   " feed_url) VALUES (?, ?, ?, '', '', ?, ?)",
                   (f"guid-{n}", link, f"Story {n}", NOW.isoformat(), FEED_A))
        db.execute("INSERT INTO article_categories VALUES (?, 'news')", (n,))
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        # The same feed's items are the articles they were.
        assert store.add_articles([article(3, key="guid-3", feed_url=FEED_A,
                                           link="https://news.example.org/3/",
                                           canonical="https://news.example.org/3/")],
                                  "news", NOW) == 0
        # Another feed's item with a known link joins that article...
        assert store.add_articles([article(3, key="elsewhere", feed_url=FEED_B,
                                           link="https://news.example.org/3/",
                                           canonical="https://news.example.org/3/")],
                                  "economy", NOW) == 0
        # ...but a link two old articles shared (a feed's own link) names neither.
        assert store.add_articles([article(4, key="guid-4", feed_url=FEED_B,
                                           link="https://news.example.org/1/",
                                           canonical="https://news.example.org/1/")],
                                  "economy", NOW) == 1
        assert store.article_count() == 4


def test_one_feeds_items_with_distinct_guids_stay_distinct_whatever_their_links(
        tmp_path: Path):
    # A live blog: every update its own guid, all linking to the same page.
    page = "https://news.example.org/2026/11/live/"
    updates = [article(n, key=f"live-{n}", link=page, canonical=page, title=f"Update {n}")
               for n in (1, 2, 3)]
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.add_articles(updates, "news", NOW) == 3
        # Another feed carrying the page joins the first of them, and adds nothing.
        assert store.add_articles([article(9, key="other", link=page, canonical=page,
                                           feed_url=FEED_B)], "economy", NOW) == 0
        assert [a.title for a in stored(store)] == ["Update 1", "Update 2", "Update 3"]


def test_the_recipient_query_and_the_claim_agree_with_the_delivery_policy(tmp_path: Path):
    day = dt.date(2026, 12, 10)
    with Store(tmp_path / "s.sqlite3") as store:
        edition = store.save_edition(Edition(day, (), dt.datetime(2026, 12, 10, tzinfo=dt.UTC)))
        assert edition.id is not None
        pauses = {"long": day + dt.timedelta(days=3), "last-day": day,
                  "over": day - dt.timedelta(days=1), "active": None}
        for name, until in pauses.items():
            added, _ = store.upsert_subscriber(f"{name}@example.org", name, ["news"])
            stored = store.manage_subscriber(added.id, ["news", "sport"], until)
            assert stored is not None and stored.paused_until == until
            assert stored.status == ("active" if until is None else "paused")
            assert stored.categories == {"news", "sport"}
        gone, _ = store.upsert_subscriber("gone@example.org", "", [])
        store.set_subscriber_status(gone.email, "unsubscribed")
        assert store.manage_subscriber(gone.id, ["news"], None) is None  # changes nothing
        later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        owed = {s.email for s, _ in store.pending_recipients(edition.id, later)}
        everyone = list(store.subscribers())
        assert owed == {s.email for s in everyone if receives(s, day)}
        assert owed == {"over@example.org", "active@example.org"}
        assert {s.email for s in everyone if store.still_active(s.id, edition.id)} == owed
        assert sum(store.owed_counts(edition.id, later)) == len(owed)


def test_an_article_every_source_withdrew_is_no_candidate_but_stays_in_its_edition(
        tmp_path: Path):
    since = NOW - dt.timedelta(days=2)

    def item(n: int, feed: str) -> Article:
        link = f"https://news.example.org/{n}/"
        return article(n, feed_url=feed, link=link, canonical=link)

    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([item(1, FEED_A), item(2, FEED_A)], "news", NOW)
        store.add_articles([item(1, FEED_B)], "economy", NOW)  # the same article
        assert sorted(k for k, _ in store.source_keys(FEED_A, since)) == [
            article(1).key, article(2).key]
        [first, second] = stored(store)
        yesterday = store.save_edition(Edition(dt.date(2026, 11, 24),
                                               (Section("news", "News", (second,)),), NOW))
        assert yesterday.id is not None
        store.freeze_edition(yesterday.id, NOW)

        # One of two sources withdraws article 1: the other still lists it. It is still a
        # candidate, carried now by the other source's category alone.
        store.withdraw(FEED_A, [article(1).key, article(2).key], NOW)
        assert [(a.id, a.categories) for a in stored(store)] == [(first.id, {"economy"})]
        assert store.category_articles("news", 10) == []
        assert store.source_keys(FEED_A, since) == []
        assert [a.id for a in store.category_articles("economy", 10)] == [first.id]
        store.withdraw(FEED_B, [article(1).key], NOW)
        assert stored(store) == []
        assert store.category_articles("economy", 10) == []
        assert store.category_articles("news", 10) == []
        # The edition that showed article 2 keeps it: sent editions are history.
        kept = store.edition(dt.date(2026, 11, 24))
        assert kept is not None and [a.id for a in kept.sections[0].articles] == [second.id]

        # Listed again (published again): a candidate again, the same article.
        assert store.add_articles([item(1, FEED_A)], "news", NOW) == 0
        assert [a.id for a in stored(store)] == [first.id]


def test_an_article_without_recorded_sources_is_never_taken_for_withdrawn(tmp_path: Path):
    # State files from before migration 4 may hold articles with no source rows.
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([article(1)], "news", NOW)
        store.db.execute("DELETE FROM article_sources")
        assert len(stored(store)) == 1


def test_a_post_moved_to_another_category_is_filed_there(tmp_path: Path):
    """Each read of a source replaces the terms it gave; a source that withdrew the post
    (its category feed no longer lists it) names its category no more, and no longer
    carries it into that category."""
    economy = "https://news.example.org/category/economy/feed/"
    energy = "https://news.example.org/category/energy/feed/"
    since, until = NOW - dt.timedelta(days=2), NOW

    def terms(store: Store) -> frozenset[str]:
        [found] = store.candidate_articles(since, until, "2026-11-25")
        return found.terms

    def carried_by(store: Store) -> frozenset[str]:
        [found] = store.candidate_articles(since, until, "2026-11-25")
        return found.categories

    def post(feed_url: str, *terms: str) -> Article:  # one story: the same link in both
        return article(1, feed_url=feed_url, terms=terms,
                       canonical="https://news.example.org/1/")

    with Store(tmp_path / "state.sqlite3") as store:
        store.add_articles([post(economy, "Economy")], "economy", NOW)
        assert terms(store) == {"Economy"}
        # Moved: the energy feed lists it under its new category...
        store.add_articles([post(energy, "Energy")], "energy", NOW)
        assert terms(store) == {"Economy", "Energy"}  # the economy feed was not read again
        # ... and the economy feed, read again, no longer does.
        assert carried_by(store) == {"economy", "energy"}
        store.withdraw(economy, [article(1).key], NOW)
        assert terms(store) == {"Energy"}
        assert carried_by(store) == {"energy"}  # nor does the economy feed carry it
        assert store.category_articles("economy", 10, ("economy", "Economy")) == []
        assert [a.id for a in store.category_articles("energy", 10, ("energy",))] == [1]
        # A source read again says what it says now, not what it said before.
        store.add_articles([post(energy, "Energy", "Climate")], "energy", NOW)
        store.add_articles([post(energy, "Climate")], "energy", NOW)
        assert terms(store) == {"Climate"}
