"""Editions, and what the published files and feed bodies were rendered from."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from digest.errors import DigestError
from digest.models import Edition, Section
from digest.store.articles import article_from_row
from digest.store.core import StoreCore, _dt, _ts

# What an edition holds, as text: the number of articles on the first line, then an
# element per article with its position, revision, category and category title. Equal
# texts mean equal editions whatever order group_concat took the rows in (an article's
# row changes only with its revision, and not at all once the edition is frozen).
EDITION_CONTENT = """(SELECT count(*) || char(10) || group_concat(
                                ea.position || ':' || ea.article_id || '.' || a.revision
                                || ':' || ea.category || ':' || ea.category_title, char(10))
                      FROM edition_articles ea JOIN articles a ON a.id = ea.article_id
                      WHERE ea.edition_id = editions.id)"""


@dataclass(frozen=True)
class EditionEntry:
    """An edition as the site's lists show it, without its articles' text."""

    date: dt.date
    articles: int
    content: str  # what it holds (articles, categories, order): changes when the edition does


def edition_from_row(db: sqlite3.Connection, row: sqlite3.Row) -> Edition:
    """The edition of an `editions` row, with its articles in edition order."""
    rows = db.execute(
        """SELECT a.*, ea.category, ea.category_title FROM edition_articles ea
           JOIN articles a ON a.id = ea.article_id
           WHERE ea.edition_id = ? ORDER BY ea.position""",
        (row["id"],),
    ).fetchall()
    sections: list[Section] = []
    for r in rows:
        article = article_from_row(r, frozenset([r["category"]]))
        if sections and sections[-1].slug == r["category"]:
            last = sections[-1]
            sections[-1] = Section(last.slug, last.title, (*last.articles, article))
        else:
            sections.append(Section(r["category"], r["category_title"], (article,)))
    return Edition(
        date=dt.date.fromisoformat(row["date"]),
        sections=tuple(sections),
        created_at=dt.datetime.fromisoformat(row["created_at"]),  # NOT NULL
        frozen=row["frozen_at"] is not None,
        id=row["id"],
    )


class EditionsMixin(StoreCore):
    """Editions, and what the published files were rendered from."""

    def edition(self, date: dt.date) -> Edition | None:
        row = self.db.execute("SELECT * FROM editions WHERE date = ?", (date.isoformat(),))
        found = row.fetchone()
        return edition_from_row(self.db, found) if found else None

    def editions(self, limit: int | None = None) -> list[Edition]:
        """Editions with articles, newest date first."""
        sql = "SELECT * FROM editions ORDER BY date DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [edition_from_row(self.db, r) for r in self.db.execute(sql, params).fetchall()]

    def edition_entries(self) -> list[EditionEntry]:
        """Every edition, newest date first, without its articles: for archive lists and
        signatures, in one quick query."""
        rows = self.db.execute(
            f"""SELECT date, created_at, coalesce(content, {EDITION_CONTENT})
               FROM editions ORDER BY date DESC"""
        )
        return [EditionEntry(dt.date.fromisoformat(date),
                             int(content.partition("\n")[0]) if content else 0,
                             f"{created}\n{content or ''}")
                for date, created, content in rows]

    def published_files(self) -> dict[str, str]:
        """{path: signature} of the files as last published."""
        return dict(self.db.execute("SELECT path, signature FROM published_files").fetchall())

    def published_site(self) -> str | None:
        """The signature of everything last published, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'published'").fetchone()
        return str(row[0]) if row else None

    def forget_published(self, paths: Iterable[str] | None = None) -> None:
        """Before files are written again: forget what `paths` (None: all) were made from,
        and what the whole was, so that a build cut short claims nothing it did not do."""
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = 'published'")
            if paths is None:
                db.execute("DELETE FROM published_files")
            else:
                db.executemany("DELETE FROM published_files WHERE path = ?",
                               [(p,) for p in paths])

    def edition_bodies(self) -> dict[str, tuple[str, str]]:
        """{date: (signature, body)} of the editions' web bodies kept for the feeds."""
        return {date: (signature, body) for date, signature, body in self.db.execute(
            "SELECT date, signature, body FROM edition_bodies")}

    def save_published(self, files: dict[str, str], site: str,
                       bodies: dict[str, tuple[str, str]]) -> None:
        """Remember what the published files were rendered from (all at once, replacing
        what was there), and the web bodies to keep."""
        with self.transaction() as db:
            db.execute("DELETE FROM published_files")
            db.executemany("INSERT INTO published_files (path, signature) VALUES (?, ?)",
                           sorted(files.items()))
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('published', ?)",
                       (site,))
            db.execute("DELETE FROM edition_bodies")
            db.executemany("INSERT INTO edition_bodies (date, signature, body) VALUES (?, ?, ?)",
                           [(date, sig, body) for date, (sig, body) in sorted(bodies.items())])

    def save_edition(self, edition: Edition) -> Edition:
        """Write an edition (replacing an unfrozen one of the same date); return it stored."""
        date = edition.date.isoformat()
        with self.transaction() as db:
            row = db.execute("SELECT id, frozen_at FROM editions WHERE date = ?", (date,))
            found = row.fetchone()
            if found is not None and found["frozen_at"] is not None:
                raise DigestError(f"the edition of {date} was already sent and cannot change")
            if found is None:
                cur = db.execute(
                    "INSERT INTO editions (date, created_at) VALUES (?, ?)",
                    (date, _ts(edition.created_at)),
                )
                edition_id = cur.lastrowid
            else:
                edition_id = found["id"]
                db.execute("DELETE FROM edition_articles WHERE edition_id = ?", (edition_id,))
            position = 0
            for section in edition.sections:
                for article in section.articles:
                    db.execute(
                        """INSERT INTO edition_articles
                             (edition_id, article_id, category, category_title, position)
                           VALUES (?, ?, ?, ?, ?)""",
                        (edition_id, article.id, section.slug, section.title, position),
                    )
                    position += 1
            db.execute(f"UPDATE editions SET content = {EDITION_CONTENT} WHERE id = ?",
                       (edition_id,))
        stored = self.edition(edition.date)
        assert stored is not None
        return stored

    def delete_edition(self, date: dt.date) -> None:
        """Drop an unfrozen edition that no longer has any article."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM editions WHERE date = ? AND frozen_at IS NULL", (date.isoformat(),)
            )

    def freeze_edition(self, edition_id: int, when: dt.datetime) -> None:
        self.db.execute(
            "UPDATE editions SET frozen_at = coalesce(frozen_at, ?) WHERE id = ?",
            (_ts(when), edition_id),
        )

    def frozen_at(self, edition_id: int) -> dt.datetime | None:
        row = self.db.execute("SELECT frozen_at FROM editions WHERE id = ?", (edition_id,))
        return _dt(row.fetchone()[0])

    def complete_edition(self, edition_id: int, when: dt.datetime) -> None:
        self.db.execute(
            "UPDATE editions SET completed_at = coalesce(completed_at, ?) WHERE id = ?",
            (_ts(when), edition_id),
        )

    def unfinished_editions(self, since: dt.date) -> list[Edition]:
        """Editions whose delivery began on or after `since` and has not finished."""
        rows = self.db.execute(
            """SELECT * FROM editions WHERE frozen_at IS NOT NULL AND completed_at IS NULL
               AND date >= ? ORDER BY date""",
            (since.isoformat(),),
        ).fetchall()
        return [edition_from_row(self.db, r) for r in rows]

