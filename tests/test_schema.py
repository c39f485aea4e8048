"""The state file's migrations, run statement by statement, and the store's clock."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from digest.models import Article, Edition, StoredArticle
from digest.store import MIGRATIONS, Store, schema

THEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("version", range(len(MIGRATIONS) + 1))
def test_a_state_file_of_any_version_ends_as_a_new_one_with_its_data(tmp_path: Path,
                                                                      version: int):
    fresh = tmp_path / "fresh.sqlite3"
    Store(fresh).close()
    old = tmp_path / "old.sqlite3"
    db = sqlite3.connect(old, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # version 0: as a new file is made, never 0 bytes
    for number in range(version):
        schema.apply(db, MIGRATIONS[number])
        db.execute(f"PRAGMA user_version = {number + 1}")
    if version:
        db.execute("INSERT INTO subscribers (email, name, created_at, updated_at)"
                   " VALUES ('a@example.org', 'A; B', ?, ?)", (THEN.isoformat(),) * 2)
    db.close()
    with Store(old) as store:
        assert store.schema_version == len(MIGRATIONS)
        emails = [(s.email, s.name) for s in store.subscribers()]
    assert emails == ([("a@example.org", "A; B")] if version else [])
    assert schema_of(old) == schema_of(fresh)


def test_terms_kept_before_they_were_told_by_source_count_until_a_source_is_read(
        tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number in range(10):  # a state file of version 10, with an article and its terms
        schema.apply(db, MIGRATIONS[number])
    db.execute("PRAGMA user_version = 10")
    db.execute("INSERT INTO articles (link, title, summary_html, excerpt, published, key,"
               " first_seen, feed_url) VALUES ('https://n.example/1', 'T', '', '', ?, 'k',"
               " ?, 'https://n.example/feed')", (THEN.isoformat(),) * 2)
    db.execute("INSERT INTO article_sources (feed_url, key, article_id)"
               " VALUES ('https://n.example/feed', 'k', 1)")
    db.execute("INSERT INTO article_categories (article_id, category) VALUES (1, 'news')")
    db.execute("INSERT INTO article_terms (article_id, term) VALUES (1, 'Economy')")
    db.close()
    window = (THEN - dt.timedelta(hours=1), THEN + dt.timedelta(hours=1), "2026-03-04")
    with Store(path) as store:
        [kept] = store.candidate_articles(*window)
        assert kept.terms == {"Economy"}
        store.add_articles([replace(article_from(kept), terms=("Energy",))], "news", THEN)
        [read] = store.candidate_articles(*window)
        assert read.terms == {"Energy"}


def article_from(stored: StoredArticle) -> Article:
    return Article(key=stored.key, link=stored.link, title=stored.title,
                   summary_html=stored.summary_html, excerpt=stored.excerpt,
                   author=stored.author, published=stored.published, image=stored.image,
                   reading_minutes=stored.reading_minutes, feed_url="https://n.example/feed")


def test_a_migration_runs_each_statement_whole_or_a_function(tmp_path: Path):
    db = sqlite3.connect(tmp_path / "scratch.sqlite3", isolation_level=None)
    schema.apply(db, (
        "CREATE TABLE notes (text TEXT NOT NULL)",
        "CREATE TABLE log (text TEXT NOT NULL)",
        """CREATE TRIGGER noted AFTER INSERT ON notes BEGIN
        INSERT INTO log VALUES ('noted; ' || NEW.text); END""",
        "INSERT INTO notes VALUES ('one; two')",
    ))

    def uppercase(db: sqlite3.Connection) -> None:
        db.execute("UPDATE notes SET text = upper(text)")

    schema.apply(db, uppercase)
    assert db.execute("SELECT text FROM notes").fetchall() == [("ONE; TWO",)]
    assert db.execute("SELECT text FROM log").fetchall() == [("noted; one; two",)]


def test_the_store_reads_the_time_from_the_clock_it_is_given(tmp_path: Path):
    with Store(tmp_path / "s.sqlite3", clock=lambda: THEN) as store:
        subscriber, outcome = store.upsert_subscriber("a@example.org", "A", ())
        assert (outcome, subscriber.created_at) == ("added", THEN)
        edition = store.save_edition(Edition(dt.date(2026, 3, 4), (), THEN))
        assert edition.id is not None
        store.record_delivery(edition.id, subscriber.id, "unknown", "no reply")
        [unconfirmed] = store.unconfirmed()
        assert (unconfirmed.email, unconfirmed.when) == ("a@example.org", THEN)
