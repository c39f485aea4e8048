"""The web version: one page per edition, an index of the latest and an archive by month."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

import jinja2

from digest.config import Config
from digest.models import Edition
from digest.render.context import edition_path, preheader, sections_view, site_view, web_url
from digest.render.words import Words

INDEX_EDITIONS = 10


@dataclass(frozen=True)
class EditionLink:
    date: str
    iso: str
    path: str
    count: str


def edition_body(config: Config, edition: Edition, env: jinja2.Environment) -> str:
    """The edition's articles as an HTML fragment with absolute links (pages and feeds)."""
    words = Words(config.language, config.timezone)
    return env.get_template("edition_body.html").render(_edition_context(config, edition, words))


def _edition_context(config: Config, edition: Edition, words: Words) -> dict[str, Any]:
    return {
        "site": site_view(config, words),
        "t": words,
        "date": words.date(edition.date, "full"),
        "iso": edition.date.isoformat(),
        "sections": sections_view(config, edition, words, None),
        "web_url": web_url(config, edition),
        "summary": preheader(edition, 300),
    }


def _link(edition: Edition, words: Words, root: str) -> EditionLink:
    return EditionLink(
        date=words.date(edition.date, "full"),
        iso=edition.date.isoformat(),
        path=root + edition_path(edition),
        count=words("articles", n=edition.article_count),
    )


def render_site(config: Config, editions: list[Edition],
                env: jinja2.Environment) -> dict[str, str]:
    """Every page of the site: {relative path: HTML}. `editions` newest first."""
    words = Words(config.language, config.timezone)
    site = site_view(config, words)
    pages: dict[str, str] = {}
    page = env.get_template("edition.html")
    for i, edition in enumerate(editions):
        newer = editions[i - 1] if i > 0 else None
        older = editions[i + 1] if i + 1 < len(editions) else None
        context = _edition_context(config, edition, words)
        context.update(
            root="../",
            title=words("edition_of", date=words.date(edition.date, "long")),
            newer=_link(newer, words, "../") if newer else None,
            older=_link(older, words, "../") if older else None,
        )
        pages[edition_path(edition)] = page.render(context)
    latest = editions[0] if editions else None
    index_context: dict[str, Any] = {
        "site": site, "t": words, "root": "",
        "latest": _edition_context(config, latest, words) if latest else None,
        "latest_link": _link(latest, words, "") if latest else None,
        "earlier": [_link(e, words, "") for e in editions[1:INDEX_EDITIONS]],
    }
    pages["index.html"] = env.get_template("index.html").render(index_context)
    months = [
        (words.date(group[0].date, "LLLL y"), [_link(e, words, "") for e in group])
        for _, grouped in groupby(editions, key=lambda e: (e.date.year, e.date.month))
        for group in [list(grouped)]
    ]
    pages["archive.html"] = env.get_template("archive.html").render(
        {"site": site, "t": words, "root": "", "months": months})
    return pages
