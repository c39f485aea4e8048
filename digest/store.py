"""SQLite state: the schema with numbered migrations, and every query the digest makes."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from digest.errors import DigestError
from digest.models import (
    SUBSCRIBER_STATUSES,
    Article,
    Edition,
    FeedState,
    Section,
    StoredArticle,
    Subscriber,
)

# Each migration moves the schema from version N to N+1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        moved_to TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        retry_after TEXT,
        last_success TEXT,
        last_error TEXT,
        failing_since TEXT
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        link TEXT NOT NULL,
        title TEXT NOT NULL,
        summary_html TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        author TEXT,
        published TEXT,
        first_seen TEXT NOT NULL,
        image TEXT,
        reading_minutes INTEGER,
        feed_url TEXT NOT NULL
    );
    CREATE INDEX articles_when ON articles (coalesce(published, first_seen));
    CREATE TABLE article_categories (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        category TEXT NOT NULL,
        PRIMARY KEY (article_id, category)
    );
    CREATE TABLE editions (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        frozen_at TEXT,
        completed_at TEXT
    );
    CREATE TABLE edition_articles (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL UNIQUE REFERENCES articles (id),
        category TEXT NOT NULL,
        category_title TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (edition_id, article_id)
    );
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        categories TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        edition_id INTEGER NOT NULL REFERENCES editions (id),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        reply TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (edition_id, subscriber_id)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: the picture's size, so the email can show a thumbnail of the right shape.
    """
    ALTER TABLE articles ADD COLUMN image_width INTEGER;
    ALTER TABLE articles ADD COLUMN image_height INTEGER;
    """,
    # 3: the categories an article names itself, which file it; how much of the window a
    # feed's last read covered; a WordPress REST source's API root and category id.
    """
    CREATE TABLE article_terms (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        term TEXT NOT NULL,
        PRIMARY KEY (article_id, term)
    );
    ALTER TABLE feeds ADD COLUMN covered_from TEXT;
    ALTER TABLE feeds ADD COLUMN api_root TEXT;
    ALTER TABLE feeds ADD COLUMN category_id INTEGER;
    """,
    # 4: a guid is unique only within its feed. Each (feed, guid) names one article;
    # items of two feeds are one article only when their canonical links match.
    # `articles.key` stays unique: it is the article's published identity, made unique
    # with the feed's URL when two feeds use the same guid for different stories.
    """
    CREATE TABLE article_sources (
        feed_url TEXT NOT NULL,
        key TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        PRIMARY KEY (feed_url, key)
    );
    INSERT OR IGNORE INTO article_sources (feed_url, key, article_id)
        SELECT feed_url, key, id FROM articles;
    ALTER TABLE articles ADD COLUMN canonical TEXT;
    UPDATE articles SET canonical = link WHERE link != '' AND link IN (
        SELECT link FROM articles GROUP BY link HAVING count(*) = 1);
    CREATE INDEX articles_canonical ON articles (canonical);
    """,
    # 5: what each published file was rendered from, so a build renders only the files
    # whose inputs changed, and the recent editions' web bodies that the digest feeds
    # carry (see digest/render/publication.py).
    # editions.content describes what an edition holds (see EDITION_CONTENT); it is set by
    # save_edition and cleared by any other change to the edition's articles.
    """
    CREATE TABLE published_files (path TEXT PRIMARY KEY, signature TEXT NOT NULL);
    CREATE TABLE edition_bodies (date TEXT PRIMARY KEY, signature TEXT NOT NULL,
                                 body TEXT NOT NULL);
    ALTER TABLE editions ADD COLUMN content TEXT;
    CREATE TRIGGER edition_articles_added AFTER INSERT ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id = NEW.edition_id; END;
    CREATE TRIGGER edition_articles_removed AFTER DELETE ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id = OLD.edition_id; END;
    CREATE TRIGGER edition_articles_changed AFTER UPDATE ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id IN (OLD.edition_id, NEW.edition_id); END;
    """,
)
TERM_SEPARATOR = "\x1f"  # joins an article's terms in queries: never in a category name

# Delivery statuses that settle a recipient: sent, refused for good, nothing to send,
# or unknown (the server never confirmed; sent again only with --retry-unknown).
_DONE = "('sent', 'failed', 'skipped', 'unknown')"

# What an edition holds, as text: the number of articles on the first line, then an
# element per article with its position, category and category title. Equal texts mean
# equal editions whatever order group_concat took the rows in (an article's row never
# changes once it is in an edition: add_articles leaves it).
EDITION_CONTENT = """(SELECT count(*) || char(10) || group_concat(
                                ea.position || ':' || ea.article_id || ':' || ea.category
                                || ':' || ea.category_title, char(10))
                      FROM edition_articles ea WHERE ea.edition_id = editions.id)"""



@dataclass(frozen=True)
class EditionTally:
    """An edition's counts without its articles: for status and listings."""

    id: int
    date: dt.date
    articles: int
    sections: tuple[tuple[str, str, int], ...]  # (slug, title, articles) in edition order
    frozen_at: dt.datetime | None  # delivery began
    completed_at: dt.datetime | None  # delivery finished
    sent: int
    deferred: int
    failed: int
    unknown: int = 0  # the server never confirmed: perhaps delivered


