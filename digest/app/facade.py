"""`Digest`: the one way in. A method per thing a user can do, returning plain data.

The CLI and `digest serve` parse input, call one method and present what it
returns; they never reach the store, the sources or the mailer themselves.
A `Digest` is opened from a config; as a context manager it owns the state
file (opened on first use, so an action that needs none creates none) and,
when asked, the run lock. Methods never print: progress comes back through the
callbacks they take, results as frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TextIO

from digest.app import pipeline
from digest.config import Config, config_path, load_config
from digest.errors import DigestError, InputError, NotFound
from digest.models import Edition, Subscriber
from digest.store import Store, utcnow

if TYPE_CHECKING:  # each action imports what it uses when it runs
    from digest.app.bounces import BounceLine, BouncesReport
    from digest.app.manage import ManageAnswer, ManageChoice
    from digest.app.signup import ConfirmAnswer, MailRun, SignUp
    from digest.app.status import EditionDetail, EditionStatus, Status
    from digest.sources.check import FeedCheck
    from digest.sources.gather import FeedReport, GatherReport
    from digest.subscribers import ImportLine


@dataclass(frozen=True)
class FetchResult:
    report: GatherReport
    reenabled: tuple[str, ...]  # feeds that were gone or waiting and are fetched again
    not_held: tuple[str, ...]  # feeds asked to be re-enabled that were neither


@dataclass(frozen=True)
class SubscriberChange:
    email: str  # as stored (normalised)
    outcome: str  # "added", "updated", "unchanged", "unsubscribed", "forgotten"
    note: str = ""  # what the user should know besides (a log that kept the address)


@dataclass(frozen=True)
class TokenAnswer:
    """What a one-click unsubscribe token came to."""

    state: Literal["confirm", "done", "not_listed", "invalid"]
    email: str = ""


class Digest:
    """A digest opened from its config: `with Digest.open(path) as digest: digest.send(date)`."""

    def __init__(self, config: Config, *, lock: bool = False, create: bool = True) -> None:
        """`create=False` (the commands that only read, and `serve`): a missing state file
        is NotFound, never made afresh (a new one holds a new token secret, which would
        void every unsubscribe link already sent)."""
        self.config = config
        self.lock = lock
        self.create = create
        self._stack = ExitStack()
        self._store: Store | None = None

    @classmethod
    def open(cls, path: str | Path | None = None, *, lock: bool = False) -> Digest:
        """The digest whose config is at `path` (else $DIGEST_CONFIG, else ./config.toml)."""
        return cls(load_config(config_path(None if path is None else str(path))), lock=lock)

    def __enter__(self) -> Digest:
        if self.lock:
            from digest.lock import run_lock

            self._stack.enter_context(run_lock(self.config.state))
        return self

    def __exit__(self, *exc: object) -> None:
        self._store = None
        self._stack.close()

    @property
    def store(self) -> Store:
        """The state file, opened (and created, migrated) on first use."""
        if self._store is None:
            if not self.create and not self.config.state.exists():
                raise NotFound(
                    f"there is no state file at {self.config.state} ([digest] state in "
                    f"{self.config.path}); `digest fetch` makes one. If it was moved, "
                    "set `state` to where it is now: a new one would void every "
                    "unsubscribe link already sent")
            self._store = self._stack.enter_context(Store(self.config.state))
        return self._store

    def store_warnings(self) -> list[str]:
        """Opens the state file; what its opening has to tell (e.g. others can read it)."""
        return list(self.store.warnings)

    def today(self) -> dt.date:
        """Today's date in the digest's time zone."""
        return pipeline.today(self.config)

    # -- the daily job --------------------------------------------------------

    def feed_locations(self) -> list[str]:
        """Every distinct feed location, in config order."""
        return pipeline.feed_locations(self.config)

    def reenable_feed(self, url: str) -> bool:
        """Let a feed that said 410 Gone or asked to wait be fetched again; False: it was
        neither. InputError for a URL the config does not list."""
        from digest.sources.gather import reenable

        self._check_feed(url)
        return reenable(self.store, url)

    def _check_feed(self, url: str) -> None:
        if url not in self.feed_locations():
            raise InputError(f"{url}: not a feed in {self.config.path} (see `digest status`)")

    def fetch(self, *, reenable: Sequence[str] = (),
              on_feed: Callable[[FeedReport], None] | None = None) -> FetchResult:
        """Gather new articles from every feed into the state file."""
        for url in reenable:  # every URL checked before any is changed
            self._check_feed(url)
        held = [url for url in reenable if self.reenable_feed(url)]
        report = pipeline.fetch(self.config, self.store, on_feed=on_feed)
        return FetchResult(report, tuple(held),
                           tuple(url for url in reenable if url not in held))

    def build(self, date: dt.date, *, everything: bool = False) -> pipeline.BuildResult:
        """Make `date`'s edition from the stored articles and write the outputs (no mail)."""
        return pipeline.build(self.config, self.store, date, everything=everything)

    def send(self, date: dt.date, *, dry_run: bool = False, fetch: bool = True,
             retry_unknown: bool = False,
             on_feed: Callable[[FeedReport], None] | None = None,
             on_start: Callable[[Edition, int], None] | None = None,
             on_message: Callable[[Subscriber, str], None] | None = None,
             ) -> pipeline.SendResult:
        """The daily job: read the bounce mailbox (when `[bounces] mailbox` is set: a
        mailbox that cannot be read is a warning, and the send goes on), then fetch,
        build, publish and mail `date`'s edition."""
        import dataclasses

        bounces, problem = None, None
        if self.config.bounces.mailbox:
            try:
                bounces = self.process_bounces(dry_run=dry_run)
            except DigestError as exc:
                problem = f"bounces not read: {exc}"
        result = pipeline.send(self.config, self.store, date, dry_run=dry_run,
                               skip_fetch=not fetch, on_feed=on_feed, on_start=on_start,
                               on_message=on_message, retry_unknown=retry_unknown)
        if bounces is None and problem is None:
            return result
        return dataclasses.replace(result, bounces=bounces, warnings=(
            *((problem,) if problem else ()), *result.warnings))

    def process_bounces(self, *, dry_run: bool = False,
                        on_line: Callable[[BounceLine], None] | None = None,
                        keep_lines: bool = True, again: bool = False) -> BouncesReport:
        """Read `[bounces] mailbox`: classify each message, act on it (bounce, count,
        unsubscribe) and put it away; a dry run changes and moves nothing. The messages
        earlier runs left in the mailbox are read again only with `again`. InputError
        without a mailbox configured, MailboxError when it cannot be read."""
        from digest.app.bounces import process_bounces

        return process_bounces(self.config, self.store, dry_run=dry_run, on_line=on_line,
                               keep_lines=keep_lines, again=again)

    def test_send(self, date: dt.date, address: str) -> pipeline.TestSend:
        """Mail one "[TEST]" copy of `date`'s edition to `address`; record nothing."""
        from digest.subscribers import normalise_address

        try:
            to = normalise_address(address)
        except ValueError as exc:
            raise InputError(f"{address}: {exc}") from None
        result = pipeline.send_test(self.config, self.store, date, to)
        if result is None:
            raise NotFound(f"no articles for an edition of {date}; run `digest fetch` first")
        return result

    def preview(self, date: dt.date, folder: Path | None = None) -> pipeline.Preview:
        """Write `date`'s email as HTML and text to `folder` (default preview/ beside the
        config); nothing is sent or recorded."""
        target = folder or self.config.path.parent / "preview"
        try:
            result = pipeline.preview(self.config, self.store, date, target)
        except OSError as exc:
            raise DigestError(f"cannot write the preview to {target}: "
                              f"{exc.strerror or exc}") from None
        if result is None:
            raise NotFound(f"no articles for an edition of {date}; run `digest fetch` first")
        return result

    # -- looking at the state -------------------------------------------------

    def status(self, *, editions: int = 7) -> Status:
        """Feed health, recent editions, subscriber counts, the state file."""
        from digest.app.status import collect_status

        return collect_status(self.config, self.store, editions=editions)

    def editions(self, limit: int = 30) -> list[EditionStatus]:
        """The editions with article and delivery counts, newest first."""
        from digest.app.status import edition_status

        return [edition_status(t, self.store.bounce_tally(t.id))
                for t in self.store.edition_tallies(limit)]

    def edition_dates(self, limit: int = 60) -> list[dt.date]:
        """The dates of the latest editions, newest first (none if there is no state file:
        none is created)."""
        if self._store is None and not self.config.state.exists():
            return []
        return [t.date for t in self.store.edition_tallies(limit)]

    def latest_edition_date(self) -> dt.date:
        latest = self.store.latest_edition_date()
        if latest is None:
            raise NotFound("there is no edition yet; `digest send` (or `digest build`) "
                           "makes one")
        return latest

    def edition(self, date: dt.date, *, failures: bool = False) -> EditionDetail:
        """An edition's articles by category; with `failures`, each recipient it was not
        sent to (or whose copy bounced) with the server's reply or the bounce's words."""
        from digest.app.status import edition_detail

        edition = self.store.edition(date)
        if edition is None:
            raise NotFound(f"there is no edition of {date}; `digest editions list` shows "
                           "the dates")
        tally = next(iter(self.store.edition_tallies(date=date)), None)
        found = None
        if failures and edition.id is not None:
            found = tuple(self.store.edition_failures(edition.id))
        return edition_detail(edition, tally, found)

    def feed_count(self) -> int:
        from digest.sources.gather import feed_categories

        return len(feed_categories(self.config))

    def check_feeds(self, *, on_check: Callable[[FeedCheck], None] | None = None,
                    ) -> tuple[FeedCheck, ...]:
        """Fetch every feed once, afresh, and say how it answered; nothing is stored."""
        from digest.sources.check import check_feeds

        return check_feeds(self.config, on_check=on_check)

    # -- subscribers ----------------------------------------------------------

    def add_subscriber(self, email: str, name: str = "", categories: Iterable[str] = (),
                       *, force: bool = False) -> SubscriberChange:
        """Add a subscriber, or update one (re-activating an unsubscribed address). An
        address erased by `forget` is InputError unless `force`."""
        from digest.subscribers import (
            FORGOTTEN,
            check_categories,
            normalise_address,
            normalise_name,
        )

        try:
            address = normalise_address(email)
            cats = check_categories(categories, self.config.category_slugs)
        except ValueError as exc:
            raise InputError(f"{email}: {exc}") from None
        if not force and self.store.is_forgotten(address):
            raise InputError(f"{address}: {FORGOTTEN}")
        _, outcome = self.store.upsert_subscriber(address, normalise_name(name), cats)
        return SubscriberChange(address, outcome)

    def unsubscribe(self, email: str) -> SubscriberChange:
        """Mark an address unsubscribed (kept, so it is never mailed again)."""
        found = self.store.subscriber(email.strip())
        if found is None:
            raise NotFound(f"{email}: no such subscriber (see `digest subscribers list`)")
        self.store.set_subscriber_status(found.email, "unsubscribed")
        return SubscriberChange(found.email, "unsubscribed")

    def forget(self, email: str) -> SubscriberChange:
        """Erase a person's data (address, name, consent, delivery records, queued mail)
        for a privacy request, from the state file's bytes and its log too, and the
        file transport's .eml files addressed to them; only a salted hash of the address
        is kept, so that it is not imported or added again by accident (`--force`
        does)."""
        from digest.deliver.outbox import erase_messages

        erased = self.store.forget(email.strip())
        if erased is None:
            raise NotFound(f"{email}: no such subscriber (see `digest subscribers list`)")
        erase_messages(self.config.email.outbox, erased)
        note = ""
        if self.store.log_kept:
            note = (f"another process (`digest serve`?) is reading {self.config.state}, "
                    f"so its write-ahead log ({self.config.state.name}-wal) could not be "
                    "emptied and may still hold the address; once it has stopped, run "
                    f"`sqlite3 {self.config.state} 'PRAGMA wal_checkpoint(TRUNCATE)'`")
        return SubscriberChange(erased, "forgotten", note)

    def unsubscribe_by_token(self, token: str | None, *, confirmed: bool) -> TokenAnswer:
        """What a one-click link's token names; `confirmed` (the POST) unsubscribes it.

        A forged or malformed token is "invalid" and changes nothing.
        """
        from digest.deliver.tokens import read_token, secret_for

        subscriber_id = read_token(secret_for(self.store.secret), token) if token else None
        if subscriber_id is None:
            return TokenAnswer("invalid")
        subscriber = self.store.subscriber_by_id(subscriber_id)
        if subscriber is None:
            return TokenAnswer("not_listed")
        if not confirmed:
            state: Literal["confirm", "done"] = (
                "done" if subscriber.status == "unsubscribed" else "confirm")
            return TokenAnswer(state, subscriber.email)
        if subscriber.status != "unsubscribed":
            self.store.set_subscriber_status(subscriber.email, "unsubscribed")
        return TokenAnswer("done", subscriber.email)

    def subscribe(self, email: str, name: str = "", categories: Iterable[str] = (), *,
                  form: str = "", trap: str = "") -> SignUp:
        """A reader's sign-up on the form (double opt-in): a new, pending or unsubscribed
        address becomes pending and is owed a confirmation link; an active one is owed
        its manage and unsubscribe links; at most one mail per address an hour. The
        mail is queued, not sent (`send_signup_mail`). `form` is the page it came from
        (kept as the consent's form). `trap` is the honeypot field: filled, nothing is
        stored but a count; so too for an address whose domain takes no mail, when
        `[subscribe] check_domain` asks. A bad address or category: InputError."""
        from digest.app import signup
        from digest.subscribers import check_categories, normalise_address, normalise_name

        if trap.strip():
            return self.refuse_sign_up("honeypot", email)
        try:
            address = normalise_address(email)
            cats = check_categories(categories, self.config.category_slugs)
        except ValueError as exc:
            raise InputError(f"{email}: {exc}") from None
        if self.config.subscribe.check_domain and not signup.takes_mail(self.config,
                                                                       address):
            return self.refuse_sign_up("domain", address)
        return signup.sign_up(self.config, self.store, address, normalise_name(name),
                              frozenset(cats), utcnow(), form)

    def refuse_sign_up(self, reason: Literal["honeypot", "rate", "domain"],
                       email: str = "") -> SignUp:
        """Count a sign-up of `email` refused without a word (its page is the same as
        any other's); the count costs the request what storing a sign-up does (the
        address is read as a sign-up reads it), so its time tells nothing either."""
        from digest.app import signup
        from digest.subscribers import normalise_address

        try:
            address = normalise_address(email)
        except ValueError:
            address = email.strip()
        self.store.count_refused_sign_up(reason, address)
        return signup.SignUp("", address, refused=reason)

    def send_signup_mail(self) -> MailRun:
        """Send the sign-up form's queued mail (confirmation links, reminders) that is
        due; what cannot go now waits in the state file for the next pass."""
        from digest.app import signup

        return signup.send_queued(self.config, self.store, utcnow)

    def confirm(self, token: str | None, *, confirmed: bool, ip: str = "") -> ConfirmAnswer:
        """What a confirmation link's token names; `confirmed` (the POST) activates the
        pending subscriber and records consent (when, and `ip` or its hash)."""
        from digest.app import signup

        return signup.confirm(self.config, self.store, token, utcnow(),
                              confirmed=confirmed, ip=ip)

    def manage(self, token: str | None, choice: ManageChoice | None = None) -> ManageAnswer:
        """What a manage link's token names and the subscriber's choice (`choice` None);
        with a `choice` (the POST), save it: categories, a pause until a day (status
        'paused'), or unsubscribe. A forged token or a bad choice changes nothing."""
        from digest.app import manage

        return manage.manage(self.config, self.store, token, self.today(), choice)

    def words(self) -> Callable[..., str]:
        """The fixed words in the digest's language with the editor's [words], for the
        pages `digest serve` renders."""
        from digest.render.context import words_for

        return words_for(self.config)

    def subscribers(self, status: str | None = None) -> Iterator[Subscriber]:
        """Every subscriber (of one status), streamed in the order they were added."""
        return self.store.subscribers(status)

    def export_subscribers(self, out: TextIO, *, fmt: Literal["csv", "json"] = "csv",
                           status: str | None = None) -> int:
        """Stream the subscribers to `out` as CSV (what import reads) or a JSON array;
        return how many."""
        from digest.subscribers import write_csv, write_json

        write = write_csv if fmt == "csv" else write_json
        return write(self.store.subscribers(status), out)

    def import_subscribers(self, source: Path | bytes | BinaryIO, name: str | None = None, *,
                           force: bool = False) -> Iterator[list[ImportLine]]:
        """Add or update subscribers from a CSV file (or its bytes, or a binary stream such as
        stdin, that `name` stands for), read as a stream; each transaction's lines come as a
        list when it commits."""
        from digest.subscribers import import_csv, import_rows

        try:
            if isinstance(source, Path):
                return import_csv(source, self.store, self.config.category_slugs,
                                  force=force)
            return import_rows(source, name or "<stdin>", self.store,
                               self.config.category_slugs, force=force)
        except ValueError as exc:
            raise InputError(str(exc)) from None
