"""The state file's schema: numbered migrations, each run whole in one transaction.

Migration N (counting from 0) moves the schema from version N to N+1 (SQLite's
`user_version`). A migration is a tuple of SQL statements, each run on its own (a
trigger's body or a string may hold `;`), or a function given the connection, for a
change SQL alone cannot make. Never edit a migration that has shipped: append one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from digest.errors import DigestError

Migration = tuple[str, ...] | Callable[[sqlite3.Connection], None]


def _by_source(table: str, column: str) -> tuple[str, ...]:
    """Rebuild `table` (article_id, `column`) as (article_id, feed_url, `column`), its
    rows kept under the source ''."""
    return (
        f"""CREATE TABLE {table}_by_source (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        feed_url TEXT NOT NULL,
        {column} TEXT NOT NULL,
        PRIMARY KEY (article_id, feed_url, {column})
    )""",
        f"""INSERT INTO {table}_by_source (article_id, feed_url, {column})
           SELECT article_id, '', {column} FROM {table}""",
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_by_source RENAME TO {table}",
    )

MIGRATIONS: tuple[Migration, ...] = (
    (
        """CREATE TABLE feeds (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        moved_to TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        retry_after TEXT,
        last_success TEXT,
        last_error TEXT,
        failing_since TEXT
    )""",
        """CREATE TABLE articles (
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
    )""",
        "CREATE INDEX articles_when ON articles (coalesce(published, first_seen))",
        """CREATE TABLE article_categories (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        category TEXT NOT NULL,
        PRIMARY KEY (article_id, category)
    )""",
        """CREATE TABLE editions (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        frozen_at TEXT,
        completed_at TEXT
    )""",
        """CREATE TABLE edition_articles (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL UNIQUE REFERENCES articles (id),
        category TEXT NOT NULL,
        category_title TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (edition_id, article_id)
    )""",
        """CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        categories TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
        """CREATE TABLE deliveries (
        edition_id INTEGER NOT NULL REFERENCES editions (id),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        reply TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (edition_id, subscriber_id)
    )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: the picture's size, so the email can show a thumbnail of the right shape.
    (
        "ALTER TABLE articles ADD COLUMN image_width INTEGER",
        "ALTER TABLE articles ADD COLUMN image_height INTEGER",
    ),
    # 3: the categories an article names itself, which file it; how much of the window a
    # feed's last read covered; a WordPress REST source's API root and category id.
    (
        """CREATE TABLE article_terms (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        term TEXT NOT NULL,
        PRIMARY KEY (article_id, term)
    )""",
        "ALTER TABLE feeds ADD COLUMN covered_from TEXT",
        "ALTER TABLE feeds ADD COLUMN api_root TEXT",
        "ALTER TABLE feeds ADD COLUMN category_id INTEGER",
    ),
    # 4: a guid is unique only within its feed. Each (feed, guid) names one article;
    # items of two feeds are one article only when their canonical links match.
    # `articles.key` stays unique: it is the article's published identity, made unique
    # with the feed's URL when two feeds use the same guid for different stories.
    (
        """CREATE TABLE article_sources (
        feed_url TEXT NOT NULL,
        key TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        PRIMARY KEY (feed_url, key)
    )""",
        """INSERT OR IGNORE INTO article_sources (feed_url, key, article_id)
        SELECT feed_url, key, id FROM articles""",
        "ALTER TABLE articles ADD COLUMN canonical TEXT",
        """UPDATE articles SET canonical = link WHERE link != '' AND link IN (
        SELECT link FROM articles GROUP BY link HAVING count(*) = 1)""",
        "CREATE INDEX articles_canonical ON articles (canonical)",
    ),
    # 5: what each published file was rendered from, so a build renders only the files
    # whose inputs changed, and the recent editions' web bodies that the digest feeds
    # carry (see digest/render/publication.py).
    # editions.content describes what an edition holds (see editions.EDITION_CONTENT); it
    # is set by save_edition and cleared by any other change to the edition's articles.
    (
        "CREATE TABLE published_files (path TEXT PRIMARY KEY, signature TEXT NOT NULL)",
        """CREATE TABLE edition_bodies (date TEXT PRIMARY KEY, signature TEXT NOT NULL,
                                 body TEXT NOT NULL)""",
        "ALTER TABLE editions ADD COLUMN content TEXT",
        """CREATE TRIGGER edition_articles_added AFTER INSERT ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id = NEW.edition_id; END""",
        """CREATE TRIGGER edition_articles_removed AFTER DELETE ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id = OLD.edition_id; END""",
        """CREATE TRIGGER edition_articles_changed AFTER UPDATE ON edition_articles BEGIN
        UPDATE editions SET content = NULL WHERE id IN (OLD.edition_id, NEW.edition_id); END""",
    ),
    # 6: double opt-in. A reader who signs up on the form is 'pending' until they confirm
    # (deliveries go to 'active' only); confirm_sent_at limits confirmations to one an
    # hour; consent_* record when, from which form and from where they confirmed.
    (
        "ALTER TABLE subscribers ADD COLUMN confirm_sent_at TEXT",
        "ALTER TABLE subscribers ADD COLUMN consent_at TEXT",
        "ALTER TABLE subscribers ADD COLUMN consent_form TEXT",
        "ALTER TABLE subscribers ADD COLUMN consent_ip TEXT",
        # addresses erased by `subscribers forget`, as salted hashes only: a forgotten
        # address is not imported again by accident (import --force does)
        """CREATE TABLE forgotten (hash TEXT PRIMARY KEY, forgotten_at TEXT NOT NULL)""",
    ),
    # 7: the manage page's pause. A 'paused' subscriber gets no edition dated up to and
    # including paused_until (an ISO date); later editions go to them again.
    (
        "ALTER TABLE subscribers ADD COLUMN paused_until TEXT",
    ),
    # 8: the sign-up form's mail leaves the request. The request stores its decision
    # and queues the message in signup_mail, in the same transaction; `digest serve`'s
    # mailer (or the daily `send`) sends it, so a killed process loses nothing. next_try
    # is also a sender's claim while it works. confirm_nonce binds a confirmation link
    # to the pending request it was made for. signup_refusals counts sign-ups refused without a word
    # (honeypot, rate, a domain without mail).
    (
        "ALTER TABLE subscribers ADD COLUMN confirm_nonce TEXT",
        """CREATE TABLE signup_mail (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        expires INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        next_try TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
        "CREATE INDEX signup_mail_due ON signup_mail (next_try)",
        "CREATE TABLE signup_refusals (reason TEXT PRIMARY KEY, count INTEGER NOT NULL)",
        # A pause ends with the status it belongs to, whichever way the status changes
        # (an editor's add, an unsubscribe, a bounce, a confirmed sign-up): a stale
        # paused_until must not come back to life later.
        "UPDATE subscribers SET paused_until = NULL WHERE status != 'paused'",
        """CREATE TRIGGER subscribers_pause_ends AFTER UPDATE OF status ON subscribers
        WHEN NEW.status != 'paused' AND NEW.paused_until IS NOT NULL BEGIN
        UPDATE subscribers SET paused_until = NULL WHERE id = NEW.id; END""",
    ),
    # 9: bounces, complaints and mailed unsubscribes (`digest bounces`, and refusals at
    # send time): one event per notice and subscriber, with the edition it was about
    # (the VERP tag's, else the last one sent), the kind (hard, soft, policy, complaint,
    # unsubscribe), the status code, the server's words and the receiving domain (policy
    # blocks are counted per domain). Why and when a subscriber's status last changed.
    # The Message-IDs of the mbox messages handled (an mbox is not changed).
    (
        """CREATE TABLE bounce_events (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        edition_id INTEGER REFERENCES editions (id) ON DELETE SET NULL,
        kind TEXT NOT NULL,
        code TEXT,
        diagnostic TEXT NOT NULL DEFAULT '',
        domain TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        message_id TEXT,
        received_at TEXT NOT NULL
    )""",
        "CREATE INDEX bounce_events_subscriber ON bounce_events (subscriber_id, edition_id)",
        "CREATE INDEX bounce_events_edition ON bounce_events (edition_id, kind)",
        "ALTER TABLE subscribers ADD COLUMN status_reason TEXT",
        "ALTER TABLE subscribers ADD COLUMN status_changed_at TEXT",
        """CREATE TABLE handled_messages (message_id TEXT PRIMARY KEY,
                                   handled_at TEXT NOT NULL)""",
    ),
    # 10: retracted posts. A source whose read lists every post dated after some moment
    # (a WordPress feed paged back, a REST source) and no longer lists one it gave
    # before: its row is marked withdrawn (when), and cleared when it is listed again.
    # An article every source of which withdrew it is left out of the next editions.
    # Until when a feed's validators may be sent (WordPress's are the site's, not the
    # feed's: sources/validators.py).
    (
        "ALTER TABLE feeds ADD COLUMN validators_until TEXT",
        "ALTER TABLE article_sources ADD COLUMN withdrawn TEXT",
        # An article's sources, looked up for each candidate of an edition.
        "CREATE INDEX article_sources_article ON article_sources (article_id, withdrawn)",
    ),
    # 11: an article's terms, and the categories whose feeds carried it, by the source
    # that gave them, so that each read of a source replaces what it said before (a post
    # moved to another category is filed there), and a source that withdrew the article
    # no longer counts. Rows kept before are under the source '' until a source of the
    # article is read again.
    (
        *_by_source("article_terms", "term"),
        *_by_source("article_categories", "category"),
        # A category's articles, and those naming it, for its published feed.
        "CREATE INDEX article_categories_category ON article_categories (category)",
        "CREATE INDEX article_terms_term ON article_terms (term COLLATE NOCASE)",
    ),
    # 12: corrections reach an edition until its sending begins (frozen_at). An
    # article's revision counts the reads that changed it (the last one at revised_at,
    # the feeds' "updated"); an edition's content names each article's revision, so a
    # page whose article was corrected is rendered again.
    (
        "ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE articles ADD COLUMN revised_at TEXT",
        """CREATE TRIGGER article_revised AFTER UPDATE OF revision ON articles BEGIN
        UPDATE editions SET content = NULL WHERE id IN (
            SELECT edition_id FROM edition_articles WHERE article_id = NEW.id); END""",
    ),
    # 13: the messages of the bounce mailbox that `digest bounces` left where they were
    # (unrecognised, or proving nothing): a later run does not read them again.
    (
        """CREATE TABLE left_messages (message_id TEXT PRIMARY KEY,
                                left_at TEXT NOT NULL)""",
    ),
)


def apply(db: sqlite3.Connection, migration: Migration) -> None:
    """Run one migration's statements (or function) on `db`, in the caller's transaction."""
    if callable(migration):
        migration(db)
        return
    for statement in migration:
        db.execute(statement)


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def pending(db: sqlite3.Connection, path: Path) -> range:
    """The numbers of the migrations the state file at `path` (open as `db`) still needs;
    a file newer than this digest is refused."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise DigestError(
            f"the state file {path} has schema version {version}, newer than this "
            f"digest knows ({len(MIGRATIONS)}). Upgrade digest."
        )
    return range(version, len(MIGRATIONS))
