"""The daily job, step by step: gather -> build -> publish -> deliver.

Each function does one step with the store and config it is given; `Digest`
(digest/app/facade.py) calls them, and the CLI and `serve` call `Digest`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.config import Config
from digest.edition import edition_cutoff, select_edition
from digest.models import Edition, Subscriber
from digest.store import EditionEntry, Store, utcnow

if TYPE_CHECKING:  # each step imports what it uses when it runs: commands start at once
    from jinja2 import Environment

    from digest.app.bounces import BouncesReport
    from digest.deliver.policy import DeliveryReport
    from digest.deliver.transport import Transport
    from digest.models import StoredArticle
    from digest.render.site import Listed, SitePages
    from digest.sources.gather import FeedReport, GatherReport


def today(config: Config, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the digest's time zone."""
    return (now or utcnow()).astimezone(config.timezone).date()


def fetch(config: Config, store: Store, *, now: dt.datetime | None = None,
          on_feed: Callable[[FeedReport], None] | None = None) -> GatherReport:
    from digest.sources.gather import gather

    return gather(config, store, now=now, on_feed=on_feed)


@dataclass(frozen=True)
class BuildResult:
    edition: Edition | None
    changed: bool  # False when the edition was already frozen (sent) and kept as it was
    written: tuple[Path, ...]


def build(config: Config, store: Store, date: dt.date, *, now: dt.datetime | None = None,
          everything: bool = False) -> BuildResult:
    """Make `date`'s edition from the stored articles and publish the output files.

    Only the files whose inputs changed are rendered again; `everything` renders all.
    """
    now = now or utcnow()
    existing = store.edition(date)
    if existing is not None and existing.frozen:
        return BuildResult(existing, False, publish(config, store, everything=everything))
    selected = _select(config, store, date, now)
    if selected is None:
        if existing is not None:
            store.delete_edition(date)
        return BuildResult(None, existing is not None,
                           publish(config, store, everything=everything))
    edition = store.save_edition(selected)
    return BuildResult(edition, True, publish(config, store, everything=everything))


def _select(config: Config, store: Store, date: dt.date, now: dt.datetime) -> Edition | None:
    """`date`'s edition as the stored articles make it at `now` (nothing is saved)."""
    cutoff = edition_cutoff(date, config.timezone, now)
    lookback = dt.timedelta(hours=config.lookback_hours)
    candidates = store.candidate_articles(cutoff - lookback, cutoff, date.isoformat())
    return select_edition(date, candidates, config.categories, cutoff=cutoff,
                          lookback=lookback, created_at=cutoff)


def publish(config: Config, store: Store, *, everything: bool = False) -> tuple[Path, ...]:
    """Write the feeds and web pages for the stored editions; return the files that changed.

    Only what changed is rendered: an edition page or category feed made from the
    same inputs (edition, neighbours, articles) and fingerprint (config, templates,
    code) as last time is left as it is, and when nothing at all changed nothing is
    rendered (see digest/render/publication.py). `everything` renders every file
    again. Either way the files are byte for byte those of a full rebuild.
    """
    from digest.render.output import owned, remove_leftovers
    from digest.render.publication import (
        category_signature,
        fingerprint,
        page_signature,
        site_signature,
    )

    remove_leftovers(config.output)  # a killed run's temporary files, even on a no-op build
    fp = fingerprint(config, store.schema_version)
    entries = store.edition_entries()
    signatures: dict[str, str] = {}
    for i, entry in enumerate(entries):
        newer = entries[i - 1] if i > 0 else None
        older = entries[i + 1] if i + 1 < len(entries) else None
        signatures[_page(entry.date)] = page_signature(
            fp, entry.content, newer and (newer.date, newer.articles),
            older and (older.date, older.articles))
    # A category's feed carries what its sources carried and what names it itself: every
    # article filed under it (see edition.filed_under) is among them.
    articles = {c.slug: store.category_articles(c.slug, config.feed_articles, (c.slug, c.title))
                for c in config.categories}
    for slug, shown in articles.items():
        signatures[f"categories/{slug}/"] = category_signature(fp, shown)
    site = site_signature(fp, signatures)
    if everything:
        store.forget_published()
    published = store.published_files()
    found = _listed(config.output, published)
    present = found & published.keys()
    if (store.published_site() == site and present == published.keys()
            and all(name in published or name.endswith("/") for name in signatures)
            and not any(owned(name) for name in found - present)):  # nothing to prune
        return ()
    return _render_changed(config, store, fp, entries, signatures, published, present,
                           articles, site)


