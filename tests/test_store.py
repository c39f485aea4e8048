"""The SQLite state: versioned migrations, and editions that never change once sent."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.models import Article, Edition, Section
from digest.store import MIGRATIONS, Store

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


def test_corrections_reach_the_store_until_the_article_is_in_a_sent_edition(tmp_path: Path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles([article(1)], "news", NOW)
        store.add_articles([article(1, title="Story 1 (corrected)")], "news", NOW)
        [stored] = store.candidate_articles(NOW - dt.timedelta(days=2), NOW, "2026-11-25")
        assert stored.title == "Story 1 (corrected)"
        edition = store.save_edition(Edition(dt.date(2026, 11, 25),
                                             (Section("news", "News", (stored,)),), NOW))
        assert edition.id is not None
        store.freeze_edition(edition.id, NOW)
        store.add_articles([article(1, title="Rewritten later")], "news", NOW)
        kept = store.edition(dt.date(2026, 11, 25))
        assert kept is not None and kept.frozen
        assert kept.sections[0].articles[0].title == "Story 1 (corrected)"
        with pytest.raises(DigestError, match="already sent and cannot change"):
            store.save_edition(Edition(dt.date(2026, 11, 25), (), NOW))
