"""The daily job, step by step: gather -> build -> publish -> deliver.

Each function does one step with the store and config it is given; the CLI
calls them and prints what they return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.deliver.message import MessageTemplate, build_template, unsubscribe_for
from digest.deliver.outbox import OutboxTransport
from digest.deliver.smtp import SmtpTransport
from digest.deliver.tokens import make_token, secret_for
from digest.deliver.transport import Transport
from digest.delivery import DeliveryReport, sections_for, should_bounce
from digest.edition import edition_cutoff, select_edition
from digest.errors import DeliveryError
from digest.models import Edition, Subscriber
from digest.render.email import render_email
from digest.render.feeds import render_feeds
from digest.render.output import write_atomic
from digest.render.site import render_site
from digest.render.templates import environment
from digest.sources.gather import FeedReport, GatherReport, gather
from digest.store import Store, utcnow


def today(config: Config, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the digest's time zone."""
    return (now or utcnow()).astimezone(config.timezone).date()


def fetch(config: Config, store: Store, *, now: dt.datetime | None = None,
          on_feed: Callable[[FeedReport], None] | None = None) -> GatherReport:
    return gather(config, store, now=now, on_feed=on_feed)


@dataclass(frozen=True)
class BuildResult:
    edition: Edition | None
    changed: bool  # False when the edition was already frozen (sent) and kept as it was
    written: tuple[Path, ...]


def build(config: Config, store: Store, date: dt.date, *,
          now: dt.datetime | None = None) -> BuildResult:
    """Make `date`'s edition from the stored articles and publish every output file."""
    now = now or utcnow()
    existing = store.edition(date)
    if existing is not None and existing.frozen:
        return BuildResult(existing, False, publish(config, store))
    cutoff = edition_cutoff(date, config.timezone, now)
    lookback = dt.timedelta(hours=config.lookback_hours)
    candidates = store.candidate_articles(cutoff - lookback, cutoff, date.isoformat())
    selected = select_edition(date, candidates, config.categories, cutoff=cutoff,
                              lookback=lookback, created_at=cutoff)
    if selected is None:
        if existing is not None:
            store.delete_edition(date)
        return BuildResult(None, existing is not None, publish(config, store))
    edition = store.save_edition(selected)
    return BuildResult(edition, True, publish(config, store))


def publish(config: Config, store: Store) -> tuple[Path, ...]:
    """Write the feeds and web pages for the stored editions; return the files that changed."""
    env = environment(config.templates)
    editions = store.editions()
    files: dict[str, bytes | str] = {}
    files.update(render_feeds(config, editions, env))
    files.update(render_site(config, editions, env))
    written = []
    for name, data in files.items():
        path = config.output / name
        if write_atomic(path, data):
            written.append(path)
    return tuple(written)


def open_transport(config: Config, edition: Edition) -> Transport:
    if config.email.transport == "file":
        return OutboxTransport(config.email.outbox, edition.date.isoformat())
    return SmtpTransport(config.smtp, local_hostname=config.email.domain)


def deliver(config: Config, store: Store, edition: Edition, *, now: dt.datetime | None = None,
            dry_run: bool = False, transport: Transport | None = None,
            on_message: Callable[[Subscriber, str], None] | None = None) -> DeliveryReport:
    """Send `edition` to every active subscriber still owed it; record each outcome at once."""
    now = now or utcnow()
    assert edition.id is not None
    report = DeliveryReport(edition.date.isoformat(), edition.article_count, dry_run=dry_run)
    if not dry_run:
        store.freeze_edition(edition.id, now)
    audience_until = store.frozen_at(edition.id) or now
    env = environment(config.templates)
    secret = secret_for(store)
    templates: dict[frozenset[str], MessageTemplate] = {}
    own_transport = transport is None
    after = 0
    try:
        while True:
            page = store.pending_recipients(edition.id, audience_until, after)
            if not page:
                break
            for subscriber, _previous in page:
                after = subscriber.id
                wanted = sections_for(subscriber, edition)
                if not wanted:
                    report.nothing_for += 1
                    continue
                template = templates.get(wanted)
                if template is None:
                    rendered = render_email(config, edition.for_categories(wanted), env)
                    template = templates[wanted] = build_template(config, rendered, now)
                message = template.for_subscriber(config, subscriber,
                                                  make_token(secret, subscriber.id))
                if dry_run:
                    report.sent += 1
                    continue
                if transport is None:
                    transport = open_transport(config, edition)
                outcome = transport.send(config.email.sender_address, subscriber.email,
                                         message)
                store.record_delivery(edition.id, subscriber.id, outcome.status, outcome.reply)
                if outcome.status == "sent":
                    report.sent += 1
                elif outcome.status == "deferred":
                    report.deferred += 1
                    report.problems.append(f"{subscriber.email}: deferred ({outcome.reply})")
                else:
                    report.failed += 1
                    report.problems.append(f"{subscriber.email}: refused ({outcome.reply})")
                    if should_bounce(store.hard_failures_in_a_row(subscriber.id)):
                        store.set_subscriber_status(subscriber.email, "bounced")
                        report.bounced.append(subscriber.email)
                if on_message:
                    on_message(subscriber, outcome.status)
    except DeliveryError as exc:
        report.stopped = str(exc)
    finally:
        if own_transport and transport is not None:
            transport.close()
    if not dry_run and not report.stopped and report.deferred == 0:
        store.complete_edition(edition.id, now)
    return report


@dataclass(frozen=True)
class SendResult:
    gathered: GatherReport | None
    built: BuildResult
    deliveries: tuple[DeliveryReport, ...]
    warnings: tuple[str, ...]

    @property
    def undelivered(self) -> bool:
        return any(d.left for d in self.deliveries)


def send(config: Config, store: Store, date: dt.date, *, dry_run: bool = False,
         skip_fetch: bool = False, now: dt.datetime | None = None,
         on_feed: Callable[[FeedReport], None] | None = None,
         on_message: Callable[[Subscriber, str], None] | None = None) -> SendResult:
    """The daily job: fetch, build and publish `date`'s edition, then mail it.

    Editions of the last `email.retry_days` days whose delivery was left
    unfinished (mail server down, deferred recipients) are finished first.
    """
    now = now or utcnow()
    warnings = []
    if not config.email.unsubscribe_url:
        warnings.append(
            "[email] unsubscribe_url is not set: messages carry only a mailto unsubscribe, "
            "which Gmail and Yahoo do not count as one-click; set it to your unsubscribe "
            "endpoint (see `digest serve`)"
        )
    gathered = None if skip_fetch else fetch(config, store, now=now, on_feed=on_feed)
    built = build(config, store, date, now=now)
    reports = []
    since = date - dt.timedelta(days=config.email.retry_days)
    earlier = [e for e in store.unfinished_editions(since) if e.date != date]
    targets = [*earlier, *([built.edition] if built.edition is not None else [])]
    for edition in targets:
        report = deliver(config, store, edition, now=now, dry_run=dry_run,
                         on_message=on_message)
        reports.append(report)
        if report.stopped:
            break
    return SendResult(gathered, built, tuple(reports), tuple(warnings))


def unsubscribe_link(config: Config, store: Store, subscriber: Subscriber) -> str:
    """The link a subscriber follows to leave (for `digest subscribers list --links`)."""
    return unsubscribe_for(config, make_token(secret_for(store), subscriber.id)).visible_url


def feed_locations(config: Config) -> list[str]:
    """Every distinct feed location in config order."""
    return list(dict.fromkeys(
        location for c in config.categories
        for location in (*c.feeds, *(w.location for w in c.wordpress))))