def _page(date: dt.date) -> str:
    return f"editions/{date.isoformat()}.html"  # as render.context.edition_path


def _listed(output: Path, names: Iterable[str]) -> set[str]:
    """The files in the folders that hold `names` (paths relative to `output`): one
    listing a folder, not a stat a file."""
    found: set[str] = set()
    for folder in {name.rpartition("/")[0] for name in names}:
        try:
            with os.scandir(output / folder) as listing:
                found.update(f"{folder}/{e.name}" if folder else e.name for e in listing
                             if e.is_file())
        except OSError:
            continue
    return found


@dataclass
class _Publishing:
    """What one build wrote and published, file by file."""

    output: Path
    published: dict[str, str]  # as recorded by the last build: {path: signature}
    present: set[str]  # of those, the files still there
    written: list[Path] = field(default_factory=list)
    done: dict[str, str] = field(default_factory=dict)  # published now: {path: signature}

    def unchanged(self, name: str, signature: str) -> bool:
        if self.published.get(name) == signature and name in self.present:
            self.done[name] = signature
            return True
        return False

    def write(self, name: str, data: bytes | str, signature: str = "-") -> None:
        from digest.render.output import write_atomic

        path = self.output / name
        if write_atomic(path, data):
            self.written.append(path)
        self.done[name] = signature


def _render_changed(config: Config, store: Store, fp: str, entries: list[EditionEntry],
                    signatures: dict[str, str], published: dict[str, str], present: set[str],
                    articles: dict[str, list[StoredArticle]], site: str) -> tuple[Path, ...]:
    """Render the files whose signature is not the one they were published with."""
    from digest.render.output import prune
    from digest.render.site import Listed, SitePages
    from digest.render.templates import environment

    # What will be written again is forgotten first: were this build cut short, the
    # next could otherwise take a file it half-rewrote for one made from its old inputs.
    store.forget_published(name for name, signature in published.items()
                           if signature != signatures.get(name, signatures.get(
                               name.rpartition("/")[0] + "/")))
    env = environment(config.templates)
    pages = SitePages(config, env)
    latest = store.edition(entries[0].date) if entries else None
    listed = [Listed(e.date, e.articles) for e in entries]
    out = _Publishing(config.output, published, present)
    for i, shown in enumerate(listed):
        name = _page(shown.date)
        if out.unchanged(name, signatures[name]):
            continue  # rendered from the same inputs: the same bytes
        edition = latest if i == 0 else store.edition(shown.date)
        assert edition is not None
        newer = listed[i - 1] if i > 0 else None
        older = listed[i + 1] if i + 1 < len(listed) else None
        out.write(name, pages.edition(edition, newer, older), signatures[name])  # one by one
    _render_category_feeds(config, out, articles, signatures)
    bodies = _render_whole_site(config, store, env, fp, entries, (pages, listed, latest), out)
    out.written.extend(prune(config.output, set(out.done)))
    store.save_published(out.done, site, bodies)
    return tuple(out.written)


def _render_category_feeds(config: Config, out: _Publishing,
                           articles: dict[str, list[StoredArticle]],
                           signatures: dict[str, str]) -> None:
    from digest.render.feeds import render_category_feed

    for slug, newest in articles.items():
        folder = f"categories/{slug}/"
        kept = [name for name in out.published if name.startswith(folder)]
        if kept and all([out.unchanged(name, signatures[folder]) for name in kept]):
            continue
        for name, feed in render_category_feed(config, slug, newest).items():
            out.write(name, feed, signatures[folder])