@dataclass(frozen=True)
class Unconfirmed:
    """A recipient whose message got no final reply: perhaps delivered, not sent again."""

    date: dt.date
    email: str
    reply: str | None
    when: dt.datetime | None


@dataclass(frozen=True)
class EditionEntry:
    """An edition as the site's lists show it, without its articles' text."""

    date: dt.date
    articles: int
    content: str  # what it holds (articles, categories, order): changes when the edition does


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


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


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class StorageError(DigestError):
    """SQLite could not read or write the state file: disk full, damaged, read-only."""

    def __init__(self, path: Path, exc: sqlite3.Error) -> None:
        self.path = path
        super().__init__(storage_problem(path, exc))


def storage_problem(path: Path | None, exc: sqlite3.Error) -> str:
    """What went wrong with the state file, in words, and what to do about it."""
    where = f"the state file {path}" if path else "the state file"
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered or ("i/o" in lowered and path is not None and _nearly_full(path)):
        return (f"the disk holding {where} is full ({text}); what was not recorded was "
                "not done. Free some space and run the command again.")
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return (f"{where} is damaged ({text}). Restore it from a backup; failing that, "
                f"`sqlite3 {path or 'STATE'} .recover > recovered.sql` saves what can be "
                "read.")
    if "readonly" in lowered or "read-only" in lowered:
        return f"{where} cannot be written ({text}); check its and its folder's permissions."
    if "locked" in lowered or "busy" in lowered:
        return (f"{where} is held by another process ({text}); wait for it to finish, then "
                "run the command again.")
    return (f"{where} could not be read or written ({text}); check the disk and the file, "
            "then run the command again.")


def _nearly_full(path: Path) -> bool:
    """Whether the disk holding `path` is (all but) full: SQLite then often says only
    "disk I/O error", when it cannot grow its shared-memory or log file."""
    try:
        return shutil.disk_usage(path.parent).free < 256 * 1024
    except OSError:
        return False


