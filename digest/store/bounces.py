"""Bounces: each notice's event, the soft-bounce streak, what status and editions tell."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from digest.models import DeliveryStatus
from digest.store.core import StoreCore, _dt, _ts
from digest.store.subscribers import SINCE_STATUS


@dataclass(frozen=True)
class BounceEvent:
    """What the store keeps of one notice about one subscriber."""

    subscriber_id: int
    edition_id: int | None
    kind: str  # hard, soft, policy, complaint, unsubscribe
    code: str | None
    diagnostic: str
    domain: str  # the receiving domain (the address's)
    source: str  # "mailbox" (read by `digest bounces`) or "smtp" (a refusal at send time)
    message_id: str | None = None


@dataclass(frozen=True)
class Failure:
    """A recipient of an edition not sent, with the server's reply or a bounce's words."""

    email: str
    status: str  # the delivery's status, or the bounce's kind
    reply: str
    when: dt.datetime | None


@dataclass(frozen=True)
class BounceTally:
    """Counts of bounces, complaints and policy blocks (of one edition, or overall)."""

    bounced: int = 0  # hard and soft bounces
    complained: int = 0
    blocked: int = 0  # policy blocks
    unsubscribed: int = 0  # mailed unsubscribes


class BouncesMixin(StoreCore):
    """Bounce events and what follows from them."""

    def record_bounce(self, event: BounceEvent) -> bool:
        """Keep one event; False when the same message was already kept for the subscriber
        (a notice read twice counts once)."""
        if event.message_id and self.db.execute(
                "SELECT 1 FROM bounce_events WHERE message_id = ? AND subscriber_id = ?",
                (event.message_id, event.subscriber_id)).fetchone():
            return False
        self.db.execute(
            """INSERT INTO bounce_events (subscriber_id, edition_id, kind, code, diagnostic,
                   domain, source, message_id, received_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (event.subscriber_id, event.edition_id, event.kind, event.code,
             event.diagnostic, event.domain, event.source, event.message_id,
             _ts(self.clock())))
        return True

    def edition_id_for(self, date: dt.date | None, subscriber_id: int) -> int | None:
        """The edition a notice is about: the one of `date` (from the VERP tag), else the
        latest one tried for the subscriber."""
        if date is not None:
            row = self.db.execute("SELECT id FROM editions WHERE date = ?",
                                  (date.isoformat(),)).fetchone()
            return int(row[0]) if row else None
        row = self.db.execute(
            """SELECT e.id FROM deliveries d JOIN editions e ON e.id = d.edition_id
               WHERE d.subscriber_id = ? AND d.status != 'skipped'
               ORDER BY e.date DESC LIMIT 1""", (subscriber_id,)).fetchone()
        return int(row[0]) if row else None

    def delivery(self, subscriber_id: int, edition_id: int
                 ) -> tuple[DeliveryStatus, dt.datetime] | None:
        """The subscriber's delivery of the edition, and when it last changed (for a sent
        copy, when it went out); None when there is none."""
        row = self.db.execute(
            "SELECT status, updated_at FROM deliveries WHERE subscriber_id = ?"
            " AND edition_id = ?", (subscriber_id, edition_id)).fetchone()
        return (row[0], dt.datetime.fromisoformat(row[1])) if row else None

    def soft_streak(self, subscriber_id: int, edition_id: int | None) -> int:
        """In how many of the subscriber's editions in a row, up to `edition_id` (counted
        as bounced), a soft or hard bounce came back: editions with none break it."""
        rows = self.db.execute(
            f"""SELECT e.id, EXISTS (SELECT 1 FROM bounce_events b WHERE b.subscriber_id = ?
                   AND b.edition_id = e.id AND b.kind IN ('soft', 'hard'))
               FROM editions e JOIN deliveries d ON d.edition_id = e.id
               WHERE d.subscriber_id = ? AND d.status IN ('sent', 'failed', 'unknown')
                 AND e.date <= coalesce((SELECT date FROM editions WHERE id = ?), '9999')
                 AND d.updated_at >= {SINCE_STATUS}
               ORDER BY e.date DESC LIMIT 200""",
            (subscriber_id, subscriber_id, edition_id, subscriber_id)).fetchall()
        count = 0 if edition_id is not None and any(r[0] == edition_id for r in rows) else 1
        for found_id, bounced in rows:
            if not (bounced or found_id == edition_id):
                break
            count += 1
        return max(count, 1)

    def bounce_tally(self, edition_id: int | None = None) -> BounceTally:
        """Bounced, complained, blocked and mailed-unsubscribe counts: distinct subscribers,
        of one edition or overall."""
        where, params = ("WHERE edition_id = ?", (edition_id,)) if edition_id else ("", ())
        counts = dict.fromkeys(("bounced", "complained", "blocked", "unsubscribed"), 0)
        for name, n in self.db.execute(
                f"""SELECT CASE kind WHEN 'hard' THEN 'bounced' WHEN 'soft' THEN 'bounced'
                               WHEN 'complaint' THEN 'complained' WHEN 'policy' THEN 'blocked'
                               WHEN 'unsubscribe' THEN 'unsubscribed' END AS name,
                           count(DISTINCT subscriber_id) FROM bounce_events {where}
                    GROUP BY name""", params):
            if name in counts:
                counts[name] = n
        return BounceTally(**counts)

    def policy_blocks(self, since: dt.datetime | None = None) -> list[tuple[str, int]]:
        """(receiving domain, policy blocks) since a time, the most first."""
        return self._by_domain("policy", since)

    def delays(self, since: dt.datetime | None = None) -> list[tuple[str, int]]:
        """(receiving domain, warnings of a delay) since a time, the most first."""
        return self._by_domain("delayed", since)

    def _by_domain(self, kind: str, since: dt.datetime | None) -> list[tuple[str, int]]:
        rows = self.db.execute(
            """SELECT domain, count(*) FROM bounce_events WHERE kind = ?
                   AND received_at >= ? GROUP BY domain ORDER BY count(*) DESC, domain""",
            (kind, _ts(since) if since else "")).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    def edition_failures(self, edition_id: int, limit: int = 1000) -> list[Failure]:
        """Each recipient the edition was not sent to (refused, deferred, unknown), and
        each whose message bounced after it was accepted, with the reply or diagnostic."""
        rows = self.db.execute(
            """SELECT s.email, d.status, coalesce(d.reply, ''), d.updated_at
               FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
               WHERE d.edition_id = ? AND d.status IN ('failed', 'deferred', 'unknown')
               UNION ALL
               SELECT s.email, b.kind, trim(coalesce(b.code, '') || ' ' || b.diagnostic),
                      b.received_at
               FROM bounce_events b JOIN subscribers s ON s.id = b.subscriber_id
               WHERE b.edition_id = ? AND b.source = 'mailbox'
                 AND b.kind IN ('hard', 'soft', 'policy', 'complaint')
               ORDER BY 1 LIMIT ?""",
            (edition_id, edition_id, limit)).fetchall()
        return [Failure(r[0], r[1], r[2], _dt(r[3])) for r in rows]

    def handled(self, message_id: str) -> bool:
        """Whether an mbox message was handled by an earlier run."""
        return self.db.execute("SELECT 1 FROM handled_messages WHERE message_id = ?",
                               (message_id,)).fetchone() is not None

    def remember_handled(self, message_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO handled_messages (message_id, handled_at) "
                        "VALUES (?, ?)", (message_id, _ts(self.clock())))

    def left_earlier(self, message_id: str) -> bool:
        """Whether an earlier run left this message of the bounce mailbox where it was."""
        return self.db.execute("SELECT 1 FROM left_messages WHERE message_id = ?",
                               (message_id,)).fetchone() is not None

    def remember_left(self, message_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO left_messages (message_id, left_at) "
                        "VALUES (?, ?)", (message_id, _ts(self.clock())))

    def forget_left(self, message_id: str) -> None:
        self.db.execute("DELETE FROM left_messages WHERE message_id = ?", (message_id,))

    def keep_left(self, present: set[str]) -> None:
        """Forget the left messages that are no longer in the mailbox (`present`: the ids
        of those a whole run found there)."""
        gone = [(m,) for (m,) in self.db.execute("SELECT message_id FROM left_messages")
                if m not in present]
        with self.transaction() as db:
            db.executemany("DELETE FROM left_messages WHERE message_id = ?", gone)
