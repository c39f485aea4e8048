"""What `digest status` and `digest editions` tell: plain data gathered from the store.

The health of a source is a pure function of what the store remembers about it;
everything here is frozen dataclasses that the CLI prints as text or JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from digest.clock import utcnow
from digest.config import Config
from digest.models import Edition, FeedState
from digest.store import BounceTally, EditionTally, Failure, Store, Unconfirmed


@dataclass(frozen=True)
class SourceHealth:
    url: str
    categories: tuple[str, ...]
    # "ok"; "error" (failed lately); "failing" (failed for over a day: flagged);
    # "waiting" (asked us to wait); "gone" (410); "new" (never fetched)
    health: str
    last_success: dt.datetime | None
    last_error: str | None
    failing_since: dt.datetime | None
    retry_after: dt.datetime | None
    moved_to: str | None
    # The last read did not reach back over the whole window: this says by how much.
    coverage: str | None = None


@dataclass(frozen=True)
class SectionCount:
    slug: str
    title: str
    articles: int


@dataclass(frozen=True)
class EditionStatus:
    date: dt.date
    articles: int
    sections: tuple[SectionCount, ...]
    delivery: str  # "not sent", "sending" (begun, not finished), "sent"
    sent: int
    deferred: int
    failed: int
    unknown: int = 0  # no final reply from the server: perhaps delivered, not sent again
    bounced: int = 0  # subscribers whose copy bounced (hard or soft; at send time or later)
    complained: int = 0  # who reported it as spam
    blocked: int = 0  # refused for policy (the sender's reputation, not the address)


@dataclass(frozen=True)
class StateFile:
    path: Path
    bytes: int  # the SQLite file and its write-ahead log
    articles: int
    editions: int


@dataclass(frozen=True)
class PolicyBlocks:
    """Policy blocks by one receiving domain lately: a warning to the editor."""

    domain: str
    blocks: int


@dataclass(frozen=True)
class Delays:
    """Warnings of a delay from one receiving domain lately: its servers accepted the
    mail late (greylisting, rate limits), or are still trying."""

    domain: str
    delays: int


@dataclass(frozen=True)
class BounceStatus:
    """Bounces, complaints and policy blocks overall (distinct subscribers)."""

    bounced: int = 0
    complained: int = 0
    blocked: int = 0
    unsubscribed_by_mail: int = 0
    policy_blocks: tuple[PolicyBlocks, ...] = ()  # in the last POLICY_DAYS days
    delays: tuple[Delays, ...] = ()  # in the last POLICY_DAYS days

    def delays_line(self) -> str:
        return (f"Delayed in the last {POLICY_DAYS} days (the receiving server warned it "
                "was still trying; nothing counted): "
                + ", ".join(f"{d.domain} {d.delays}" for d in self.delays))

    def warnings(self) -> list[str]:
        return [f"{p.domain} refused {p.blocks} message(s) for policy in the last "
                f"{POLICY_DAYS} days: its server blocks the sender, not the address (check "
                "SPF, DKIM, DMARC and the sending address's reputation)"
                for p in self.policy_blocks]


POLICY_DAYS = 30


@dataclass(frozen=True)
class SignupStatus:
    """The sign-up form's mail still to go, and the sign-ups refused without a word."""

    waiting: int = 0  # confirmations and reminders not sent yet
    waiting_since: dt.datetime | None = None  # when the oldest of them was asked for
    problem: str | None = None  # the last reason one could not be sent
    refused: dict[str, int] = field(default_factory=dict)  # honeypot, rate, domain

    def warnings(self, now: dt.datetime) -> list[str]:
        if not self.waiting or self.waiting_since is None or \
                now - self.waiting_since < SIGNUP_LATE:
            return []
        why = f" (last problem: {self.problem})" if self.problem else ""
        return [f"{self.waiting} sign-up mail(s) not sent, the oldest asked for at "
                f"{self.waiting_since:%Y-%m-%d %H:%M} UTC{why}: readers are waiting for "
                "their confirmation link. Check that `digest serve` runs and that the mail "
                "server takes mail; `digest send` also sends what is left"]


SIGNUP_LATE = dt.timedelta(hours=1)  # sign-up mail waiting longer is a warning


@dataclass(frozen=True)
class Status:
    state: StateFile
    sources: tuple[SourceHealth, ...]
    editions: tuple[EditionStatus, ...]
    subscribers: dict[str, int]  # active, unsubscribed, bounced
    # Recipients whose delivery is unknown (the first UNCONFIRMED_SHOWN), oldest first.
    unconfirmed: tuple[Unconfirmed, ...] = ()
    bounces: BounceStatus = BounceStatus()
    signup: SignupStatus = SignupStatus()
    checked_at: dt.datetime | None = None  # when the status was read (for its warnings)

    def warnings(self) -> list[str]:
        now = self.checked_at or utcnow()
        return [*self.bounces.warnings(), *self.signup.warnings(now)]

    @property
    def failing(self) -> tuple[SourceHealth, ...]:
        return tuple(s for s in self.sources if s.health not in ("ok", "new"))

    def summary(self) -> str:
        failing = f" ({len(self.failing)} with problems)" if self.failing else ""
        flagged = sum(1 for s in self.sources if s.health == "failing")
        if flagged:
            failing += f", {flagged} failing for over a day"
        gaps = sum(1 for s in self.sources if s.coverage)
        if gaps:
            failing += f", {gaps} not covering the whole window"
        return (f"{len(self.sources)} sources{failing}, {self.state.editions} edition(s), "
                f"{self.subscribers.get('active', 0)} active subscribers")


