"""The view of an edition that every template gets: plain values, already formatted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from digest.config import Config
from digest.models import THUMB_WIDTH, Edition, StoredArticle
from digest.render.words import Words
from digest.text import img_tags, shorten

# Thumbnails: a fixed display width, the height from the image's own proportions. Email
# clients cannot crop (object-fit and background-size are not dependable), so the height
# must come from known dimensions or the picture would be squashed; without them, no picture.
THUMB_RATIOS = (0.4, 1.25)  # height/width kept: wide photos to a little taller than square
THUMB_TYPES = (".jpg", ".jpeg", ".png", ".gif")  # what every client shows (no WebP, no SVG)
EMAIL_EXCERPT_WORDS = 25  # a short excerpt keeps the largest edition under the size budget


@dataclass(frozen=True)
class Thumbnail:
    src: str
    width: int
    height: int
    alt: str = ""  # decorative next to the title it illustrates: screen readers skip it


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
    thumbnail: Thumbnail | None = None
    short_excerpt: str = ""


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
        thumbnail=thumbnail(article.image, article.summary_html, article.image_size),
        short_excerpt=shorten(article.excerpt, EMAIL_EXCERPT_WORDS),
    )


def image_size(src: str, fragment: str) -> tuple[int, int] | None:
    """The size the article's own HTML gives the image at `src` (WordPress always does)."""
    if "<img" not in fragment:
        return None
    for found, width, height in img_tags(fragment):
        if found == src:  # the first <img> of that picture
            return (width, height) if width and height else None
    return None


# WordPress names the resized copies of an upload NAME-WIDTHxHEIGHT.EXT.
SIZED_NAME = re.compile(r"-(\d{2,5})x(\d{2,5})\.(?:jpe?g|png|gif)$", re.IGNORECASE)


def size_in_name(src: str) -> tuple[int, int] | None:
    found = SIZED_NAME.search(urlsplit(src).path)
    return (int(found.group(1)), int(found.group(2))) if found else None


def thumbnail(src: str | None, fragment: str,
              known: tuple[int, int] | None = None) -> Thumbnail | None:
    """A thumbnail THUMB_WIDTH wide for an https PNG/JPEG/GIF of known size, else None.

    The size is `known` (stored from the source), else read from the article's HTML
    or a WordPress file name.
    """
    if not src or not src.startswith("https://"):
        return None
    if not urlsplit(src).path.lower().endswith(THUMB_TYPES):
        return None
    size = known or image_size(src, fragment) or size_in_name(src)
    if size is None or size[0] == 0:
        return None
    ratio = size[1] / size[0]
    if not THUMB_RATIOS[0] <= ratio <= THUMB_RATIOS[1]:
        return None
    return Thumbnail(src, THUMB_WIDTH, round(THUMB_WIDTH * ratio))


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


def words_for(config: Config) -> Words:
    """The configured language's words with the editor's [words] overrides."""
    return Words(config.language, config.timezone, config.words)


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
