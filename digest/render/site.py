"""The web version: one page per edition, an index of the latest and an archive by month.

Links between pages and to the feeds are relative, so the folder works from
file:// and from any static host; only canonical links, Open Graph tags and
the sitemap use `public_url`, as search engines require absolute URLs there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

import jinja2

from digest.config import Config
from digest.models import Edition, Section, StoredArticle
from digest.render.catalogue import published_feeds
from digest.render.context import (
    edition_path,
    preheader,
    sections_view,
    site_view,
    web_url,
    words_for,
)
from digest.render.syndication import published_text
from digest.render.words import Words

INDEX_EDITIONS = 10


@dataclass(frozen=True)
class EditionLink:
    date: str
    iso: str
    path: str
    count: str
    url: str  # absolute, for the sitemap


@dataclass(frozen=True)
class FeedView:
    """One published feed as pages link it: paths relative to the output folder."""

    title: str
    label: str
    rss: str
    atom: str
    json: str


@dataclass(frozen=True)
class SectionLink:
    slug: str
    title: str
    count: int


def edition_body(config: Config, edition: Edition, env: jinja2.Environment) -> str:
    """The edition's articles as an HTML fragment with absolute links (pages and feeds)."""
    words = words_for(config)
    context = _edition_context(config, presentable(edition), words)
    return env.get_template("edition_body.html").render(context)


def presentable(edition: Edition) -> Edition:
    """The edition with its text fields as published: no markup a source smuggled into
    titles, authors or excerpts (escaped, it would still show as text), no controls."""

    def article(a: StoredArticle) -> StoredArticle:
        return replace(a, title=published_text(a.title) or a.link,
                       author=published_text(a.author or "") or None,
                       excerpt=published_text(a.excerpt))

    return replace(edition, sections=tuple(
        Section(s.slug, published_text(s.title) or s.slug, tuple(article(a) for a in s.articles))
        for s in edition.sections))


def _edition_context(config: Config, edition: Edition, words: Words) -> dict[str, Any]:
    return {
        "site": site_view(config, words),
        "t": words,
        "date": words.date(edition.date, "full"),
        "iso": edition.date.isoformat(),
        "sections": sections_view(config, edition, words, None),
        "contents": [SectionLink(s.slug, s.title, len(s.articles)) for s in edition.sections],
        "web_url": web_url(config, edition),
        "summary": preheader(edition, 300),
        "count": words("articles", n=edition.article_count),
    }


def _link(config: Config, listed: Listed, words: Words, root: str,
          counts: dict[int, str] | None = None) -> EditionLink:
    path = f"editions/{listed.date.isoformat()}.html"  # as edition_path
    count = counts.get(listed.articles) if counts is not None else None
    if count is None:
        count = words("articles", n=listed.articles)
        if counts is not None:  # the archive's thousand links share a few counts
            counts[listed.articles] = count
    return EditionLink(
        date=words.date(listed.date, "full"),
        iso=listed.date.isoformat(),
        path=root + path,
        count=count,
        url=config.public_url + path,
    )


@dataclass(frozen=True)
class Listed:
    """An edition as lists and neighbours' links show it: its date and article count."""

    date: dt.date
    articles: int

    @classmethod
    def of(cls, edition: Edition) -> Listed:
        return cls(edition.date, edition.article_count)


def feed_views(config: Config) -> tuple[FeedView, ...]:
    return tuple(
        FeedView(title=f.title, label=f.label, rss=f.path("rss.xml"), atom=f.path("atom.xml"),
                 json=f.path("feed.json"))
        for f in published_feeds(config)
    )


class SitePages:
    """The site's pages, one at a time: an edition's page, or the lists (index, archive,
    sitemap), so a build can render only those whose inputs changed."""

    def __init__(self, config: Config, env: jinja2.Environment) -> None:
        self.config = config
        self.env = env
        self.words = words_for(config)
        self.common: dict[str, Any] = {
            "site": site_view(config, self.words),
            "t": self.words,
            "feeds": feed_views(config),
            "opml": "feeds.opml",
        }
        self.page = env.get_template("edition.html")

    def edition(self, edition: Edition, newer: Listed | None, older: Listed | None) -> str:
        """The edition's page, with links to its newer and older neighbours."""
        config, words = self.config, self.words
        edition = presentable(edition)
        context = {**self.common, **_edition_context(config, edition, words)}
        context.update(
            root="../",
            title=words("edition_of", date=words.date(edition.date, "long")),
            newer=_link(config, newer, words, "../") if newer else None,
            older=_link(config, older, words, "../") if older else None,
        )
        return self.page.render(context)

    def lists(self, listed: list[Listed], latest: Edition | None) -> dict[str, str]:
        """index.html, archive.html and sitemap.xml; `listed` newest first, `latest` its
        first edition in full."""
        config, words, env, common = self.config, self.words, self.env, self.common
        counts: dict[int, str] = {}
        links = [_link(config, e, words, "", counts) for e in listed]
        shown = presentable(latest) if latest else None
        pages: dict[str, str] = {}
        index_context: dict[str, Any] = {
            **common, "root": "",
            "latest": _edition_context(config, shown, words) if shown else None,
            "latest_link": links[0] if shown else None,
            "earlier": links[1:INDEX_EDITIONS],
            "more_in_archive": len(listed) > INDEX_EDITIONS,
        }
        pages["index.html"] = env.get_template("index.html").render(index_context)
        months = [
            (words.date(group[0][0].date, "LLLL y"), [link for _, link in group])
            for _, grouped in groupby(zip(listed, links, strict=True),
                                      key=lambda e: (e[0].date.year, e[0].date.month))
            for group in [list(grouped)]
        ]
        pages["archive.html"] = env.get_template("archive.html").render(
            {**common, "root": "", "months": months, "total": len(listed)})
        pages["sitemap.xml"] = env.get_template("sitemap.xml").render(
            site=common["site"], editions=links)
        return pages


def render_site(config: Config, editions: list[Edition],
                env: jinja2.Environment) -> dict[str, str]:
    """Every page of the site: {relative path: HTML}. `editions` newest first."""
    site = SitePages(config, env)
    listed = [Listed.of(e) for e in editions]
    pages: dict[str, str] = {}
    for i, edition in enumerate(editions):
        newer = listed[i - 1] if i > 0 else None
        older = listed[i + 1] if i + 1 < len(editions) else None
        pages[edition_path(edition)] = site.edition(edition, newer, older)
    pages.update(site.lists(listed, editions[0] if editions else None))
    return pages
