"""What reading one source came to, whatever its kind (feed URL, local file, WordPress REST)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from digest.sources.fetch import Download
from digest.sources.normalise import ParsedFeed


@dataclass(frozen=True)
class Reading:
    """One source read once: the first request's answer (outcome, validators, moves),
    the articles of every page read, and what is worth remembering or telling."""

    download: Download
    parsed: ParsedFeed | None
    error: str | None
    # The oldest date reached when the source could not cover the whole window: the
    # window before it may hold articles that were missed. None when covered.
    covered_from: dt.datetime | None = None
    note: str | None = None  # why the window is not covered, for the editor
    pages: int = 1  # requests for articles (feed pages, API pages)
    api_root: str | None = None  # WordPress REST: the API the site advertises
    category_id: int | None = None  # and the category's id there
    # The source's posts dated after this moment are all among the articles read (a
    # WordPress feed paged back, or its REST API): one it gave before and does not list
    # now was retracted. None when the reading cannot tell.
    complete_since: dt.datetime | None = None