def _create_state_file(path: Path) -> None:
    """A new, empty SQLite file (WAL mode, mode 0600) moved into place whole."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # writes the header: never 0 bytes
        finally:
            db.close()
        try:
            os.link(tmp, path)  # never over a file another process made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.rename(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"),
                         tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


class Store:
    """The digest's state in one SQLite file."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """Open the state file; `shared` lets other threads use it (the caller serialises).

        A new state file is made whole beside it, readable by its owner only (it
        holds the token secret and every subscriber), then moved into place; an
        existing one that is empty is refused, never silently started afresh.
        `warnings` says what the caller should tell (a file others can read).
        """
        self.path = path
        self.warnings: list[str] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(path):
                _create_state_file(path)
            self._check_file()
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                      check_same_thread=not shared)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StorageError(path, exc) from None
        except (OSError, sqlite3.Error) as exc:
            self._close_quietly()
            raise DigestError(
                f"cannot open the state file {path}: {exc}. "
                "Check that its folder exists and is writable ([digest] state)."
            ) from None

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def _check_file(self) -> None:
        info = os.stat(self.path)
        if info.st_size == 0:
            raise DigestError(
                f"the state file {self.path} is empty (0 bytes): it was truncated or "
                "replaced. Restore it from a backup. Only if there is none, delete it and "
                "run again: a new state file has a new secret, so every unsubscribe link "
                "already sent stops working."
            )
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.warnings.append(
                f"the state file {self.path} can be read by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}) and holds the unsubscribe secret and "
                f"every subscriber: run `chmod 600 {self.path}*`"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- schema ---------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise DigestError(
                f"the state file {self.path} has schema version {version}, newer than this "
                f"digest knows ({len(MIGRATIONS)}). Upgrade digest."
            )
        for number in range(version, len(MIGRATIONS)):
            with self.transaction() as db:
                statement = ""  # pieces up to a whole statement (triggers hold semicolons)
                for piece in MIGRATIONS[number].split(";"):
                    statement += piece + ";"
                    if sqlite3.complete_statement(statement):
                        if statement.strip(" \n;"):
                            db.execute(statement)
                        statement = ""
                db.execute(f"PRAGMA user_version = {number + 1}")

    # -- meta -----------------------------------------------------------------

    def secret(self) -> bytes:
        """A random secret made on first use and kept here (for unsubscribe tokens)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
        if row:
            return bytes.fromhex(row[0])
        value = secrets.token_bytes(32)
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret', ?)", (value.hex(),)
        )
        row = self.db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
        return bytes.fromhex(row[0])

    # -- feeds ----------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState:
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            moved_to=row["moved_to"],
            gone=bool(row["gone"]),
            retry_after=_dt(row["retry_after"]),
            last_success=_dt(row["last_success"]),
            last_error=row["last_error"],
            failing_since=_dt(row["failing_since"]),
            covered_from=_dt(row["covered_from"]),
            api_root=row["api_root"],
            category_id=row["category_id"],
        )

    def feed_states(self) -> list[FeedState]:
        urls = [r[0] for r in self.db.execute("SELECT url FROM feeds ORDER BY url")]
        return [self.feed_state(u) for u in urls]

    def save_feed_state(self, state: FeedState) -> None:
        self.db.execute(
            """INSERT INTO feeds (url, etag, last_modified, moved_to, gone, retry_after,
                                  last_success, last_error, failing_since, covered_from,
                                  api_root, category_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                 etag = excluded.etag, last_modified = excluded.last_modified,
                 moved_to = excluded.moved_to, gone = excluded.gone,
                 retry_after = excluded.retry_after, last_success = excluded.last_success,
                 last_error = excluded.last_error, failing_since = excluded.failing_since,
                 covered_from = excluded.covered_from, api_root = excluded.api_root,
                 category_id = excluded.category_id""",
            (
                state.url, state.etag, state.last_modified, state.moved_to, int(state.gone),
                _ts(state.retry_after), _ts(state.last_success), state.last_error,
                _ts(state.failing_since), _ts(state.covered_from), state.api_root,
                state.category_id,
            ),
        )

    # -- articles -------------------------------------------------------------

    def add_articles(self, articles: Iterable[Article], category: str, seen: dt.datetime) -> int:
        """Store articles found in `category`'s feed; return how many were new.

        An item is the article its feed already gave under the same guid, else the
        article another feed gave with the same canonical link, else a new one. The
        same feed's item corrects what was stored (but never with empty values); another
        feed's copy is merged: known values over empty ones, the fuller text, the larger
        picture. Once an article is in an edition, the edition keeps what it showed."""
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
                    article_id = self._insert_article(db, a, seen)
                    new += 1
                else:
                    article_id = row["id"]
                    db.execute(
                        """UPDATE articles SET link = ?, title = ?, summary_html = ?,
                               excerpt = ?, author = ?, published = ?, image = ?,
                               reading_minutes = ?, image_width = ?, image_height = ?,
                               canonical = ?
                           WHERE id = ? AND id NOT IN (SELECT article_id FROM edition_articles)""",
                        (*_merged(row, a, same_source), article_id),
                    )
                db.execute("INSERT OR IGNORE INTO article_sources (feed_url, key, article_id)"
                           " VALUES (?, ?, ?)", (a.feed_url, a.key, article_id))
                db.execute(
                    "INSERT OR IGNORE INTO article_categories (article_id, category) VALUES (?, ?)",
                    (article_id, category),
                )
                # Every source's terms count: a feed names a post's categories by name,
                # the REST API by slug and name.
                db.executemany(
                    "INSERT OR IGNORE INTO article_terms (article_id, term) VALUES (?, ?)",
                    [(article_id, term) for term in a.terms],
                )
        return new

    @staticmethod
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

    def candidate_articles(self, since: dt.datetime, until: dt.datetime,
                           edition_date: str) -> list[StoredArticle]:
        """Articles dated in (since, until] that no other edition holds."""
        rows = self.db.execute(
            # By the date index: left to itself SQLite scans every article for the GROUP BY.
            """SELECT a.*, group_concat(c.category, ' ') AS cats,
                 (SELECT group_concat(t.term, char(31)) FROM article_terms t
                   WHERE t.article_id = a.id) AS terms
               FROM articles a INDEXED BY articles_when
               JOIN article_categories c ON c.article_id = a.id
               WHERE coalesce(a.published, a.first_seen) > ?
                 AND coalesce(a.published, a.first_seen) <= ?
                 AND NOT EXISTS (  -- looked up per candidate: the archive is not read
                    SELECT 1 FROM edition_articles ea JOIN editions e ON e.id = ea.edition_id
                    WHERE ea.article_id = a.id AND e.date != ?)
               GROUP BY a.id""",
            (_ts(since), _ts(until), edition_date),
        )
        return [replace(self._article(r, frozenset(r["cats"].split())),
                        terms=frozenset((r["terms"] or "").split(TERM_SEPARATOR)) - {""})
                for r in rows]

    @staticmethod
    def _article(row: sqlite3.Row, categories: frozenset[str]) -> StoredArticle:
        return StoredArticle(
            id=row["id"], key=row["key"], link=row["link"], title=row["title"],
            summary_html=row["summary_html"], excerpt=row["excerpt"], author=row["author"],
            published=_dt(row["published"]), first_seen=_dt(row["first_seen"]) or utcnow(),
            image=row["image"], reading_minutes=row["reading_minutes"], categories=categories,
            image_size=((row["image_width"], row["image_height"])
                        if row["image_width"] and row["image_height"] else None),
        )

    def category_articles(self, category: str, limit: int,
                          names: tuple[str, ...] = ()) -> list[StoredArticle]:
        """The newest `limit` articles any of `category`'s feeds carried, or that name it
        themselves by one of `names` (its slug and title, case aside), newest first.

        An article can belong to several categories; each keeps all of them.
        """
        marks = ", ".join("?" for _ in names) or "NULL"
        rows = self.db.execute(
            f"""SELECT a.*, (SELECT group_concat(c2.category, ' ') FROM article_categories c2
                            WHERE c2.article_id = a.id) AS cats
               FROM articles a
               WHERE a.id IN (SELECT article_id FROM article_categories WHERE category = ?)
                  OR a.id IN (SELECT article_id FROM article_terms
                              WHERE term COLLATE NOCASE IN ({marks}))
               ORDER BY coalesce(a.published, a.first_seen) DESC, a.id DESC LIMIT ?""",
            (category, *names, limit),
        )
        return [self._article(r, frozenset((r["cats"] or "").split())) for r in rows]

    def article_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

    # -- editions -------------------------------------------------------------

    def edition(self, date: dt.date) -> Edition | None:
        row = self.db.execute("SELECT * FROM editions WHERE date = ?", (date.isoformat(),))
        found = row.fetchone()
        return self._edition(found) if found else None

    def _edition(self, row: sqlite3.Row) -> Edition:
        rows = self.db.execute(
            """SELECT a.*, ea.category, ea.category_title FROM edition_articles ea
               JOIN articles a ON a.id = ea.article_id
               WHERE ea.edition_id = ? ORDER BY ea.position""",
            (row["id"],),
        ).fetchall()
        sections: list[Section] = []
        for r in rows:
            article = self._article(r, frozenset([r["category"]]))
            if sections and sections[-1].slug == r["category"]:
                last = sections[-1]
                sections[-1] = Section(last.slug, last.title, (*last.articles, article))
            else:
                sections.append(Section(r["category"], r["category_title"], (article,)))
        return Edition(
            date=dt.date.fromisoformat(row["date"]),
            sections=tuple(sections),
            created_at=_dt(row["created_at"]) or utcnow(),
            frozen=row["frozen_at"] is not None,
            id=row["id"],
        )

    def editions(self, limit: int | None = None) -> list[Edition]:
        """Editions with articles, newest date first."""
        sql = "SELECT * FROM editions ORDER BY date DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [self._edition(r) for r in self.db.execute(sql, params).fetchall()]

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
        return [self._edition(r) for r in rows]

    # -- subscribers ----------------------------------------------------------

    @staticmethod
    def _subscriber(row: sqlite3.Row) -> Subscriber:
        return Subscriber(
            id=row["id"], email=row["email"], name=row["name"],
            categories=frozenset(row["categories"].split()), status=row["status"],
            created_at=_dt(row["created_at"]),
        )

    def upsert_subscriber(self, email: str, name: str, categories: Iterable[str],
                          *, reactivate: bool = True) -> tuple[Subscriber, str]:
        """Add or update a subscriber; return it and 'added', 'updated' or 'unchanged'."""
        cats = " ".join(sorted(set(categories)))
        now = _ts(utcnow())
        with self.transaction() as db:
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                db.execute(
                    """INSERT INTO subscribers (email, name, categories, status, created_at,
                           updated_at) VALUES (?, ?, ?, 'active', ?, ?)""",
                    (email, name, cats, now, now),
                )
                outcome = "added"
            else:
                status = "active" if reactivate else row["status"]
                if (row["name"], row["categories"], row["status"]) == (name, cats, status):
                    outcome = "unchanged"
                else:
                    db.execute(
                        """UPDATE subscribers SET name = ?, categories = ?, status = ?,
                               updated_at = ? WHERE id = ?""",
                        (name, cats, status, now, row["id"]),
                    )
                    outcome = "updated"
        found = self.subscriber(email)
        assert found is not None
        return found, outcome

    def import_subscribers(self, rows: Sequence[tuple[str, str, str]]) -> list[str]:
        """Add or update many (email, name, categories text) in one transaction.

        Returns each row's outcome: 'added', 'updated' or 'unchanged'. Statuses
        are kept (an import never re-activates anyone). The addresses must be
        distinct. One SELECT per 5,000 rows finds those already there; one
        executemany upsert writes the new and the changed.
        """
        now = _ts(utcnow())
        outcomes: list[str] = []
        with self.transaction() as db:
            existing: dict[str, tuple[str, str]] = {}
            step = min(5000, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
            for start in range(0, len(rows), step):
                chunk = [r[0] for r in rows[start:start + step]]
                marks = ",".join("?" * len(chunk))
                for email, name, cats in db.execute(
                        f"SELECT email, name, categories FROM subscribers "
                        f"WHERE email IN ({marks})", chunk):
                    existing[email.lower()] = (name, cats)
            changed = []
            for email, name, cats in rows:
                found = existing.get(email.lower())
                if found == (name, cats):
                    outcomes.append("unchanged")
                    continue
                outcomes.append("added" if found is None else "updated")
                changed.append((email, name, cats, now, now))
            db.executemany(
                """INSERT INTO subscribers (email, name, categories, status, created_at,
                       updated_at) VALUES (?, ?, ?, 'active', ?, ?)
                   ON CONFLICT (email) DO UPDATE SET name = excluded.name,
                       categories = excluded.categories, updated_at = excluded.updated_at""",
                changed)
        return outcomes

    def subscriber(self, email: str) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return self._subscriber(row) if row else None

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
        found = row.fetchone()
        return self._subscriber(found) if found else None

    def set_subscriber_status(self, email: str, status: str) -> bool:
        cur = self.db.execute(
            "UPDATE subscribers SET status = ?, updated_at = ? WHERE email = ?",
            (status, _ts(utcnow()), email),
        )
        return cur.rowcount > 0

    def subscribers(self, status: str | None = None) -> Iterator[Subscriber]:
        """Stream subscribers in id order, optionally of one status."""
        sql = "SELECT * FROM subscribers"
        params: tuple[str, ...] = ()
        if status:
            sql += " WHERE status = ?"
            params = (status,)
        for row in self.db.execute(sql + " ORDER BY id", params):
            yield self._subscriber(row)

    def subscriber_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
        for status, n in self.db.execute(
            "SELECT status, count(*) FROM subscribers GROUP BY status"
        ):
            counts[status] = n
        return counts

    # -- deliveries -----------------------------------------------------------

    def pending_recipients(self, edition_id: int, audience_until: dt.datetime,
                           after_id: int = 0, limit: int = 500, *,
                           include_unknown: bool = False
                           ) -> list[tuple[Subscriber, str | None]]:
        """A page of active subscribers from before `audience_until` still owed this edition.

        Returns (subscriber, previous delivery status or None) with ids above
        `after_id`; those already sent or hard-failed are left out, and so are
        those whose outcome is unknown unless `include_unknown`. Paging keeps
        memory flat however long the list.
        """
        done = "('sent', 'failed', 'skipped')" if include_unknown else _DONE
        rows = self.db.execute(
            f"""SELECT s.*, d.status AS delivery FROM subscribers s
               LEFT JOIN deliveries d ON d.subscriber_id = s.id AND d.edition_id = ?
               WHERE s.status = 'active' AND s.created_at <= ? AND s.id > ?
                 AND coalesce(d.status, '') NOT IN {done}
               ORDER BY s.id LIMIT ?""",
            (edition_id, _ts(audience_until), after_id, limit),
        ).fetchall()
        return [(self._subscriber(row), row["delivery"]) for row in rows]

    def still_active(self, subscriber_id: int) -> bool:
        """Whether the subscriber is active right now (read when claimed for sending)."""
        row = self.db.execute("SELECT status FROM subscribers WHERE id = ?",
                              (subscriber_id,)).fetchone()
        return row is not None and row[0] == "active"

    def unconfirmed(self, since: dt.date | None = None,
                    limit: int | None = None) -> list[Unconfirmed]:
        """Recipients whose delivery is unknown, oldest edition first."""
        sql = """SELECT e.date, s.email, d.reply, d.updated_at FROM deliveries d
                 JOIN editions e ON e.id = d.edition_id
                 JOIN subscribers s ON s.id = d.subscriber_id
                 WHERE d.status = 'unknown' AND e.date >= ? ORDER BY e.date, s.id"""
        params: tuple[str | int, ...] = ((since or dt.date.min).isoformat(),)
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        return [Unconfirmed(dt.date.fromisoformat(r[0]), r[1], r[2], _dt(r[3]))
                for r in self.db.execute(sql, params).fetchall()]

    def editions_with_unknown(self, since: dt.date) -> list[Edition]:
        """Editions from `since` on with recipients whose delivery is unknown."""
        rows = self.db.execute(
            """SELECT * FROM editions e WHERE date >= ? AND EXISTS (SELECT 1 FROM deliveries
                 d WHERE d.edition_id = e.id AND d.status = 'unknown') ORDER BY date""",
            (since.isoformat(),),
        ).fetchall()
        return [self._edition(r) for r in rows]

    def hard_failures_in_a_row(self, subscriber_id: int) -> int:
        """How many of the subscriber's latest deliveries failed permanently, in a row."""
        rows = self.db.execute(
            """SELECT d.status FROM deliveries d JOIN editions e ON e.id = d.edition_id
               WHERE d.subscriber_id = ? AND d.status != 'skipped'
               ORDER BY e.date DESC LIMIT 10""",
            (subscriber_id,),
        ).fetchall()
        count = 0
        for (status,) in rows:
            if status != "failed":
                break
            count += 1
        return count

    def record_delivery(self, edition_id: int, subscriber_id: int, status: str,
                        reply: str | None = None) -> None:
        """Record one recipient's outcome at once, so a crash never loses a success."""
        self.db.execute(
            """INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, reply,
                   updated_at) VALUES (?, ?, ?, 1, ?, ?)
               ON CONFLICT (edition_id, subscriber_id) DO UPDATE SET
                 status = excluded.status, attempts = deliveries.attempts + 1,
                 reply = excluded.reply, updated_at = excluded.updated_at""",
            (edition_id, subscriber_id, status, reply, _ts(utcnow())),
        )

    def owed_counts(self, edition_id: int, audience_until: dt.datetime) -> tuple[int, int]:
        """(deferred, never tried): active subscribers of the audience still owed the edition.

        What decides whether an edition is finished: the store, not a run's counters.
        """
        row = self.db.execute(
            f"""SELECT count(d.status), count(*) - count(d.status) FROM subscribers s
               LEFT JOIN deliveries d ON d.subscriber_id = s.id AND d.edition_id = ?
               WHERE s.status = 'active' AND s.created_at <= ?
                 AND coalesce(d.status, '') NOT IN {_DONE}""",
            (edition_id, _ts(audience_until)),
        ).fetchone()
        return int(row[0]), int(row[1])

    def delivery_counts(self, edition_id: int) -> dict[str, int]:
        counts = {"sent": 0, "deferred": 0, "failed": 0, "unknown": 0}
        for status, n in self.db.execute(
            "SELECT status, count(*) FROM deliveries WHERE edition_id = ? GROUP BY status",
            (edition_id,),
        ):
            counts[status] = n
        return counts

    # -- reports (status, listings, export) -------------------------------------

    def edition_tallies(self, limit: int | None = None,
                        date: dt.date | None = None) -> list[EditionTally]:
        """Editions newest first (or the one of `date`) with article and delivery counts."""
        sql = """SELECT e.id, e.date, e.frozen_at, e.completed_at,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'sent') AS sent,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'deferred') AS deferred,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'failed') AS failed,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'unknown') AS unknown
                 FROM editions e"""
        params: tuple[int | str, ...] = ()
        if date is not None:
            sql += " WHERE e.date = ?"
            params = (date.isoformat(),)
        sql += " ORDER BY e.date DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        tallies = []
        for row in self.db.execute(sql, params).fetchall():
            sections = tuple(
                (slug, title, int(n)) for slug, title, n in self.db.execute(
                    """SELECT category, category_title, count(*) FROM edition_articles
                       WHERE edition_id = ? GROUP BY category ORDER BY min(position)""",
                    (row["id"],))
            )
            tallies.append(EditionTally(
                id=row["id"], date=dt.date.fromisoformat(row["date"]),
                articles=sum(n for _, _, n in sections), sections=sections,
                frozen_at=_dt(row["frozen_at"]), completed_at=_dt(row["completed_at"]),
                sent=row["sent"], deferred=row["deferred"], failed=row["failed"],
                unknown=row["unknown"],
            ))
        return tallies

    def edition_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM editions").fetchone()[0])

    def latest_edition_date(self) -> dt.date | None:
        row = self.db.execute("SELECT max(date) FROM editions").fetchone()
        return dt.date.fromisoformat(row[0]) if row[0] else None

    def pending_count(self, edition_id: int, audience_until: dt.datetime) -> int:
        """How many recipients `pending_recipients` will page through (for progress bars)."""
        deferred, untried = self.owed_counts(edition_id, audience_until)
        return deferred + untried
