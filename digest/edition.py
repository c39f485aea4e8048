"""Pure decisions: which articles make an edition, and in what order."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence

from digest.config import CategoryConfig
from digest.models import Edition, Section, StoredArticle


def edition_cutoff(date: dt.date, tz: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The build time of `date`'s edition: now, or the end of that local day if earlier."""
    end_of_day = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return min(now, end_of_day.astimezone(dt.UTC))


def select_edition(
    date: dt.date,
    candidates: Iterable[StoredArticle],
    categories: Sequence[CategoryConfig],
    *,
    cutoff: dt.datetime,
    lookback: dt.timedelta,
    created_at: dt.datetime,
) -> Edition | None:
    """Group the candidates dated in (cutoff - lookback, cutoff] into an edition.

    Each article appears once, under the first configured category whose feeds
    carried it; sections follow the config order, articles newest first. Returns
    None when nothing qualifies. Articles of categories no longer configured are
    left out.
    """
    order = {c.slug: i for i, c in enumerate(categories)}
    since = cutoff - lookback
    by_category: dict[str, list[StoredArticle]] = {c.slug: [] for c in categories}
    for article in candidates:
        if not since < article.when <= cutoff:
            continue
        known = [slug for slug in article.categories if slug in order]
        if not known:
            continue
        first = min(known, key=order.__getitem__)
        by_category[first].append(article)
    sections = tuple(
        Section(
            slug=c.slug,
            title=c.title,
            articles=tuple(sorted(by_category[c.slug], key=lambda a: (a.when, a.id),
                                  reverse=True)),
        )
        for c in categories
        if by_category[c.slug]
    )
    if not sections:
        return None
    return Edition(date=date, sections=sections, created_at=created_at)
