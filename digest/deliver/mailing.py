"""One edition's delivery run: stream the owed subscribers, send through the pool, record.

The main thread pages through the subscribers still owed the edition and
builds each message from the edition's template for that category selection
(rendered once); the pool's workers send and record. Outcomes are written
through one extra SQLite connection under a lock, each as soon as the server
has answered. Deferred recipients get more passes with a doubling wait; what
is still owed after the last pass stays in the store for the next run. The
edition is finished only when the store says nobody is owed it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jinja2

from digest.config import Config
from digest.deliver.bounce_rules import reply_kind, status_in
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import MessageTemplate, SignLater, build_template
from digest.deliver.outbox import OutboxTransport
from digest.deliver.policy import (
    PROBLEMS_SHOWN,
    DeliveryReport,
    another_pass,
    bounce_at_send,
    edition_done,
    sections_for,
    send_passes,
    shown_problems,
)
from digest.deliver.send_pool import Job, SendPool
from digest.deliver.smtp import SmtpTransport
from digest.deliver.tokens import make_manage_token, make_token, return_path_for, secret_for
from digest.deliver.transport import Outcome, Transport
from digest.models import Edition, Subscriber
from digest.render.email import render_email
from digest.render.templates import environment
from digest.store import BounceEvent, Store


@dataclass
class Messages:
    """Builds each subscriber's bytes: one template per category selection, then substitution."""

    config: Config
    edition: Edition
    env: jinja2.Environment
    now: dt.datetime
    secret: bytes
    signer: DkimSigner | None
    templates: dict[frozenset[str], MessageTemplate] = field(default_factory=dict)

    def for_subscriber(self, subscriber: Subscriber) -> bytes | SignLater | None:
        """The message as sent (or to be signed by the worker that sends it), or None when
        the edition has nothing in their categories."""
        wanted = sections_for(subscriber, self.edition)
        if not wanted:
            return None
        template = self.templates.get(wanted)
        if template is None:
            rendered = render_email(self.config, self.edition.for_categories(wanted), self.env)
            template = self.templates[wanted] = build_template(
                self.config, rendered, self.now, signed=self.signer is not None)
        token = make_token(self.secret, subscriber.id)
        manage = make_manage_token(self.secret, subscriber.id)
        if self.signer is not None:
            return template.to_sign(self.config, subscriber, token, self.signer, manage=manage)
        return template.for_subscriber(self.config, subscriber, token, manage=manage)

    def envelope_sender(self, subscriber: Subscriber) -> str | None:
        """The subscriber's VERP return path with `[email] return_path`, else None (the
        pool's sender, the `from` address)."""
        if not self.config.email.return_path:
            return None
        return return_path_for(self.config.email.return_path, self.secret, self.edition.date,
                               subscriber.id)


def owed(store: Store, edition_id: int, audience_until: dt.datetime, *,
         include_unknown: bool = False) -> Iterator[Subscriber]:
    """Stream the subscribers still owed the edition, a page at a time (memory stays flat)."""
    after = 0
    while True:
        page = store.pending_recipients(edition_id, audience_until, after,
                                        include_unknown=include_unknown)
        if not page:
            return
        for subscriber, _previous in page:
            after = subscriber.id
            yield subscriber


def open_transport(config: Config, outbox_folder: str) -> Transport:
    """The configured transport; the file transport writes into OUTBOX/`outbox_folder`."""
    if config.email.transport == "file":
        return OutboxTransport(config.email.outbox, outbox_folder,
                               return_path=config.email.return_path is not None)
    return SmtpTransport(config.smtp, local_hostname=config.email.domain)


