"""The catalogue of feeds the digest publishes: where each lives and what it is called.

Pages link them, the OPML list names them and the feeds describe themselves
with the same URLs, so they are worked out in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.config import Config
from digest.render.context import category_url
from digest.render.syndication import FeedLinks


@dataclass(frozen=True)
class PublishedFeed:
    """One feed the digest publishes, in three formats, for pages and the OPML list."""

    title: str
    label: str  # short name on pages: the digest's title or the category's
    folder: str  # relative to the output folder: "" or "categories/SLUG/"
    home_url: str
    links: FeedLinks

    def path(self, name: str) -> str:
        return self.folder + name


def digest_feed(config: Config) -> PublishedFeed:
    return PublishedFeed(
        title=config.title,
        label=config.title,
        folder="",
        home_url=config.public_url,
        links=_links(config, ""),
    )


def category_feed(config: Config, slug: str) -> PublishedFeed:
    category = config.category(slug)
    title = category.title if category else slug
    return PublishedFeed(
        title=f"{config.title}: {title}",
        label=title,
        folder=f"categories/{slug}/",
        home_url=category_url(config, slug),
        links=_links(config, f"categories/{slug}/"),
    )


def published_feeds(config: Config) -> tuple[PublishedFeed, ...]:
    """Every feed the digest publishes: the digest first, then categories in config order."""
    return (digest_feed(config), *(category_feed(config, s) for s in config.category_slugs))


def _links(config: Config, folder: str) -> FeedLinks:
    base = config.public_url + folder
    return FeedLinks(rss=base + "rss.xml", atom=base + "atom.xml", json=base + "feed.json")
