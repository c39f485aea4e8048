"""`digest bounces`: read the bounce mailbox, classify each message, act, put it away.

The classification (deliver/bounce_reports.py) and the decision (deliver/policy.py
`bounce_action`) are pure; this module reads the mailbox, asks the store about the
subscriber, applies the decision and moves the message, one message at a time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from digest.config import Config
from digest.deliver.bounce_mailbox import open_mailbox
from digest.deliver.bounce_reports import (
    BounceKeys,
    BounceOutcome,
    Recipient,
    TagState,
    classify_bytes,
)
from digest.deliver.bounce_rules import BOUNCE_KINDS, BounceKind
from digest.deliver.policy import (
    BOUNCE_ACTIONS,
    NOTICE_DAYS,
    BounceAction,
    bounce_action,
    stale_tag,
)
from digest.deliver.tokens import secret_for
from digest.models import Subscriber
from digest.store import BounceEvent, Store
from digest.subscribers import normalise_address

REASONS: dict[str, str] = {"hard": "hard bounce", "soft": "soft bounces in a row",
                           "complaint": "complaint (feedback report)",
                           "unsubscribe": "unsubscribed by mail"}


@dataclass(frozen=True)
class BounceLine:
    """One message (and recipient) of the mailbox, and what was done."""

    message_id: str
    kind: BounceKind
    address: str | None
    action: BounceAction
    status: str | None
    diagnostic: str
    edition: dt.date | None
    tag: TagState

    def text(self) -> str:
        why = f" {self.status}" if self.status else ""
        words = f": {self.diagnostic}" if self.diagnostic else ""
        action = self.action + (f" (its VERP tag names a copy sent over {NOTICE_DAYS} days "
                                "ago: no mail server reports that late)"
                                if self.tag == "stale" else "")
        return f"{self.address or '(no address)'}: {self.kind}{why}, {action}{words}"

    def record(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "kind": self.kind, "address": self.address,
                "action": self.action, "status": self.status,
                "diagnostic": self.diagnostic,
                "edition": self.edition.isoformat() if self.edition else None,
                "tag": self.tag}


@dataclass
class BouncesReport:
    """What a run did: a line per message and recipient, and the counts."""

    mailbox: str
    dry_run: bool
    lines: list[BounceLine] = field(default_factory=list)  # kept when asked (JSON)
    forged: int = 0
    messages: int = 0
    left_earlier: int = 0  # left by an earlier run, not read again
    total: int = 0  # lines, kept or not
    kinds: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def add(self, line: BounceLine, *, keep: bool = True) -> None:
        self.total += 1
        self.kinds[line.kind] += 1
        self.done[line.action] += 1
        if keep:
            self.lines.append(line)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.kinds[kind] for kind in BOUNCE_KINDS}

    @property
    def actions(self) -> dict[str, int]:
        return {action: self.done[action] for action in BOUNCE_ACTIONS}

    def summary(self) -> str:
        verb = "would be" if self.dry_run else ""
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.counts.items() if n)
        acted = ", ".join(f"{n} {a.replace('_', ' ')}" for a, n in self.actions.items() if n)
        text = (f"{self.messages} message(s) in {self.mailbox}"
                + (f": {kinds}" if kinds else ""))
        if acted:
            text += f"; {verb + ' ' if verb else ''}{acted}"
        if self.forged:
            text += f"; {self.forged} with a forged VERP tag (nothing done)"
        if self.left_earlier:
            text += (f"; {self.left_earlier} left by earlier runs, not read again "
                     "(`digest bounces --again` reads them)")
        return text

    def record(self) -> dict[str, Any]:
        return {"mailbox": self.mailbox, "dry_run": self.dry_run,
                "messages": [line.record() for line in self.lines],
                "counts": self.counts, "actions": self.actions, "forged": self.forged,
                "total": self.total, "left_earlier": self.left_earlier,
                "warnings": self.warnings}


UNSIGNED_WARNING = (
    "[email] return_path is not set, so a notice is matched only by the address it "
    "names: anyone who can mail the bounce mailbox can get any subscriber bounced or "
    "unsubscribed. Set [email] return_path to an address delivered to this mailbox; "
    "notices then act only with the signed tag of a message the digest sent.")


def keys_for(config: Config, store: Store) -> BounceKeys:
    return_path = config.email.return_path
    return BounceKeys(secret_for(store.secret),
                      return_path.rpartition("@")[0] if return_path else None)


def process_bounces(config: Config, store: Store, *, dry_run: bool = False,
                    on_line: Callable[[BounceLine], None] | None = None,
                    keep_lines: bool = True, again: bool = False) -> BouncesReport:
    """Read every new message of `[bounces] mailbox`, act on it, and put it away (a
    dry run only says what it would do). MailboxError when the mailbox cannot be read.
    Without `keep_lines` the report holds the counts only (memory stays flat; each line
    still goes to `on_line`).

    A message nothing was done with (unrecognised, or proving nothing) stays in the
    mailbox, for a person to read (the mailbox may be one people read too), and is
    remembered: later runs count it, but do not read it again unless `again`."""
    where = config.bounces.mailbox
    if not where:
        from digest.errors import InputError
        raise InputError(f"no bounce mailbox: set [bounces] mailbox in {config.path}")
    box = open_mailbox(where, password=config.bounces.password(),
                       password_env=config.bounces.password_env,
                       handled=store.handled, remember=store.remember_handled)
    report = BouncesReport(box.where, dry_run)
    if not config.email.return_path:
        report.warnings.append(UNSIGNED_WARNING)
    keys = keys_for(config, store)
    left: set[str] = set()  # the ids of the messages left in the mailbox, this run
    try:
        for message in box.messages():
            earlier = store.left_earlier(message.message_id)
            if earlier and not again:
                report.left_earlier += 1
                left.add(message.message_id)
                continue
            outcome = classify_bytes(message.data, keys)
            report.messages += 1
            report.forged += outcome.tag == "forged"
            lines = _handle(config, store, outcome, dry_run)
            for line in lines:
                report.add(line, keep=keep_lines)
                if on_line:
                    on_line(line)
            if dry_run:
                continue
            if any(line.action != "left" for line in lines):
                box.handled(message)
                if earlier:
                    store.forget_left(message.message_id)
            else:
                store.remember_left(message.message_id)
                left.add(message.message_id)
        if not dry_run:
            store.keep_left(left)  # those taken out of the mailbox are forgotten
    finally:
        box.close()
        report.warnings.extend(box.problems)
    return report



def _targets(store: Store, outcome: BounceOutcome
             ) -> list[tuple[Subscriber | None, Recipient | None, str | None]]:
    """(subscriber or None, the recipient line, the address) each line is about."""
    if outcome.subscriber_id is not None:
        subscriber = store.subscriber_by_id(outcome.subscriber_id)
        mine = next((r for r in outcome.recipients if subscriber and r.address
                     and r.address.lower() == subscriber.email.lower()), None)
        recipient = mine or (outcome.recipients[0] if outcome.recipients else None)
        return [(subscriber, recipient, subscriber.email if subscriber else None)]
    if not outcome.recipients or not outcome.acts:
        return [(None, r, r.address) for r in outcome.recipients] or [(None, None, None)]
    return [(_subscriber_for(store, r.address), r, r.address) for r in outcome.recipients]


def _subscriber_for(store: Store, address: str | None) -> Subscriber | None:
    if not address:
        return None
    found = store.subscriber(address)
    if found is None:
        try:
            found = store.subscriber(normalise_address(address))
        except ValueError:
            return None
    return found


def _handle(config: Config, store: Store, outcome: BounceOutcome, dry_run: bool
            ) -> list[BounceLine]:
    lines = []
    for subscriber, recipient, address in _targets(store, outcome):
        kind = recipient.kind if recipient and recipient.kind != "unknown" else outcome.kind
        if outcome.kind in ("auto_reply", "unknown", "complaint", "unsubscribe"):
            kind = outcome.kind
        edition_id = None
        streak = 0
        before_return = stale = False
        if subscriber is not None and kind in ("hard", "soft", "policy", "complaint"):
            edition_id = store.edition_id_for(outcome.edition, subscriber.id)
            if kind == "soft":
                streak = store.soft_streak(subscriber.id, edition_id)
            delivery = (store.delivery(subscriber.id, edition_id)
                        if edition_id is not None else None)
            if kind in ("hard", "soft") and delivery and subscriber.status_changed_at:
                # The copy went out before the subscriber's status last changed.
                before_return = delivery[1] < subscriber.status_changed_at
            if outcome.tag == "valid" and outcome.edition is not None and kind != "complaint":
                sent = delivery[1] if delivery and delivery[0] == "sent" else None
                stale = stale_tag(sent, outcome.edition, store.clock())
        action = bounce_action(kind, outcome.acts, subscriber.status if subscriber else None,
                               streak, config.bounces.soft_limit, before_return=before_return,
                               stale=stale)
        status = recipient.status if recipient else None
        diagnostic = recipient.diagnostic if recipient else outcome.detail
        if not dry_run and subscriber is not None:
            _apply(store, subscriber, outcome, kind, action, edition_id, status, diagnostic)
        lines.append(BounceLine(outcome.message_id, kind, address, action, status,
                                diagnostic, outcome.edition,
                                "stale" if stale else outcome.tag))
    return lines


def _apply(store: Store, subscriber: Subscriber, outcome: BounceOutcome, kind: BounceKind,
           action: BounceAction, edition_id: int | None, status: str | None,
           diagnostic: str) -> None:
    """Keep the event and change the subscriber's status, in one transaction. A warning
    of a delay is kept too (`digest status` lists the domains that delay), and changes
    nothing."""
    if action not in ("bounced", "counted", "unsubscribed", "unchanged") and not (
            action == "ignored" and kind == "delayed"):
        return
    with store.transaction():
        store.record_bounce(BounceEvent(
            subscriber.id, edition_id, kind, status, diagnostic,
            subscriber.email.rpartition("@")[2], "mailbox", outcome.message_id))
        if action in ("bounced", "unsubscribed"):
            why = REASONS.get(kind, kind)
            detail = " ".join(x for x in (status or "", diagnostic) if x)
            store.set_subscriber_status(
                subscriber.email, "bounced" if action == "bounced" else "unsubscribed",
                f"{why}: {detail}" if detail and kind in ("hard", "soft") else why)