UNCONFIRMED_SHOWN = 50
FLAG_AFTER = dt.timedelta(days=1)  # a source failing this long is flagged to the editor


def health(state: FeedState, now: dt.datetime) -> str:
    """One word for a source's state, from what the last fetches left in the store."""
    if state.gone:
        return "gone"
    if state.retry_after is not None and state.retry_after > now:
        return "waiting"
    if state.last_error:
        if state.failing_since is not None and now - state.failing_since > FLAG_AFTER:
            return "failing"
        return "error"
    if state.last_success is not None:
        return "ok"
    return "new"


def delivery_state(tally: EditionTally) -> str:
    if tally.completed_at is not None:
        return "sent"
    if tally.frozen_at is not None:
        return "sending"
    return "not sent"


def edition_status(tally: EditionTally, bounces: BounceTally | None = None) -> EditionStatus:
    bounces = bounces or BounceTally()
    return EditionStatus(
        bounced=bounces.bounced, complained=bounces.complained, blocked=bounces.blocked,
        date=tally.date,
        articles=tally.articles,
        sections=tuple(SectionCount(slug, title, n) for slug, title, n in tally.sections),
        delivery=delivery_state(tally),
        sent=tally.sent,
        deferred=tally.deferred,
        failed=tally.failed,
        unknown=tally.unknown,
    )


def state_size(path: Path) -> int:
    """Bytes on disk of the SQLite file with its WAL and shared-memory files."""
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
        if candidate.exists():
            total += candidate.stat().st_size
    return total


def coverage(state: FeedState, config: Config) -> str | None:
    """The gap the source's last read left in the window, as fetch reported it."""
    from digest.sources.paging import coverage_note

    if state.covered_from is None or state.last_success is None:
        return None
    return coverage_note(state.covered_from, state.last_success,
                         dt.timedelta(hours=config.lookback_hours))


def collect_status(config: Config, store: Store, *, now: dt.datetime | None = None,
                   editions: int = 7) -> Status:
    """Every configured source's health, the last `editions` editions, subscriber counts."""
    from digest.sources.gather import feed_categories  # its fetching libraries: only here

    now = now or utcnow()
    sources = []
    for url, categories in feed_categories(config).items():
        state = store.feed_state(url)
        sources.append(SourceHealth(
            url=url, categories=tuple(categories), health=health(state, now),
            last_success=state.last_success, last_error=state.last_error,
            failing_since=state.failing_since, retry_after=state.retry_after,
            moved_to=state.moved_to, coverage=coverage(state, config),
        ))
    return Status(
        state=StateFile(path=config.state, bytes=state_size(config.state),
                        articles=store.article_count(), editions=store.edition_count()),
        sources=tuple(sources),
        editions=tuple(edition_status(t, store.bounce_tally(t.id))
                       for t in store.edition_tallies(editions)),
        subscribers=store.subscriber_counts(),
        unconfirmed=tuple(store.unconfirmed(limit=UNCONFIRMED_SHOWN)),
        bounces=bounce_status(store, now),
        signup=signup_status(store),
        checked_at=now,
    )


def signup_status(store: Store) -> SignupStatus:
    waiting, since, problem = store.signup_mail_backlog()
    return SignupStatus(waiting, since, problem, store.refused_sign_ups())


def bounce_status(store: Store, now: dt.datetime) -> BounceStatus:
    tally = store.bounce_tally()
    since = now - dt.timedelta(days=POLICY_DAYS)
    return BounceStatus(tally.bounced, tally.complained, tally.blocked, tally.unsubscribed,
                        tuple(PolicyBlocks(d, n) for d, n in store.policy_blocks(since)),
                        tuple(Delays(d, n) for d, n in store.delays(since)))


@dataclass(frozen=True)
class ArticleLine:
    title: str
    link: str
    author: str | None
    published: dt.datetime | None
    reading_minutes: int | None
    excerpt: str


@dataclass(frozen=True)
class SectionDetail:
    slug: str
    title: str
    articles: tuple[ArticleLine, ...]


@dataclass(frozen=True)
class EditionDetail:
    date: dt.date
    articles: int
    delivery: str
    sections: tuple[SectionDetail, ...]
    # With --failures: each recipient not sent, with the reply or the bounce's words.
    failures: tuple[Failure, ...] | None = None


def edition_detail(edition: Edition, tally: EditionTally | None,
                   failures: tuple[Failure, ...] | None = None) -> EditionDetail:
    """An edition's articles by category, for `digest editions show`."""
    return EditionDetail(
        date=edition.date,
        articles=edition.article_count,
        delivery=delivery_state(tally) if tally else "not sent",
        sections=tuple(
            SectionDetail(section.slug, section.title, tuple(
                ArticleLine(a.title, a.link, a.author, a.published, a.reading_minutes,
                            a.excerpt)
                for a in section.articles))
            for section in edition.sections
        ),
        failures=failures,
    )