class Recorder:
    """Writes outcomes from every worker through one connection, one at a time."""

    def __init__(self, store_path: Path, edition_id: int, report: DeliveryReport,
                 on_message: Callable[[Subscriber, str], None] | None) -> None:
        self.store = Store(store_path, shared=True)
        self.edition_id = edition_id
        self.report = report
        self.on_message = on_message
        self.lock = threading.Lock()
        self.deferred_now = 0  # deferred in the current pass
        self.deferred_lines: list[str] = []
        self.failed_lines: list[str] = []
        self.unknown_lines: list[str] = []

    def new_pass(self) -> None:
        with self.lock:
            self.deferred_now = 0
            self.deferred_lines = []

    def claim(self, job: Job) -> bool:
        """Whether the subscriber is still active as their message goes out (an unsubscribe
        made during the send is honoured, not just one made before the page was read)."""
        with self.lock:
            if self.store.still_active(job.subscriber.id, self.edition_id):
                return True
            self.report.left_meanwhile += 1
            return False

    def unsendable(self, subscriber: Subscriber, reason: str) -> None:
        """A subscriber no message can be made for (an address stored before it was checked):
        their failure, recorded like a refusal; everyone else is still sent."""
        self(Job(subscriber, b""), Outcome("failed", reason))

    def skipped(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.store.record_delivery(self.edition_id, subscriber.id, "skipped")
            self.report.nothing_for += 1
            if self.on_message:
                self.on_message(subscriber, "skipped")

    def __call__(self, job: Job, outcome: Outcome) -> None:
        subscriber = job.subscriber
        report = self.report
        with self.lock:
            self.store.record_delivery(self.edition_id, subscriber.id, outcome.status,
                                       outcome.reply)
            if outcome.status == "sent":
                report.sent += 1
            elif outcome.status == "deferred":
                self.deferred_now += 1
                if len(self.deferred_lines) < PROBLEMS_SHOWN:
                    self.deferred_lines.append(f"{subscriber.email}: deferred ({outcome.reply})")
            elif outcome.status == "unknown":
                report.unknown += 1
                if len(self.unknown_lines) < PROBLEMS_SHOWN:
                    self.unknown_lines.append(f"{subscriber.email}: unknown ({outcome.reply})")
            else:
                report.failed += 1
                if len(self.failed_lines) < PROBLEMS_SHOWN:
                    self.failed_lines.append(f"{subscriber.email}: refused ({outcome.reply})")
                self._failed(subscriber, outcome.reply)
            if self.on_message:
                self.on_message(subscriber, outcome.status)

    def _failed(self, subscriber: Subscriber, reply: str | None) -> None:
        """A refusal for good: bounced at once when the address does not exist, never for
        a policy block (kept, per receiving domain, for `status`), else after 3 in a row.
        (A refused envelope sender stops the run in the transport: it is nobody's.)"""
        kind = reply_kind(reply)
        if kind in ("hard", "policy"):
            self.store.record_bounce(BounceEvent(
                subscriber.id, self.edition_id, kind, status_in(reply or ""),
                " ".join((reply or "").split())[:300], subscriber.email.rpartition("@")[2],
                "smtp"))
        if bounce_at_send(kind, self.store.hard_failures_in_a_row(subscriber.id)):
            self.store.set_subscriber_status(subscriber.email, "bounced",
                                             f"refused at send time: {reply}")
            self.report.bounced.append(subscriber.email)

    def close(self) -> None:
        self.store.close()


class DryRun:
    """Stands in for the pool and the recorder in a dry run: counts, sends and records nothing."""

    def __init__(self, report: DeliveryReport,
                 on_message: Callable[[Subscriber, str], None] | None) -> None:
        self.report = report
        self.on_message = on_message

    def submit(self, job: Job) -> bool:
        self.report.sent += 1
        if self.on_message:
            self.on_message(job.subscriber, "dry-run")
        return True

    def skipped(self, subscriber: Subscriber) -> None:
        self.report.nothing_for += 1
        if self.on_message:
            self.on_message(subscriber, "skipped")

    def unsendable(self, subscriber: Subscriber, reason: str) -> None:
        self.report.failed += 1
        self.report.problems.append(f"{subscriber.email}: refused ({reason})")
        if self.on_message:
            self.on_message(subscriber, "failed")


class Outlet(Protocol):
    """Where a pass hands its messages: the pool and its recorder, or a dry run."""

    def skipped(self, subscriber: Subscriber) -> None: ...

    def unsendable(self, subscriber: Subscriber, reason: str) -> None: ...


def send_pass(subscribers: Iterable[Subscriber], messages: Messages, outlet: Outlet,
              submit: Callable[[Job], bool]) -> None:
    """Build and hand over each owed subscriber's message, until the pool refuses more."""
    for subscriber in subscribers:
        try:
            message = messages.for_subscriber(subscriber)
        except UnicodeError:
            outlet.unsendable(subscriber, "the address is not plain ASCII, which mail "
                                          "headers need here (SMTPUTF8 is not used)")
            continue
        if message is None:
            outlet.skipped(subscriber)
        elif not submit(Job(subscriber, message, messages.envelope_sender(subscriber))):
            return


def open_pool(config: Config, edition: Edition, recorder: Recorder,
              transport: Transport | None) -> SendPool:
    """The sending pool: one worker on the given transport, else one per connection."""
    if transport is not None:
        given = transport
        return SendPool(lambda: given, 1, config.email.sender_address, recorder,
                        rate=config.smtp.rate, close_transports=False, claim=recorder.claim)
    size = config.smtp.connections if config.email.transport == "smtp" else 1
    return SendPool(lambda: open_transport(config, edition.date.isoformat()), size,
                    config.email.sender_address, recorder, rate=config.smtp.rate,
                    claim=recorder.claim)


def deliver_edition(config: Config, store: Store, edition: Edition, *, now: dt.datetime,
                    dry_run: bool = False, transport: Transport | None = None,
                    on_message: Callable[[Subscriber, str], None] | None = None,
                    on_start: Callable[[Edition, int], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    retry_unknown: bool = False) -> DeliveryReport:
    """Send `edition` to every active subscriber still owed it; record each outcome at once.

    Recipients whose delivery is unknown (no final reply) are sent again only with
    `retry_unknown`, and then only in the first pass. Interrupted (SIGINT,
    SIGTERM), it sends nothing more: the messages in flight are finished and
    recorded, then the interruption goes on up.
    """
    assert edition.id is not None
    report = DeliveryReport(edition.date.isoformat(), edition.article_count, dry_run=dry_run)
    # A bad DKIM key stops the run here, before the edition is frozen or anyone mailed.
    signer = DkimSigner.load(config.dkim, str(config.path)) if config.dkim else None
    if not dry_run:
        store.freeze_edition(edition.id, now)
    audience_until = store.frozen_at(edition.id) or now
    if on_start:
        unknown = store.delivery_counts(edition.id)["unknown"] if retry_unknown else 0
        on_start(edition, store.pending_count(edition.id, audience_until) + unknown)
    messages = Messages(config, edition, environment(config.templates), now,
                        secret_for(store.secret), signer)
    if dry_run:
        dry = DryRun(report, on_message)
        send_pass(owed(store, edition.id, audience_until, include_unknown=retry_unknown),
                  messages, dry, dry.submit)
        return report

    recorder = Recorder(store.path, edition.id, report, on_message)
    pool = open_pool(config, edition, recorder, transport)
    try:
        for planned in send_passes(config.smtp.retries, config.smtp.retry_delay,
                                   retry_unknown=retry_unknown):
            if planned.wait:
                sleep(planned.wait)
            recorder.new_pass()
            report.passes += 1
            send_pass(owed(store, edition.id, audience_until,
                           include_unknown=planned.include_unknown),
                      messages, recorder, pool.submit)
            pool.drain()
            if pool.stopped is not None:
                report.stopped = pool.stopped
                break
            if not another_pass(recorder.deferred_now,
                                store.owed_counts(edition.id, audience_until)[1]):
                break
    except BaseException:
        pool.abandon()  # interrupted: nothing more goes out; what is in flight is recorded
        raise
    finally:
        pool.close()
        recorder.close()
    report.deferred, report.waiting = store.owed_counts(edition.id, audience_until)
    report.problems = [*shown_problems(recorder.failed_lines, report.failed),
                       *shown_problems(recorder.deferred_lines, recorder.deferred_now),
                       *shown_problems(recorder.unknown_lines, report.unknown)]
    if pool.errors and not report.stopped:
        report.problems.append(f"{len(pool.errors)} of {len(pool.workers)} connection(s) "
                               f"could not be used: {pool.errors[0]}")
    if edition_done(report.stopped, report.deferred, report.waiting):
        store.complete_edition(edition.id, now)
    return report
