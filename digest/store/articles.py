"""Articles: stored as each feed gives them, merged across feeds, read back for
editions and category feeds."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import replace

from digest.models import Article, StoredArticle
from digest.store.core import StoreCore, _dt, _ts

TERM_SEPARATOR = "\x1f"  # joins an article's terms in queries: never in a category name


def _stands(row: str) -> str:
    """SQL: a row (its alias) of article_terms or article_categories counts unless the
    source that gave it (whose feed carried the article) has withdrawn the article since."""
    return f"""NOT EXISTS (SELECT 1 FROM article_sources s
                 WHERE s.article_id = {row}.article_id AND s.feed_url = {row}.feed_url
                   AND s.withdrawn IS NOT NULL)"""


TERM_STANDS = _stands("t")
CATEGORY_STANDS = _stands("c")

# An article `a` that every source which gave it has withdrawn (the site retracted it):
# one look at its sources (min is NULL when it has none, 0 when one still lists it).
RETRACTED = """coalesce((SELECT min(s.withdrawn IS NOT NULL) FROM article_sources s
                      WHERE s.article_id = a.id), 0)"""


# The columns a read of the article sets again, in the order `_merged` gives them.
MERGED_COLUMNS = ("link", "title", "summary_html", "excerpt", "author", "published", "image",
                  "reading_minutes", "image_width", "image_height", "canonical")
MERGED_SET = ", ".join(f"{name} = ?" for name in MERGED_COLUMNS)
# The article of `articles.id` is in an edition whose sending has begun.
IN_FROZEN_EDITION = """SELECT 1 FROM edition_articles ea JOIN editions e ON e.id = ea.edition_id
                       WHERE ea.article_id = articles.id AND e.frozen_at IS NOT NULL"""


def _merged(row: sqlite3.Row, a: Article, same_source: bool) -> tuple[object, ...]:
    """The stored article's values after `a` is read again: from its own feed, a
    correction (every known value wins); from another feed, a merge (known over empty,
    fuller text over an excerpt, the larger picture). Empty never replaces known."""

    def known(new: object, old: object) -> object:
        return new if new not in (None, "") and (same_source or old in (None, "")) else old

    fuller = (len(a.summary_html) > len(row["summary_html"] or "")
              or not row["summary_html"]) if not same_source else bool(a.summary_html)
    summary, excerpt = ((a.summary_html, a.excerpt) if fuller and a.summary_html
                        else (row["summary_html"], row["excerpt"]))
    minutes = row["reading_minutes"]
    if a.reading_minutes is not None and (same_source or minutes is None
                                          or a.reading_minutes > minutes):
        minutes = a.reading_minutes
    image, width, height = row["image"], row["image_width"], row["image_height"]
    if a.image and (same_source or not image or _larger(a.image_size, width, height)):
        image = a.image
        width, height = a.image_size or (None, None)
    return (known(a.link, row["link"]) if a.canonical else row["link"] or a.link,
            known(a.title, row["title"]), summary, excerpt, known(a.author, row["author"]),
            known(_ts(a.published), row["published"]), image, minutes, width, height,
            known(a.canonical, row["canonical"]))


def _larger(size: tuple[int, int] | None, width: int | None, height: int | None) -> bool:
    """Whether a picture of `size` is larger than the stored one (unknown sizes: no)."""
    if size is None:
        return False
    return not (width and height) or size[0] * size[1] > width * height


def article_from_row(row: sqlite3.Row, categories: frozenset[str]) -> StoredArticle:
    return StoredArticle(
        id=row["id"], key=row["key"], link=row["link"], title=row["title"],
        summary_html=row["summary_html"], excerpt=row["excerpt"], author=row["author"],
        published=_dt(row["published"]),
        first_seen=dt.datetime.fromisoformat(row["first_seen"]),  # NOT NULL
        revised_at=_dt(row["revised_at"]),
        image=row["image"], reading_minutes=row["reading_minutes"], categories=categories,
        image_size=((row["image_width"], row["image_height"])
                    if row["image_width"] and row["image_height"] else None),
    )


def _insert_article(db: sqlite3.Connection, a: Article, seen: dt.datetime) -> int:
    key = a.key
    if db.execute("SELECT 1 FROM articles WHERE key = ?", (key,)).fetchone():
        # Another feed's article under the same guid: a different story.
        key = f"{a.feed_url} {a.key}"
        while db.execute("SELECT 1 FROM articles WHERE key = ?", (key,)).fetchone():
            key += "+"
    width, height = a.image_size or (None, None)
    cur = db.execute(
        """INSERT INTO articles (link, title, summary_html, excerpt, author,
               published, image, reading_minutes, image_width, image_height,
               canonical, key, first_seen, feed_url)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (a.link, a.title, a.summary_html, a.excerpt, a.author, _ts(a.published),
         a.image, a.reading_minutes, width, height, a.canonical, key, _ts(seen),
         a.feed_url),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