def _render_whole_site(config: Config, store: Store, env: Environment, fp: str,
                       entries: list[EditionEntry],
                       site: tuple[SitePages, list[Listed], Edition | None],
                       out: _Publishing) -> dict[str, tuple[str, str]]:
    """The digest's own feeds, the index pages and the OPML; return the edition bodies
    the feeds carry, {date: (signature, html)}, for the next build to reuse."""
    from digest.render.feeds import render_feeds
    from digest.render.opml import OPML_PATH, render_opml
    from digest.render.publication import body_signature
    from digest.render.site import edition_body

    pages, listed, latest = site
    content = {e.date: e.content for e in entries}
    cached = {} if not out.published else store.edition_bodies()
    bodies: dict[str, tuple[str, str]] = {}

    def body(edition: Edition) -> str:
        key = edition.date.isoformat()
        signature = body_signature(fp, content[edition.date])
        hit = cached.get(key)
        text = hit[1] if hit and hit[0] == signature else edition_body(config, edition, env)
        bodies[key] = (signature, text)
        return text

    def recent() -> Iterator[Edition]:  # one at a time, as far as the feeds take them
        for i, entry in enumerate(entries):
            edition = latest if i == 0 else store.edition(entry.date)
            assert edition is not None
            yield edition

    files: dict[str, bytes | str] = {}
    files.update(render_feeds(config, recent(), env, body))
    files.update(pages.lists(listed, latest))
    files[OPML_PATH] = render_opml(config, env)
    for name, data in files.items():
        out.write(name, data)
    return bodies


def deliver(config: Config, store: Store, edition: Edition, *, now: dt.datetime | None = None,
            dry_run: bool = False, transport: Transport | None = None,
            on_message: Callable[[Subscriber, str], None] | None = None,
            on_start: Callable[[Edition, int], None] | None = None,
            retry_unknown: bool = False) -> DeliveryReport:
    """Send `edition` to every active subscriber still owed it; record each outcome at once.

    Through a pool of `[smtp] connections`, retrying deferred recipients with
    backoff; see digest/deliver/mailing.py. `on_start` hears how many recipients
    are owed it; `on_message` hears each one's outcome ("sent", "deferred",
    "failed", "skipped", or "dry-run"), from the sending threads, one call at a time.
    """
    from digest.deliver import mailing

    return mailing.deliver_edition(config, store, edition, now=now or utcnow(),
                                   dry_run=dry_run, transport=transport,
                                   on_message=on_message, on_start=on_start,
                                   retry_unknown=retry_unknown)


@dataclass(frozen=True)
class SendResult:
    gathered: GatherReport | None
    built: BuildResult
    deliveries: tuple[DeliveryReport, ...]
    warnings: tuple[str, ...]
    bounces: BouncesReport | None = None  # what `digest bounces` did first, when set up

    @property
    def undelivered(self) -> bool:
        return any(d.left for d in self.deliveries)


def send(config: Config, store: Store, date: dt.date, *, dry_run: bool = False,
         skip_fetch: bool = False, now: dt.datetime | None = None,
         on_feed: Callable[[FeedReport], None] | None = None,
         on_message: Callable[[Subscriber, str], None] | None = None,
         on_start: Callable[[Edition, int], None] | None = None,
         retry_unknown: bool = False) -> SendResult:
    """The daily job: fetch, build and publish `date`'s edition, then mail it.

    Editions of the last `email.retry_days` days whose delivery was left
    unfinished (mail server down, deferred recipients) are finished first;
    with `retry_unknown`, so are those with recipients whose delivery is unknown.
    """
    now = now or utcnow()
    warnings = []
    if not config.email.unsubscribe_url and config.email.transport == "smtp":
        warnings.append(
            "[email] unsubscribe_url is not set: messages carry only a mailto unsubscribe, "
            "which Gmail and Yahoo do not count as one-click; set it to your unsubscribe "
            "endpoint (see `digest serve`)"
        )
    gathered = None if skip_fetch else fetch(config, store, now=now, on_feed=on_feed)
    built = build(config, store, date, now=now)
    reports = []
    since = date - dt.timedelta(days=config.email.retry_days)
    earlier = store.unfinished_editions(since)
    if retry_unknown:
        earlier += store.editions_with_unknown(since)
    earlier = sorted({e.date: e for e in earlier if e.date != date}.values(),
                     key=lambda e: e.date)
    targets = [*earlier, *([built.edition] if built.edition is not None else [])]
    for edition in targets:
        report = deliver(config, store, edition, now=now, dry_run=dry_run,
                         on_message=on_message, on_start=on_start,
                         retry_unknown=retry_unknown)
        reports.append(report)
        if report.stopped:
            break
    return SendResult(gathered, built, tuple(reports), tuple(warnings))


