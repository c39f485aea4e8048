"""Pure decisions about a feed after one read: what to remember and what to tell.

`gather` reads the feeds and writes; this module only decides, from the state
the store kept and what the read came to, so each rule is tested without a
server or a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace

from digest.models import Article, FeedState, FetchOutcome
from digest.sources.reading import Reading


@dataclass(frozen=True)
class FeedStep:
    """What one read of a feed leads to: the state to save and the articles to store."""

    state: FeedState
    outcome: FetchOutcome
    message: str | None = None  # the error, or a warning worth telling the editor
    articles: tuple[Article, ...] | None = None  # None when nothing was read to store


def next_feed_state(state: FeedState, reading: Reading, now: dt.datetime) -> FeedStep:
    """The feed's next state after `reading`, its outcome and what to tell the editor.

    A feed that is gone (410) is not fetched again until re-enabled; one told to
    wait keeps its Retry-After; a failure keeps the time failing began. A success
    (or an unchanged feed) clears every failure and keeps the new validators.
    """
    result, parsed, error = reading.download, reading.parsed, reading.error
    # What a WordPress REST source looked up, kept even when the posts could not be read.
    state = replace(state, api_root=reading.api_root or state.api_root,
                    category_id=reading.category_id or state.category_id)
    moved_to = result.moved_to or state.moved_to
    notes = []
    if result.moved_to and result.moved_to != state.moved_to:
        notes.append(f"moved permanently to {result.moved_to}; update the config")
    if result.outcome == "gone":
        return FeedStep(replace(state, gone=True, last_error=error, moved_to=moved_to,
                                failing_since=state.failing_since or now), "gone", error)
    if result.outcome == "waiting":
        return FeedStep(replace(state, retry_after=result.retry_after, last_error=error,
                                moved_to=moved_to), "waiting", error)
    if error is not None or (result.outcome == "ok" and parsed is None):
        return FeedStep(replace(state, last_error=error, moved_to=moved_to,
                                failing_since=state.failing_since or now),
                        "error", "; ".join([*notes, error or ""]))
    if parsed is not None and parsed.warning:
        notes.append(parsed.warning)
    if reading.note:
        notes.append(reading.note)
    changed = result.outcome == "ok"
    return FeedStep(
        replace(state,
                etag=result.etag if changed else state.etag,
                last_modified=result.last_modified if changed else state.last_modified,
                validators_until=(result.validators_until if changed
                                  else state.validators_until),
                moved_to=moved_to, retry_after=None, last_success=now, last_error=None,
                failing_since=None, covered_from=reading.covered_from),
        result.outcome, "; ".join(notes) or None,
        parsed.articles if parsed is not None else None)


def withdrawn(listed: Iterable[Article], given: Iterable[tuple[str, dt.datetime | None]],
              complete_since: dt.datetime) -> frozenset[str]:
    """The keys of the articles a source gave before (`given`: key and date) that its
    latest read, which lists every post dated after `complete_since`, no longer lists:
    the site trashed them, made them drafts or private, or gave them a password. An
    undated article, or one dated at or before that moment, tells nothing."""
    keys = {a.key for a in listed}
    return frozenset(key for key, when in given
                     if when is not None and when > complete_since and key not in keys)
