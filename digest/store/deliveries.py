"""Deliveries: who is still owed an edition, and each recipient's outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from digest.models import DeliveryStatus, Edition, Subscriber
from digest.store.core import StoreCore, _dt, _ts
from digest.store.editions import edition_from_row
from digest.store.subscribers import SINCE_STATUS, subscriber_from_row

# Delivery statuses that settle a recipient: sent, refused for good, nothing to send,
# or unknown (the server never confirmed; sent again only with --retry-unknown).
_DONE = "('sent', 'failed', 'skipped', 'unknown')"
# Who receives edition ? (policy.receives in SQL): active, or paused until a day before
# the edition's date (ISO dates compare as text).
RECEIVES = """(s.status = 'active' OR (s.status = 'paused'
               AND s.paused_until < (SELECT date FROM editions WHERE id = ?)))"""


@dataclass(frozen=True)
class Unconfirmed:
    """A recipient whose message got no final reply: perhaps delivered, not sent again."""

    date: dt.date
    email: str
    reply: str | None
    when: dt.datetime | None


class DeliveriesMixin(StoreCore):
    """Deliveries: who is owed an edition, and each recipient's outcome."""

    def pending_recipients(self, edition_id: int, audience_until: dt.datetime,
                           after_id: int = 0, limit: int = 500, *,
                           include_unknown: bool = False
                           ) -> list[tuple[Subscriber, DeliveryStatus | None]]:
        """A page of active subscribers from before `audience_until` still owed this edition.

        Returns (subscriber, previous delivery status or None) with ids above
        `after_id`; those already sent or hard-failed are left out, and so are
        those whose outcome is unknown unless `include_unknown`. Paging keeps
        memory flat however long the list.
        """
        done = "('sent', 'failed', 'skipped')" if include_unknown else _DONE
        rows = self.db.execute(
            f"""SELECT s.*, d.status AS delivery FROM subscribers s
               LEFT JOIN deliveries d ON d.subscriber_id = s.id AND d.edition_id = ?
               WHERE {RECEIVES} AND s.created_at <= ? AND s.id > ?
                 AND coalesce(d.status, '') NOT IN {done}
               ORDER BY s.id LIMIT ?""",
            (edition_id, edition_id, _ts(audience_until), after_id, limit),
        ).fetchall()
        return [(subscriber_from_row(row), row["delivery"]) for row in rows]

    def still_active(self, subscriber_id: int, edition_id: int) -> bool:
        """Whether the subscriber receives the edition right now (read when claimed for
        sending): active, or paused until a day before its date."""
        row = self.db.execute(f"SELECT 1 FROM subscribers s WHERE s.id = ? AND {RECEIVES}",
                              (subscriber_id, edition_id)).fetchone()
        return row is not None

    def unconfirmed(self, since: dt.date | None = None,
                    limit: int | None = None) -> list[Unconfirmed]:
        """Recipients whose delivery is unknown, oldest edition first."""
        sql = """SELECT e.date, s.email, d.reply, d.updated_at FROM deliveries d
                 JOIN editions e ON e.id = d.edition_id
                 JOIN subscribers s ON s.id = d.subscriber_id
                 WHERE d.status = 'unknown' AND e.date >= ? ORDER BY e.date, s.id"""
        params: tuple[str | int, ...] = ((since or dt.date.min).isoformat(),)
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        return [Unconfirmed(dt.date.fromisoformat(r[0]), r[1], r[2], _dt(r[3]))
                for r in self.db.execute(sql, params).fetchall()]

    def editions_with_unknown(self, since: dt.date) -> list[Edition]:
        """Editions from `since` on with recipients whose delivery is unknown."""
        rows = self.db.execute(
            """SELECT * FROM editions e WHERE date >= ? AND EXISTS (SELECT 1 FROM deliveries
                 d WHERE d.edition_id = e.id AND d.status = 'unknown') ORDER BY date""",
            (since.isoformat(),),
        ).fetchall()
        return [edition_from_row(self.db, r) for r in rows]

    def hard_failures_in_a_row(self, subscriber_id: int) -> int:
        """How many of the subscriber's latest deliveries failed permanently, in a row
        (since their status last changed: a re-activated address starts again)."""
        rows = self.db.execute(
            f"""SELECT d.status FROM deliveries d JOIN editions e ON e.id = d.edition_id
               WHERE d.subscriber_id = ? AND d.status != 'skipped'
                 AND d.updated_at >= {SINCE_STATUS}
               ORDER BY e.date DESC LIMIT 10""",
            (subscriber_id, subscriber_id),
        ).fetchall()
        count = 0
        for (status,) in rows:
            if status != "failed":
                break
            count += 1
        return count

    def record_delivery(self, edition_id: int, subscriber_id: int, status: DeliveryStatus,
                        reply: str | None = None) -> None:
        """Record one recipient's outcome at once, so a crash never loses a success."""
        self.db.execute(
            """INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, reply,
                   updated_at) VALUES (?, ?, ?, 1, ?, ?)
               ON CONFLICT (edition_id, subscriber_id) DO UPDATE SET
                 status = excluded.status, attempts = deliveries.attempts + 1,
                 reply = excluded.reply, updated_at = excluded.updated_at""",
            (edition_id, subscriber_id, status, reply, _ts(self.clock())),
        )

    def owed_counts(self, edition_id: int, audience_until: dt.datetime) -> tuple[int, int]:
        """(deferred, never tried): active subscribers of the audience still owed the edition.

        What decides whether an edition is finished: the store, not a run's counters.
        """
        row = self.db.execute(
            f"""SELECT count(d.status), count(*) - count(d.status) FROM subscribers s
               LEFT JOIN deliveries d ON d.subscriber_id = s.id AND d.edition_id = ?
               WHERE {RECEIVES} AND s.created_at <= ?
                 AND coalesce(d.status, '') NOT IN {_DONE}""",
            (edition_id, edition_id, _ts(audience_until)),
        ).fetchone()
        return int(row[0]), int(row[1])

    def delivery_counts(self, edition_id: int) -> dict[DeliveryStatus, int]:
        counts: dict[DeliveryStatus, int] = {"sent": 0, "deferred": 0, "failed": 0, "unknown": 0}
        for status, n in self.db.execute(
            "SELECT status, count(*) FROM deliveries WHERE edition_id = ? GROUP BY status",
            (edition_id,),
        ):
            counts[status] = n
        return counts

    def pending_count(self, edition_id: int, audience_until: dt.datetime) -> int:
        """How many recipients `pending_recipients` will page through (for progress bars)."""
        deferred, untried = self.owed_counts(edition_id, audience_until)
        return deferred + untried