class ArticlesMixin(StoreCore):
    """Articles: stored from the feeds, read for editions and category feeds."""

    def add_articles(self, articles: Iterable[Article], category: str, seen: dt.datetime) -> int:
        """Store articles found in `category`'s feed; return how many were new.

        An item is the article its feed already gave under the same guid, else the
        article another feed gave with the same canonical link, else a new one. The
        same feed's item corrects what was stored (but never with empty values); another
        feed's copy is merged: known values over empty ones, the fuller text, the larger
        picture. A read that changes the article counts a revision. An edition takes its
        articles' corrections until its sending begins (frozen): from then on it keeps
        what it showed."""
        new = 0
        with self.transaction() as db:
            for a in articles:
                row = db.execute("SELECT a.* FROM article_sources s JOIN articles a"
                                 " ON a.id = s.article_id WHERE s.feed_url = ? AND s.key = ?",
                                 (a.feed_url, a.key)).fetchone()
                same_source = row is not None
                if row is None and a.canonical:
                    # Another feed's article with this link; never one of this feed's own
                    # (its items with distinct guids are distinct, as a live blog's are).
                    row = db.execute(
                        """SELECT * FROM articles a WHERE canonical = ? AND NOT EXISTS (
                               SELECT 1 FROM article_sources s
                               WHERE s.article_id = a.id AND s.feed_url = ?)
                           ORDER BY id LIMIT 1""", (a.canonical, a.feed_url)).fetchone()
                if row is None:
                    article_id = _insert_article(db, a, seen)
                    new += 1
                else:
                    article_id = row["id"]
                    merged = _merged(row, a, same_source)
                    if merged != tuple(row[name] for name in MERGED_COLUMNS):
                        db.execute(
                            f"""UPDATE articles SET {MERGED_SET}, revision = revision + 1,
                                   revised_at = ?
                               WHERE id = ? AND NOT EXISTS ({IN_FROZEN_EDITION})""",
                            (*merged, _ts(seen), article_id),
                        )
                # Listed again: no longer withdrawn (a post published again).
                db.execute("INSERT INTO article_sources (feed_url, key, article_id)"
                           " VALUES (?, ?, ?) ON CONFLICT (feed_url, key) DO UPDATE"
                           " SET withdrawn = NULL WHERE withdrawn IS NOT NULL",
                           (a.feed_url, a.key, article_id))
                db.execute("DELETE FROM article_categories WHERE article_id = ? AND"
                           " category = ? AND feed_url = ''", (article_id, category))
                db.execute("INSERT OR IGNORE INTO article_categories (article_id, category,"
                           " feed_url) VALUES (?, ?, ?)", (article_id, category, a.feed_url))
                # Every source's terms count (a feed names a post's categories by name,
                # the REST API by slug and name), as its latest read gave them: a post
                # moved to another category is filed there. (Terms kept before sources
                # were told apart, under '', go with the first read of any source.)
                db.execute("DELETE FROM article_terms WHERE article_id = ? AND feed_url IN"
                           " (?, '')", (article_id, a.feed_url))
                db.executemany(
                    "INSERT OR IGNORE INTO article_terms (article_id, feed_url, term)"
                    " VALUES (?, ?, ?)", [(article_id, a.feed_url, term) for term in a.terms])
        return new

    def source_keys(self, feed_url: str, since: dt.datetime
                    ) -> list[tuple[str, dt.datetime | None]]:
        """The keys (and dates) of the articles `feed_url` gave, dated after `since`, that
        it has not withdrawn."""
        rows = self.db.execute(
            """SELECT s.key, a.published FROM article_sources s
               JOIN articles a ON a.id = s.article_id
               WHERE s.feed_url = ? AND s.withdrawn IS NULL AND a.published > ?""",
            (feed_url, _ts(since)))
        return [(r["key"], _dt(r["published"])) for r in rows]

    def withdraw(self, feed_url: str, keys: Iterable[str], when: dt.datetime) -> None:
        """`feed_url` no longer lists these articles (see `sources.feed_state.withdrawn`).
        An article every source of which withdrew it is no candidate for an edition; the
        editions that hold it keep it."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE article_sources SET withdrawn = ? WHERE feed_url = ? AND key = ?"
                " AND withdrawn IS NULL", [(_ts(when), feed_url, key) for key in keys])

    def candidate_articles(self, since: dt.datetime, until: dt.datetime,
                           edition_date: str) -> list[StoredArticle]:
        """Articles dated in (since, until] that no other edition holds, and that not
        every source retracted."""
        rows = self.db.execute(
            # By the date index: left to itself SQLite scans every article for the GROUP BY.
            f"""SELECT a.*, group_concat(DISTINCT c.category) AS cats,
                 (SELECT group_concat(t.term, char(31)) FROM article_terms t
                   WHERE t.article_id = a.id AND {TERM_STANDS}) AS terms
               FROM articles a INDEXED BY articles_when
               JOIN article_categories c ON c.article_id = a.id AND {CATEGORY_STANDS}
               WHERE coalesce(a.published, a.first_seen) > ?
                 AND coalesce(a.published, a.first_seen) <= ?
                 AND NOT {RETRACTED}
                 AND NOT EXISTS (  -- looked up per candidate: the archive is not read
                    SELECT 1 FROM edition_articles ea JOIN editions e ON e.id = ea.edition_id
                    WHERE ea.article_id = a.id AND e.date != ?)
               GROUP BY a.id""",
            (_ts(since), _ts(until), edition_date),
        )
        return [replace(article_from_row(r, frozenset(r["cats"].split(","))),
                        terms=frozenset((r["terms"] or "").split(TERM_SEPARATOR)) - {""})
                for r in rows]

    def category_articles(self, category: str, limit: int,
                          names: tuple[str, ...] = ()) -> list[StoredArticle]:
        """The newest `limit` articles any of `category`'s feeds carried, or that name it
        themselves by one of `names` (its slug and title, case aside), newest first; not
        those the site retracted (their links lead nowhere now), nor those only a source
        that has since withdrawn them put in the category.

        An article can belong to several categories; each keeps all of them. The newest
        that were ever in the category are read first, a page at a time, and only they
        are checked against their sources: the archive's thousands are never looked at
        one by one.
        """
        marks = ", ".join("?" for _ in names) or "NULL"
        found: list[StoredArticle] = []
        page, offset = limit + 8, 0
        while len(found) < limit:
            # Down the date index (ties in id order, as the index keeps them) until a
            # page of members is found: the category's thousands are never sorted.
            ids = [r[0] for r in self.db.execute(
                f"""SELECT a.id FROM articles a INDEXED BY articles_when
                   WHERE a.id IN (SELECT article_id FROM article_categories WHERE category = ?
                                  UNION SELECT article_id FROM article_terms
                                  WHERE term COLLATE NOCASE IN ({marks}))
                   ORDER BY coalesce(a.published, a.first_seen) DESC, a.id DESC
                   LIMIT ? OFFSET ?""", (category, *names, page, offset))]
            if not ids:
                break
            offset += len(ids)
            rows = {r["id"]: r for r in self.db.execute(
                f"""SELECT a.*, (SELECT group_concat(DISTINCT c.category)
                                 FROM article_categories c
                                 WHERE c.article_id = a.id AND {CATEGORY_STANDS}) AS cats,
                       EXISTS (SELECT 1 FROM article_terms t WHERE t.article_id = a.id
                               AND term COLLATE NOCASE IN ({marks}) AND {TERM_STANDS})
                           AS named,
                       {RETRACTED} AS retracted
                   FROM articles a WHERE a.id IN ({", ".join("?" for _ in ids)})""",
                (*names, *ids))}
            for article_id in ids:
                row = rows[article_id]
                cats = frozenset((row["cats"] or "").split(",")) - {""}
                if not row["retracted"] and (category in cats or row["named"]):
                    found.append(article_from_row(row, cats))
        return found[:limit]

    def article_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

