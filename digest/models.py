"""The data that moves between the steps: small frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

# The width, in CSS pixels, at which the email shows an article's picture: the email
# is drawn to it, and sources ask for a picture about twice as wide (sharp on HiDPI).
THUMB_WIDTH = 120

# The states kept as text (in the state file, the JSON output and the CLI's words), as
# Literal types so that strict mypy catches a misspelt one.

# What reading a feed came to: read; unchanged since the last read (HTTP 304); failed;
# removed for good (410); or not read, the server having asked us to wait.
FetchOutcome = Literal["ok", "not_modified", "error", "gone", "waiting"]
# A recipient's delivery: "sent"; "deferred" (4xx, try again later); "failed" (5xx,
# never again); "skipped" (nothing to send); "unknown" (the final reply never came:
# perhaps delivered; sent again only when asked).
DeliveryStatus = Literal["sent", "deferred", "failed", "skipped", "unknown"]
SubscriberStatus = Literal["pending", "active", "paused", "unsubscribed", "bounced"]
# What adding or importing a subscriber did; an import also rejects bad lines.
StoredOutcome = Literal["added", "updated", "unchanged"]
ImportOutcome = Literal[StoredOutcome, "rejected"]


@dataclass(frozen=True)
class Article:
    """One article as normalised from a source, ready for the store."""

    key: str  # guid/id (unique within its feed only), else canonical link, else a content hash
    link: str
    title: str  # plain text
    summary_html: str  # sanitised HTML
    excerpt: str  # plain text, short
    author: str | None
    published: dt.datetime | None  # aware UTC, None when the source gives no date
    image: str | None
    reading_minutes: int | None  # None when only a truncated excerpt was available
    feed_url: str
    image_size: tuple[int, int] | None = None  # (width, height) when the source tells
    # The categories the article names itself (RSS <category>, Atom category, WordPress
    # category slugs and names), as text: what files it under a configured category.
    terms: tuple[str, ...] = ()
    # The article's own canonical link (None when it has none and `link` is the feed's):
    # items of two feeds are the same article only when these match.
    canonical: str | None = None


@dataclass(frozen=True)
class StoredArticle:
    """An article as kept in the store, with the categories whose feeds carried it."""

    id: int
    key: str
    link: str
    title: str
    summary_html: str
    excerpt: str
    author: str | None
    published: dt.datetime | None
    first_seen: dt.datetime
    image: str | None
    reading_minutes: int | None
    categories: frozenset[str]
    image_size: tuple[int, int] | None = None  # (width, height) when the source told
    terms: frozenset[str] = frozenset()  # the categories it names itself (see Article)
    revised_at: dt.datetime | None = None  # when a read last changed it (a correction)

    @property
    def when(self) -> dt.datetime:
        """The time the digest orders and selects by: published, else first seen."""
        return self.published or self.first_seen


@dataclass(frozen=True)
class Section:
    """One category's part of an edition."""

    slug: str
    title: str
    articles: tuple[StoredArticle, ...]


@dataclass(frozen=True)
class Edition:
    """One day's digest: its sections in config order, articles newest first."""

    date: dt.date
    sections: tuple[Section, ...]
    created_at: dt.datetime  # aware UTC; the edition's publication time in feeds
    frozen: bool = False  # True once delivery began: it never changes again
    id: int | None = None

    @property
    def article_count(self) -> int:
        return sum(len(s.articles) for s in self.sections)

    def for_categories(self, slugs: frozenset[str]) -> Edition:
        """The edition as seen by a subscriber who chose these categories (empty: all)."""
        if not slugs:
            return self
        kept = tuple(s for s in self.sections if s.slug in slugs)
        return Edition(self.date, kept, self.created_at, self.frozen, self.id)


SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = ("pending", "active", "paused",
                                                     "unsubscribed", "bounced")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    categories: frozenset[str] = field(default_factory=frozenset)
    status: SubscriberStatus = "active"
    created_at: dt.datetime | None = None
    paused_until: dt.date | None = None  # status 'paused': no edition dated up to this day
    status_reason: str | None = None  # why the status last changed (a bounce's words, …)
    status_changed_at: dt.datetime | None = None


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed between runs."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    # Until when etag and last_modified may be sent: set for WordPress's site-wide ones
    # (sources/validators.py); None: for as long as the feed does not change.
    validators_until: dt.datetime | None = None
    moved_to: str | None = None
    gone: bool = False
    retry_after: dt.datetime | None = None
    last_success: dt.datetime | None = None
    last_error: str | None = None
    failing_since: dt.datetime | None = None
    # The oldest article date the last read reached when it could not cover the whole
    # window (a feed carrying only its newest items); None when it covered it.
    covered_from: dt.datetime | None = None
    api_root: str | None = None  # a WordPress REST source: the API the site advertises
    category_id: int | None = None  # and its category's id there, looked up once
