"""Reports: editions with their article and delivery counts, for status and listings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from digest.store.core import StoreCore, _dt


@dataclass(frozen=True)
class EditionTally:
    """An edition's counts without its articles: for status and listings."""

    id: int
    date: dt.date
    articles: int
    sections: tuple[tuple[str, str, int], ...]  # (slug, title, articles) in edition order
    frozen_at: dt.datetime | None  # delivery began
    completed_at: dt.datetime | None  # delivery finished
    sent: int
    deferred: int
    failed: int
    unknown: int = 0  # the server never confirmed: perhaps delivered


class ReportsMixin(StoreCore):
    """Counts for status and listings."""

    def edition_tallies(self, limit: int | None = None,
                        date: dt.date | None = None) -> list[EditionTally]:
        """Editions newest first (or the one of `date`) with article and delivery counts."""
        sql = """SELECT e.id, e.date, e.frozen_at, e.completed_at,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'sent') AS sent,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'deferred') AS deferred,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'failed') AS failed,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.edition_id = e.id AND d.status = 'unknown') AS unknown
                 FROM editions e"""
        params: tuple[int | str, ...] = ()
        if date is not None:
            sql += " WHERE e.date = ?"
            params = (date.isoformat(),)
        sql += " ORDER BY e.date DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        tallies = []
        for row in self.db.execute(sql, params).fetchall():
            sections = tuple(
                (slug, title, int(n)) for slug, title, n in self.db.execute(
                    """SELECT category, category_title, count(*) FROM edition_articles
                       WHERE edition_id = ? GROUP BY category ORDER BY min(position)""",
                    (row["id"],))
            )
            tallies.append(EditionTally(
                id=row["id"], date=dt.date.fromisoformat(row["date"]),
                articles=sum(n for _, _, n in sections), sections=sections,
                frozen_at=_dt(row["frozen_at"]), completed_at=_dt(row["completed_at"]),
                sent=row["sent"], deferred=row["deferred"], failed=row["failed"],
                unknown=row["unknown"],
            ))
        return tallies

    def edition_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM editions").fetchone()[0])

    def latest_edition_date(self) -> dt.date | None:
        row = self.db.execute("SELECT max(date) FROM editions").fetchone()
        return dt.date.fromisoformat(row[0]) if row[0] else None

