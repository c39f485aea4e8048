"""Pure decisions about delivery: what each subscriber gets, what to send next, what a
mail server's reply means, and when a list is done."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, get_args

from digest.deliver.bounce_rules import BounceKind
from digest.models import DeliveryStatus, Edition, Subscriber, SubscriberStatus

BOUNCE_AFTER = 3  # permanent failures in a row before an address is marked bounced
# Mail servers give up on a message within days (Postfix and Sendmail after 5, Exchange
# after 2): a bounce about a copy sent longer ago than this is no server's, but a VERP
# tag copied from a kept newsletter, replayed.
NOTICE_DAYS = 30
PROBLEMS_SHOWN = 20  # per kind; a run with 10,000 refusals prints a count, not 10,000 lines


def sections_for(subscriber: Subscriber, edition: Edition) -> frozenset[str]:
    """The edition's sections this subscriber receives; empty means nothing to send.

    A subscriber without categories gets every section; one with categories gets
    only those (categories the edition lacks are ignored).
    """
    present = frozenset(s.slug for s in edition.sections)
    if not subscriber.categories:
        return present
    return present & subscriber.categories


def receives(subscriber: Subscriber, edition_date: dt.date) -> bool:
    """Whether a subscriber is sent the edition of `edition_date`: an active one is; a
    paused one only once the pause is over (editions dated up to and including
    `paused_until` are skipped); pending, unsubscribed and bounced ones never are.
    The store's recipient query says the same in SQL (`store.deliveries.RECEIVES`)."""
    if subscriber.status == "paused":
        return subscriber.paused_until is not None and edition_date > subscriber.paused_until
    return subscriber.status == "active"


def should_bounce(failures_in_a_row: int) -> bool:
    return failures_in_a_row >= BOUNCE_AFTER


# What `digest bounces` does with a notice: bounced (the subscriber becomes bounced),
# counted (a soft bounce under the limit, a policy block), unsubscribed (a complaint, a
# mailed request), ignored (an automatic reply, a delay warning), left (unknown or
# forged: left in the mailbox), not_subscriber (about an address not on the list),
# unchanged (already gone).
BounceAction = Literal["bounced", "counted", "unsubscribed", "ignored", "left",
                       "not_subscriber", "unchanged"]
BOUNCE_ACTIONS: tuple[BounceAction, ...] = get_args(BounceAction)


def bounce_action(kind: BounceKind, acts: bool, status: SubscriberStatus | None,
                  soft_streak: int, soft_limit: int, *, before_return: bool = False,
                  stale: bool = False) -> BounceAction:
    """What a classified notice does to the subscriber it names (`status` None: nobody on
    the list). `soft_streak`: editions in a row that bounced, this one included.
    `before_return`: the bounced copy went out before the subscriber came back (a late
    notice; their confirmation showed the mailbox takes mail again): kept, no change.
    `stale`: its tag names a copy sent too long ago (`stale_tag`): a bounce then acts on
    nobody; a complaint, the reader's own report, still acts."""
    if kind in ("auto_reply", "delayed"):
        return "ignored"
    if kind == "unknown" or not acts or (stale and kind in ("hard", "soft", "policy")):
        return "left"
    if status is None:
        return "not_subscriber"
    if kind in ("complaint", "unsubscribe"):
        return "unchanged" if status == "unsubscribed" else "unsubscribed"
    if status not in ("active", "paused") or before_return:
        return "unchanged"
    if kind == "hard" or (kind == "soft" and soft_streak >= soft_limit):
        return "bounced"
    return "counted"


def stale_tag(sent: dt.datetime | None, edition: dt.date, now: dt.datetime) -> bool:
    """Whether a notice whose VERP tag names the copy of `edition` comes later than any
    mail server sends one: NOTICE_DAYS after that copy was sent (`sent`; when the
    digest has no record of sending it, after the edition's date)."""
    since = sent or dt.datetime.combine(edition, dt.time(), tzinfo=dt.UTC)
    return now - since > dt.timedelta(days=NOTICE_DAYS)


def bounce_at_send(kind: BounceKind, failures_in_a_row: int) -> bool:
    """Whether a refusal at send time makes the address bounced, given what its reply
    says (`bounce_rules.reply_kind`): at once when the address does not exist (550
    5.1.1), never for a policy block (5.7.x: the sender's reputation, not the address),
    else after BOUNCE_AFTER in a row."""
    if kind == "hard":
        return True
    if kind == "policy":
        return False
    return should_bounce(failures_in_a_row)


def retry_delays(retries: int, first: float) -> list[float]:
    """Seconds to wait before each retry pass over deferred recipients: doubling backoff."""
    return [first * 2**n for n in range(retries)]


@dataclass(frozen=True)
class SendPass:
    """One pass over the recipients still owed an edition."""

    wait: float  # seconds to wait before it starts
    include_unknown: bool  # whether recipients whose delivery is unknown are sent again


def send_passes(retries: int, first_delay: float, *, retry_unknown: bool) -> list[SendPass]:
    """The passes of a delivery run: the first at once, then one per retry with a doubling
    wait. Unknown deliveries are sent again only when asked, and only in the first pass."""
    waits = [0.0, *retry_delays(retries, first_delay)]
    return [SendPass(wait, retry_unknown and number == 0) for number, wait in enumerate(waits)]


def another_pass(deferred_this_pass: int, untried: int) -> bool:
    """Whether a retry pass is worth it: someone was deferred, or left untried (by a
    connection that failed)."""
    return deferred_this_pass > 0 or untried > 0


def edition_done(stopped: str | None, deferred: int, waiting: int) -> bool:
    """Whether the edition is finished: nobody is owed it and the run was not cut short."""
    return stopped is None and deferred == 0 and waiting == 0


def classify_reply(code: int) -> DeliveryStatus:
    """What a mail server's reply to a message means for its recipient: "sent" (250),
    "failed" (5xx: refused for good, never sent again) or "deferred" (anything else,
    4xx: tried again in a later pass or run). No reply at all is the transport's
    case: "unknown" once the message's final dot was written, else sent again."""
    if code == 250:
        return "sent"
    return "failed" if 500 <= code < 600 else "deferred"


def shown_problems(lines: list[str], total: int) -> list[str]:
    """The first lines of a kind of problem, and how many more there were."""
    if total > len(lines):
        return [*lines, f"... and {total - len(lines)} more"]
    return lines


@dataclass
class DeliveryReport:
    """Counts for one edition's delivery run, and the failures worth telling."""

    date: str
    articles: int
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    nothing_for: int = 0  # subscribers whose categories had no article this time
    waiting: int = 0  # owed the edition but not tried (every connection failed)
    unknown: int = 0  # the server never answered the end of the message: perhaps delivered
    left_meanwhile: int = 0  # unsubscribed (or bounced) while the send ran: not mailed
    passes: int = 0  # passes over the owed recipients: the first, then retries
    bounced: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why delivery stopped early (mail server unusable)
    dry_run: bool = False

    @property
    def left(self) -> int:
        return (self.deferred + self.failed + self.waiting + self.unknown
                + (1 if self.stopped else 0))

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        text = (f"edition {self.date}: {self.articles} articles; {verb} {self.sent}, "
                f"deferred {self.deferred}, failed {self.failed}")
        if self.unknown:
            text += f", unknown {self.unknown}"
        if self.waiting:
            text += f", not tried {self.waiting}"
        if self.left_meanwhile:
            text += f"; {self.left_meanwhile} left the list during the send (not mailed)"
        if self.nothing_for:
            text += f"; {self.nothing_for} subscriber(s) had nothing in their categories"
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text
