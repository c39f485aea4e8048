"""Pure decisions: which articles make an edition, and in what order."""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from collections.abc import Iterable, Sequence

from digest.config import CategoryConfig
from digest.models import Edition, Section, StoredArticle


def edition_cutoff(date: dt.date, tz: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The build time of `date`'s edition: now, or the end of that local day if earlier."""
    end_of_day = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return min(now, end_of_day.astimezone(dt.UTC))


NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _term_forms(term: str) -> tuple[str, str]:
    """A category term as compared: its text (entities decoded, case folded), and as a slug."""
    text = " ".join(html.unescape(term).split()).casefold()
    return text, NOT_SLUG.sub("-", text).strip("-")


def named_categories(terms: Iterable[str], categories: Sequence[CategoryConfig]
                     ) -> list[str]:
    """The configured categories (slugs, in config order) that an article's own terms name:
    by slug or by title, case-insensitively."""
    texts: set[str] = set()
    for term in terms:
        texts.update(_term_forms(term))
    texts.discard("")
    return [c.slug for c in categories
            if c.slug.casefold() in texts or _term_forms(c.title)[0] in texts]


def filed_under(article: StoredArticle, categories: Sequence[CategoryConfig]) -> str | None:
    """The category an article is filed under: the first in config order that it names
    itself; only when it names none, the first whose sources carried it."""
    named = named_categories(article.terms, categories)
    if named:
        return named[0]
    order = {c.slug: i for i, c in enumerate(categories)}
    known = [slug for slug in article.categories if slug in order]
    return min(known, key=order.__getitem__) if known else None


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

    Each article appears once, filed under the first configured category it names
    itself, else the first whose sources carried it (see `filed_under`); sections
    follow the config order, articles newest first. Returns None when nothing
    qualifies. Articles that neither name nor came from a configured category are
    left out.
    """
    since = cutoff - lookback
    by_category: dict[str, list[StoredArticle]] = {c.slug: [] for c in categories}
    for article in candidates:
        if not since < article.when <= cutoff:
            continue
        first = filed_under(article, categories)
        if first is not None:
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