def feed_locations(config: Config) -> list[str]:
    """Every distinct feed location in config order."""
    return list(dict.fromkeys(
        location for c in config.categories
        for location in (*c.feeds, *(w.location for w in c.wordpress))))


def edition_for(config: Config, store: Store, date: dt.date, *,
                now: dt.datetime | None = None) -> Edition | None:
    """`date`'s edition as stored, else as it would be built now (nothing is saved)."""
    existing = store.edition(date)
    if existing is not None:
        return existing
    return _select(config, store, date, now or utcnow())


@dataclass(frozen=True)
class Preview:
    edition: Edition
    html: Path
    text: Path


# Who a preview or test copy is addressed to in its footer; a test copy's unsubscribe
# token names no subscriber (ids start at 1), so following it unsubscribes nobody.
PREVIEW_READER = "reader@example.org"
TEST_SUBSCRIBER_ID = 0


def preview(config: Config, store: Store, date: dt.date, folder: Path) -> Preview | None:
    """Write `date`'s email (HTML and text, as a subscriber to every category sees it)."""
    from digest.deliver.message import manage_for, unsubscribe_for
    from digest.deliver.tokens import make_manage_token, make_token, secret_for
    from digest.render.email import render_email
    from digest.render.output import write_atomic
    from digest.render.templates import environment

    edition = edition_for(config, store, date)
    if edition is None:
        return None
    rendered = render_email(config, edition, environment(config.templates))
    secret = secret_for(store.secret)
    leave = unsubscribe_for(config, make_token(secret, TEST_SUBSCRIBER_ID))
    manage = manage_for(config, make_manage_token(secret, TEST_SUBSCRIBER_ID))
    html_body, text_body = rendered.personalise(PREVIEW_READER, leave.visible_url, manage)
    html_path = folder / f"{date.isoformat()}.html"
    text_path = folder / f"{date.isoformat()}.txt"
    write_atomic(html_path, html_body)
    write_atomic(text_path, text_body)
    return Preview(edition, html_path, text_path)


@dataclass(frozen=True)
class TestSend:
    edition: Edition
    subject: str
    outcome: str
    reply: str | None
    address: str  # as it was sent to (normalised)


def send_test(config: Config, store: Store, date: dt.date, address: str, *,
              now: dt.datetime | None = None,
              transport: Transport | None = None) -> TestSend | None:
    """Mail one copy of `date`'s edition to `address`, "[TEST]" in the subject.

    Nothing is recorded: the edition is not frozen, no delivery is stored, and the
    address need not be a subscriber. With the file transport the copy goes to
    OUTBOX/test/.
    """
    from digest.deliver import mailing
    from digest.deliver.dkim import DkimSigner
    from digest.deliver.message import build_template
    from digest.deliver.tokens import (
        make_manage_token,
        make_token,
        return_path_for,
        secret_for,
    )
    from digest.render.email import render_email
    from digest.render.templates import environment

    edition = edition_for(config, store, date, now=now)
    if edition is None:
        return None
    now = now or utcnow()
    rendered = render_email(config, edition, environment(config.templates),
                            subject_prefix="[TEST] ")
    template = build_template(config, rendered, now)
    reader = Subscriber(id=TEST_SUBSCRIBER_ID, email=address, name="")
    secret = secret_for(store.secret)
    message = template.for_subscriber(config, reader, make_token(secret, TEST_SUBSCRIBER_ID),
                                      manage=make_manage_token(secret, TEST_SUBSCRIBER_ID))
    if config.dkim:  # signed like the real thing, so the test copy proves the set-up
        message = DkimSigner.load(config.dkim, str(config.path)).sign(message)
    own = transport is None
    if transport is None:
        transport = mailing.open_transport(config, "test")
    try:
        sender = config.email.sender_address
        if config.email.return_path:  # the bounce of a test copy names no subscriber
            sender = return_path_for(config.email.return_path, secret, edition.date,
                                     TEST_SUBSCRIBER_ID)
        outcome = transport.send(sender, address, message)
    finally:
        if own:
            transport.close()
    return TestSend(edition, rendered.subject, outcome.status, outcome.reply, address)
