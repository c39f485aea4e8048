"""The view of an edition that every template gets: plain values, already formatted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from digest.config import Config
from digest.models import Edition, StoredArticle
from digest.render.words import Words


@dataclass(frozen=True)
class ArticleView:
    title: str
    link: str
    category: str
    date: str
    iso: str
    author: str | None
    reading: str | None
    excerpt: str
    image: str | None
    summary_html: str


@dataclass(frozen=True)
class SectionView:
    slug: str
    title: str
    articles: tuple[ArticleView, ...]
    more: int  # articles left out by the per-category cap
    more_url: str
    more_label: str


def edition_path(edition: Edition) -> str:
    """Where the web version of an edition lives, relative to the output folder."""
    return f"editions/{edition.date.isoformat()}.html"


def web_url(config: Config, edition: Edition) -> str:
    return config.public_url + edition_path(edition)


def category_url(config: Config, slug: str) -> str:
    category = config.category(slug)
    if category is not None and category.url:
        return category.url
    return f"{config.link.rstrip('/')}/category/{slug}/"


def article_view(article: StoredArticle, category: str, words: Words) -> ArticleView:
    return ArticleView(
        title=article.title,
        link=article.link,
        category=category,
        date=words.local_date(article.when),
        iso=article.when.isoformat(),
        author=article.author,
        reading=words("min_read", n=article.reading_minutes) if article.reading_minutes else None,
        excerpt=article.excerpt,
        image=article.image if article.image and article.image.startswith("https://") else None,
        summary_html=article.summary_html,
    )


def sections_view(config: Config, edition: Edition, words: Words,
                  cap: int | None) -> tuple[SectionView, ...]:
    views = []
    for section in edition.sections:
        shown = section.articles if cap is None else section.articles[:cap]
        views.append(SectionView(
            slug=section.slug,
            title=section.title,
            articles=tuple(article_view(a, section.title, words) for a in shown),
            more=len(section.articles) - len(shown),
            more_url=category_url(config, section.slug),
            more_label=words("more_in", category=section.title),
        ))
    return tuple(views)


def site_view(config: Config, words: Words) -> dict[str, Any]:
    return {
        "title": config.title,
        "link": config.link,
        "public_url": config.public_url,
        "description": config.description,
        "about": config.about,
        "contact": config.contact,
        "privacy_url": config.privacy_url,
        "terms_url": config.terms_url,
        "language": config.language,
        "rss_url": config.public_url + "rss.xml",
        "atom_url": config.public_url + "atom.xml",
        "json_url": config.public_url + "feed.json",
    }


def subject(config: Config, edition: Edition, words: Words) -> str:
    return config.email.subject.format(title=config.title, date=words.date(edition.date))


def preheader(edition: Edition, limit: int = 140) -> str:
    """A short summary for the inbox preview: the first titles of the edition."""
    titles = [a.title for s in edition.sections for a in s.articles]
    text = " · ".join(titles)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
