"""Subscribers: added, imported, their status changed, listed."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from digest.models import SUBSCRIBER_STATUSES, StoredOutcome, Subscriber, SubscriberStatus
from digest.store.core import StoreCore, _dt, _ts

# When the subscriber's status last changed (a parameter: their id), for counting only what
# came after it: bounces and refusals before a re-activation are history.
SINCE_STATUS = "coalesce((SELECT status_changed_at FROM subscribers WHERE id = ?), '')"

def subscriber_from_row(row: sqlite3.Row) -> Subscriber:
    return Subscriber(
        id=row["id"], email=row["email"], name=row["name"],
        categories=frozenset(row["categories"].split()), status=row["status"],
        created_at=_dt(row["created_at"]),
        paused_until=dt.date.fromisoformat(row["paused_until"]) if row["paused_until"] else None,
        status_reason=row["status_reason"],
        status_changed_at=_dt(row["status_changed_at"]),
    )


def forgotten_hash(secret: bytes, email: str) -> str:
    """What is kept of a forgotten address: a hash salted with the state file's secret."""
    return hashlib.sha256(secret + b"forgotten:" + email.lower().encode()).hexdigest()


# A new subscriber's id: never one a forgotten subscriber had (SQLite would hand the
# highest id out again once its row is deleted), since the links in the mail they kept
# (unsubscribe, manage, the VERP tag) are signed over it. `forget` keeps the highest id
# it deleted in meta.
_NEW_ID = """(SELECT max(coalesce((SELECT max(id) FROM subscribers), 0),
                       coalesce((SELECT CAST(value AS INTEGER) FROM meta
                                 WHERE key = 'subscriber_ids_issued'), 0)) + 1)"""
_ADD = f"""INSERT INTO subscribers (id, email, name, categories, status, created_at,
              updated_at) VALUES ({_NEW_ID}, ?, ?, ?, 'active', ?, ?)"""
# The same with the id given: a bulk add works out the first new id once, inside its
# write transaction (no one else can add meanwhile), instead of once a row.
_ADD_NUMBERED = """INSERT INTO subscribers (id, email, name, categories, status, created_at,
              updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)"""


class BulkImport:
    """One import's calls of `import_subscribers` and `add_new_subscribers`, one
    transaction each.

    When the first finds no subscriber at all, and no other connection has
    changed the state file since (SQLite's `PRAGMA data_version` says so), every
    subscriber is one this import added: an address not added before cannot be
    there, and no SELECT is needed to know it.
    """

    def __init__(self) -> None:
        self.started = False
        self.alone: int | None = None  # data_version while the subscribers are all ours

    def only_its_own(self, db: sqlite3.Connection) -> bool:
        """Whether every stored subscriber was added by this import (inside its transaction)."""
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        if not self.started:
            self.started = True
            if db.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is None:
                self.alone = version
        elif self.alone != version:
            self.alone = None  # someone else wrote: check every address from now on
        return self.alone is not None


