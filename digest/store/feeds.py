"""What the store remembers about each feed between runs."""

from __future__ import annotations

from digest.models import FeedState
from digest.store.core import StoreCore, _dt, _ts


class FeedsMixin(StoreCore):
    """What the store remembers about each feed."""

    def feed_state(self, url: str) -> FeedState:
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            validators_until=_dt(row["validators_until"]),
            moved_to=row["moved_to"],
            gone=bool(row["gone"]),
            retry_after=_dt(row["retry_after"]),
            last_success=_dt(row["last_success"]),
            last_error=row["last_error"],
            failing_since=_dt(row["failing_since"]),
            covered_from=_dt(row["covered_from"]),
            api_root=row["api_root"],
            category_id=row["category_id"],
        )


    def save_feed_state(self, state: FeedState) -> None:
        self.db.execute(
            """INSERT INTO feeds (url, etag, last_modified, moved_to, gone, retry_after,
                                  last_success, last_error, failing_since, covered_from,
                                  api_root, category_id, validators_until)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                 etag = excluded.etag, last_modified = excluded.last_modified,
                 moved_to = excluded.moved_to, gone = excluded.gone,
                 retry_after = excluded.retry_after, last_success = excluded.last_success,
                 last_error = excluded.last_error, failing_since = excluded.failing_since,
                 covered_from = excluded.covered_from, api_root = excluded.api_root,
                 category_id = excluded.category_id,
                 validators_until = excluded.validators_until""",
            (
                state.url, state.etag, state.last_modified, state.moved_to, int(state.gone),
                _ts(state.retry_after), _ts(state.last_success), state.last_error,
                _ts(state.failing_since), _ts(state.covered_from), state.api_root,
                state.category_id, _ts(state.validators_until),
            ),
        )

