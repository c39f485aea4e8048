"""The sign-up form's outgoing mail, queued in the state file.

A POST of the form stores its decision and the message it owes in one transaction
(`SubscribersMixin.sign_up`); a sender (`digest serve`'s mailer, or the daily `send`
for what is left) claims what is due, sends it and removes it. A claim is a `next_try`
in the future: a sender killed while sending leaves its claim to run out, and the
message goes on the next pass (at least once, never lost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from digest.models import Subscriber
from digest.store.core import StoreCore, _dt, _ts
from digest.store.subscribers import subscriber_from_row

CLAIM = dt.timedelta(minutes=10)  # a sender's hold on what it took; then it is due again
RefusalReason = Literal["honeypot", "rate", "domain"]


@dataclass(frozen=True)
class QueuedMail:
    """A sign-up message owed: a confirmation link or an already-active reminder."""

    id: int
    kind: Literal["confirm", "active"]
    subscriber: Subscriber
    expires: int  # of a confirmation link, Unix seconds
    nonce: bytes  # the pending request the confirmation link is bound to
    attempts: int  # this one included


class SignupMailMixin(StoreCore):
    """The queue of sign-up mail and the count of refused sign-ups."""

    def claim_signup_mail(self, limit: int = 50) -> list[QueuedMail]:
        """Take up to `limit` due messages (oldest first) for CLAIM; each one's attempts
        counts this one."""
        now = self.clock()
        with self.transaction() as db:
            rows = db.execute(
                """SELECT m.id AS mail_id, m.kind, m.expires, m.attempts, s.*
                   FROM signup_mail m JOIN subscribers s ON s.id = m.subscriber_id
                   WHERE m.next_try <= ? ORDER BY m.id LIMIT ?""",
                (_ts(now), limit)).fetchall()
            db.executemany(
                "UPDATE signup_mail SET next_try = ?, attempts = attempts + 1 WHERE id = ?",
                [(_ts(now + CLAIM), row["mail_id"]) for row in rows])
        return [QueuedMail(row["mail_id"], row["kind"], subscriber_from_row(row),
                           row["expires"], bytes.fromhex(row["confirm_nonce"] or ""),
                           row["attempts"] + 1) for row in rows]

    def signup_mail_done(self, mail_id: int) -> None:
        """Sent, or never to be sent: off the queue."""
        self.db.execute("DELETE FROM signup_mail WHERE id = ?", (mail_id,))

    def signup_mail_later(self, mail_id: int, when: dt.datetime, problem: str) -> None:
        """Not sent now (the server deferred it, or could not be reached): due at `when`."""
        self.db.execute("UPDATE signup_mail SET next_try = ?, last_error = ? WHERE id = ?",
                        (_ts(when), problem[:500], mail_id))

    def signup_mail_backlog(self) -> tuple[int, dt.datetime | None, str | None]:
        """The sign-up messages still to be sent: how many, since when the oldest waits,
        and the last problem met sending them (None when none was)."""
        count, oldest = self.db.execute(
            "SELECT count(*), min(created_at) FROM signup_mail").fetchone()
        problem = self.db.execute(
            """SELECT last_error FROM signup_mail WHERE last_error IS NOT NULL
               ORDER BY next_try DESC LIMIT 1""").fetchone()
        return int(count), _dt(oldest), problem[0] if problem else None

    def count_refused_sign_up(self, reason: RefusalReason, email: str = "") -> None:
        """One more sign-up refused without a word (the page said "check your inbox").
        Done as a sign-up is (one write transaction that first reads the address's
        row), so that a refused request takes as long as a stored one."""
        with self.transaction() as db:
            db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            db.execute(
                """INSERT INTO signup_refusals (reason, count) VALUES (?, 1)
                   ON CONFLICT (reason) DO UPDATE SET count = count + 1""", (reason,))

    def refused_sign_ups(self) -> dict[str, int]:
        return {reason: count for reason, count in
                self.db.execute("SELECT reason, count FROM signup_refusals")}