class SubscribersMixin(StoreCore):
    """Subscribers and their statuses."""

    def upsert_subscriber(self, email: str, name: str, categories: Iterable[str],
                          *, reactivate: bool = True) -> tuple[Subscriber, StoredOutcome]:
        """Add or update a subscriber; return it and 'added', 'updated' or 'unchanged'."""
        cats = " ".join(sorted(set(categories)))
        now = _ts(self.clock())
        outcome: StoredOutcome
        with self.transaction() as db:
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                db.execute(
                    _ADD,
                    (email, name, cats, now, now),
                )
                outcome = "added"
            else:
                status = "active" if reactivate else row["status"]
                if (row["name"], row["categories"], row["status"]) == (name, cats, status):
                    outcome = "unchanged"
                else:
                    # Re-activated: why it had left, and its bounces before, are history.
                    db.execute(
                        """UPDATE subscribers SET name = :name, categories = :cats,
                               status = :status, updated_at = :now,
                               status_reason = CASE WHEN status = :status
                                   THEN status_reason END,
                               status_changed_at = CASE WHEN status = :status
                                   THEN status_changed_at ELSE :now END
                           WHERE id = :id""",
                        {"name": name, "cats": cats, "status": status, "now": now,
                         "id": row["id"]},
                    )
                    outcome = "updated"
        found = self.subscriber(email)
        assert found is not None
        return found, outcome

    def import_subscribers(self, rows: Sequence[tuple[str, str, str]],
                           bulk: BulkImport | None = None) -> list[StoredOutcome]:
        """Add or update many (email, name, categories text) in one transaction.

        Returns each row's outcome: 'added', 'updated' or 'unchanged'. Statuses
        are kept (an import never re-activates anyone). The addresses must be
        distinct (within `bulk`, across all its calls). One SELECT per 5,000 rows
        finds those already there, unless `bulk` knows none can be; one
        executemany upsert writes the new and the changed.
        """
        now = _ts(self.clock())
        with self.transaction() as db:
            if bulk is not None and bulk.only_its_own(db):
                existing: dict[str, tuple[str, str]] = {}
            else:
                existing = self._stored(db, [r[0] for r in rows])
            outcomes: list[StoredOutcome] = []
            changed = []
            if existing:
                for email, name, cats in rows:
                    found = existing.get(email.lower())
                    if found == (name, cats):
                        outcomes.append("unchanged")
                        continue
                    outcomes.append("added" if found is None else "updated")
                    changed.append((email, name, cats, now, now))
            else:
                outcomes = ["added"] * len(rows)
                changed = [(email, name, cats, now, now) for email, name, cats in rows]
            first = int(db.execute(f"SELECT {_NEW_ID}").fetchone()[0])
            db.executemany(  # (an updated row keeps its id: the number given it goes unused)
                _ADD_NUMBERED + """
                   ON CONFLICT (email) DO UPDATE SET name = excluded.name,
                       categories = excluded.categories, updated_at = excluded.updated_at""",
                [(first + n, *row) for n, row in enumerate(changed)])
        return outcomes

    def add_new_subscribers(self, rows: Sequence[tuple[str, str, str]], bulk: BulkImport
                            ) -> list[int | None] | None:
        """Add (email, name, categories text) rows in one transaction while every stored
        subscriber is one `bulk` added (else None, and nothing is done).

        The addresses must be distinct among the rows. Returns, for each row, None
        when it was added, or the id of the subscriber `bulk` added earlier with the
        same address (that row is not added). No query looks for them first: the
        insert fails on such an address, and only then are they looked up.
        """
        now = _ts(self.clock())
        with self.transaction() as db:
            if not bulk.only_its_own(db):
                return None
            new = [(email, name, cats, now, now) for email, name, cats in rows]
            first = int(db.execute(f"SELECT {_NEW_ID}").fetchone()[0])
            db.execute("SAVEPOINT new_rows")
            try:
                db.executemany(_ADD_NUMBERED, [(first + n, *row) for n, row in enumerate(new)])
                found: list[int | None] = [None] * len(rows)
            except sqlite3.IntegrityError:  # an address added before: find which
                db.execute("ROLLBACK TO new_rows")
                ids = self._ids(db, [row[0] for row in rows])
                found = [ids.get(row[0].lower()) for row in rows]
                db.executemany(_ADD_NUMBERED, [
                    (first + n, *row) for n, row in enumerate(
                        r for r, f in zip(new, found, strict=True) if f is None)])
            db.execute("RELEASE new_rows")
        return found

    def subscriber_emails(self, up_to: int) -> Iterator[tuple[int, str]]:
        """(id, email) of every subscriber whose id is at most `up_to`, streamed."""
        yield from self.db.execute("SELECT id, email FROM subscribers WHERE id <= ?", (up_to,))

    @staticmethod
    def _stored_rows(db: sqlite3.Connection, columns: str, emails: list[str]
                     ) -> Iterator[sqlite3.Row]:
        """`email` and `columns` of those of `emails` already stored, a few thousand
        addresses a query."""
        step = min(5000, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        for start in range(0, len(emails), step):
            chunk = emails[start:start + step]
            marks = ",".join("?" * len(chunk))
            yield from db.execute(
                f"SELECT email, {columns} FROM subscribers WHERE email IN ({marks})", chunk)

    @classmethod
    def _ids(cls, db: sqlite3.Connection, emails: list[str]) -> dict[str, int]:
        """The ids of those of `emails` already stored, by lower-case address."""
        return {row["email"].lower(): row["id"] for row in cls._stored_rows(db, "id", emails)}

    @classmethod
    def _stored(cls, db: sqlite3.Connection, emails: list[str]) -> dict[str, tuple[str, str]]:
        """(name, categories) of those of `emails` already stored, by lower-case address."""
        return {row["email"].lower(): (row["name"], row["categories"])
                for row in cls._stored_rows(db, "name, categories", emails)}

    def subscriber(self, email: str) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return subscriber_from_row(row) if row else None

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
        found = row.fetchone()
        return subscriber_from_row(found) if found else None

    def set_subscriber_status(self, email: str, status: SubscriberStatus,
                              reason: str | None = None) -> bool:
        """Set a subscriber's status, with why (`reason`: a bounce's status code and
        words, "complaint", …); when it changes, when is kept too."""
        now = _ts(self.clock())
        cur = self.db.execute(
            """UPDATE subscribers SET status = ?, updated_at = ?, status_reason = ?,
                   status_changed_at = CASE WHEN status = ? THEN status_changed_at
                                            ELSE ? END
               WHERE email = ?""",
            (status, now, reason, status, now, email),
        )
        return cur.rowcount > 0

    def manage_subscriber(self, subscriber_id: int, categories: Iterable[str],
                          paused_until: dt.date | None) -> Subscriber | None:
        """Save what the manage page chose: the categories, and a pause until a date (None:
        receiving). Only an active or paused subscriber changes; returns them as stored, or
        None when they are neither (unsubscribed, bounced, pending or gone)."""
        cats = " ".join(sorted(set(categories)))
        status = "active" if paused_until is None else "paused"
        until = paused_until.isoformat() if paused_until else None
        cur = self.db.execute(
            """UPDATE subscribers SET categories = ?, status = ?, paused_until = ?,
                   updated_at = ? WHERE id = ? AND status IN ('active', 'paused')""",
            (cats, status, until, _ts(self.clock()), subscriber_id),
        )
        return self.subscriber_by_id(subscriber_id) if cur.rowcount else None

    def subscribers(self, status: str | None = None) -> Iterator[Subscriber]:
        """Stream subscribers in id order, optionally of one status."""
        sql = "SELECT * FROM subscribers"
        params: tuple[str, ...] = ()
        if status:
            sql += " WHERE status = ?"
            params = (status,)
        for row in self.db.execute(sql + " ORDER BY id", params):
            yield subscriber_from_row(row)

    def subscriber_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
        for status, n in self.db.execute(
            "SELECT status, count(*) FROM subscribers GROUP BY status"
        ):
            counts[status] = n
        return counts


    # -- the sign-up form (double opt-in) ---------------------------------------

    def sign_up(self, email: str, name: str, categories: Iterable[str],
                resend_after: float, form: str = "", expires: int = 0,
                ) -> tuple[Subscriber, Literal["confirm", "active", ""]]:
        """A reader asked to subscribe on the form. A new, pending, unsubscribed or bounced
        address becomes (or stays) 'pending' with the name and categories given; an
        active or paused one is left as it is. `form` (the page it was sent from) is
        kept as the consent's form once they confirm.

        What they are owed is queued in the same transaction (signup_mail): a pending
        address a confirmation link valid until `expires` (Unix seconds) and bound to
        this pending request (a nonce made with it; a pending address asked for again
        before a new link may go keeps its first request and link), an active or paused
        one a reminder with its manage link; nothing when a message went less than
        `resend_after` seconds ago. Returns the subscriber and the kind queued ("" for
        none)."""
        cats = " ".join(sorted(set(categories)))
        now = self.clock()
        stamp = _ts(now)
        with self.transaction() as db:
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            last = _dt(row["confirm_sent_at"]) if row is not None else None
            due = last is None or (now - last).total_seconds() >= resend_after
            if row is None:
                db.execute(
                    f"""INSERT INTO subscribers (id, email, name, categories, status,
                           created_at, updated_at, consent_form, confirm_nonce)
                       VALUES ({_NEW_ID}, ?, ?, ?, 'pending', ?, ?, ?, ?)""",
                    (email, name, cats, stamp, stamp, form, secrets.token_hex(8)))
                row = db.execute("SELECT * FROM subscribers WHERE email = ?",
                                 (email,)).fetchone()
            elif row["status"] in ("unsubscribed", "bounced") or (
                    row["status"] == "pending" and due):
                # A new request, with a new link: the link mailed before (which would
                # confirm what was asked then) stops working. A pending request asked
                # again before a new link may go keeps what it asked and its link, so
                # that no one else can change what the owner's link confirms. A bounced
                # address comes back this way too: only its owner can confirm, and
                # confirming shows that the mailbox takes mail again.
                db.execute(
                    """UPDATE subscribers SET name = :name, categories = :cats,
                           status = 'pending', consent_form = :form, confirm_nonce = :nonce,
                           updated_at = :now,
                           status_reason = CASE WHEN status = 'pending'
                               THEN status_reason END,
                           status_changed_at = CASE WHEN status = 'pending'
                               THEN status_changed_at ELSE :now END
                       WHERE id = :id""",
                    {"name": name, "cats": cats, "form": form,
                     "nonce": secrets.token_hex(8), "now": stamp, "id": row["id"]})
            kind: Literal["confirm", "active", ""] = (
                "confirm" if row["status"] in ("pending", "unsubscribed", "bounced") else
                "active" if row["status"] in ("active", "paused") else "")
            if not due:
                kind = ""
            if kind:
                db.execute("UPDATE subscribers SET confirm_sent_at = ? WHERE id = ?",
                           (stamp, row["id"]))
                db.execute(
                    """INSERT INTO signup_mail (subscriber_id, kind, expires, created_at,
                           next_try) VALUES (?, ?, ?, ?, ?)""",
                    (row["id"], kind, expires, stamp, stamp))
        found = self.subscriber(email)
        assert found is not None
        return found, kind

    def confirm_nonce(self, subscriber_id: int) -> bytes | None:
        """The nonce of the subscriber's pending request (kept once confirmed, so that a
        reused link says "done"); None for one made before links were bound."""
        row = self.db.execute("SELECT confirm_nonce FROM subscribers WHERE id = ?",
                              (subscriber_id,)).fetchone()
        return bytes.fromhex(row[0]) if row and row[0] else None

    def record_consent(self, subscriber_id: int, ip: str) -> bool:
        """Activate a pending subscriber and record their consent (now, from `ip`; the
        form was kept when they signed up); False when they were not pending (already
        confirmed, unsubscribed since, or gone)."""
        now = _ts(self.clock())
        cur = self.db.execute(
            """UPDATE subscribers SET status = 'active', consent_at = :now, consent_ip = :ip,
                   updated_at = :now, status_changed_at = :now
               WHERE id = :id AND status = 'pending'""",
            {"now": now, "ip": ip, "id": subscriber_id})
        return cur.rowcount > 0

    def forget(self, email: str) -> str | None:
        """Erase a subscriber (address, name, consent, queued mail) and their delivery
        records, keeping only the salted hash of the address; the address as it was
        stored, or None when there is no such subscriber.

        Deleted rows are overwritten (secure_delete), then the file is rebuilt (VACUUM:
        free pages may hold older copies) and the write-ahead log emptied (a TRUNCATE
        checkpoint), so the address is left in none of the state file's bytes.
        `log_kept` says when another process held the log open (it could not be
        emptied then)."""
        self.db.execute("PRAGMA secure_delete = ON")
        try:
            with self.transaction() as db:
                row = db.execute("SELECT id, email FROM subscribers WHERE email = ?",
                                 (email,)).fetchone()
                if row is None:
                    return None
                db.execute("DELETE FROM signup_mail WHERE subscriber_id = ?", (row["id"],))
                db.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (row["id"],))
                db.execute("DELETE FROM subscribers WHERE id = ?", (row["id"],))
                db.execute(
                    """INSERT INTO meta (key, value) VALUES ('subscriber_ids_issued', ?)
                       ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER),
                           CAST(excluded.value AS INTEGER))""", (row["id"],))
                db.execute(
                    "INSERT OR REPLACE INTO forgotten (hash, forgotten_at) VALUES (?, ?)",
                    (forgotten_hash(self.secret(), row["email"]), _ts(self.clock())))
        finally:
            self.db.execute("PRAGMA secure_delete = OFF")
        self.scrub()
        return str(row["email"])

    def scrub(self) -> None:
        """Rebuild the file (VACUUM: no free page keeps what was deleted) and empty its
        write-ahead log (a TRUNCATE checkpoint); `log_kept` when another process was
        reading and the log could not be emptied."""
        self.db.execute("VACUUM")
        busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        self.log_kept = bool(busy)

    def has_forgotten(self) -> bool:
        return self.db.execute("SELECT 1 FROM forgotten LIMIT 1").fetchone() is not None

    def is_forgotten(self, email: str) -> bool:
        found = self.db.execute("SELECT 1 FROM forgotten WHERE hash = ?",
                                (forgotten_hash(self.secret(), email),)).fetchone()
        return found is not None

    def consent(self, email: str) -> tuple[str | None, str | None, str | None]:
        """(when, which form, which address or its hash) a subscriber confirmed."""
        row = self.db.execute(
            "SELECT consent_at, consent_form, consent_ip FROM subscribers WHERE email = ?",
            (email,)).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)
