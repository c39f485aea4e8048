"""What the digest publishes as feeds: the digest itself and one feed per category.

- The digest: one entry per edition, its content the edition's web body, its
  summary the list of titles; the newest `[feeds] editions` editions.
- Each category: one entry per article (title, link to the original, summary,
  author, categories, image, date); the newest `[feeds] articles` articles.

Everything comes from stored content, never the clock, so rebuilding unchanged
editions and articles gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice

import jinja2

from digest.config import Config
from digest.models import Edition, StoredArticle
from digest.render.catalogue import category_feed, digest_feed
from digest.render.context import preheader, subject, web_url, words_for
from digest.render.site import edition_body, presentable
from digest.render.syndication import (
    FeedInfo,
    FeedItem,
    published_url,
    render_feed,
)
from digest.render.words import Words

# Some readers refuse large feeds (Kill the Newsletter caps at 500 kB): the
# oldest editions leave the digest feeds first when the newest would not fit.
MAX_FEED_BYTES = 500_000


def render_feeds(config: Config, editions: Iterable[Edition], env: jinja2.Environment,
                 body: Callable[[Edition], str] | None = None) -> dict[str, bytes]:
    """rss.xml, atom.xml and feed.json of the digest (`editions` newest first).

    Editions are taken from `editions` only as far as the feed has room for them, so
    it can load them one by one. `body` gives an edition's web body (edition_body's
    result, kept from an earlier build); by default it is rendered here.
    """
    words = words_for(config)
    feed = digest_feed(config)
    info = FeedInfo(
        id=config.public_url,
        title=config.title,
        description=config.description,
        home_url=config.public_url,
        links=feed.links,
        language=config.language,
        author=config.title,
        author_url=config.link,
    )
    items = (_edition_item(config, e, env, words, body)
             for e in islice(editions, config.feed_editions))
    return _within_budget(info, items)


def _within_budget(info: FeedInfo, newest: Iterable[FeedItem]) -> dict[str, bytes]:
    """The feed with as many of the newest items as fit in MAX_FEED_BYTES (at least one)."""
    # Escaping grows HTML by about a fifth in XML: start from a count that
    # probably fits, then check the real files.
    budget = MAX_FEED_BYTES * 0.8
    used = 0.0
    items: list[FeedItem] = []
    for item in newest:  # taken only as far as needed
        used += len(item.summary_html) + len(item.content_html or "") + 2000
        if used > budget and items:
            break
        items.append(item)
    count = len(items)
    while True:
        files = render_feed(info, items[:count])
        if count <= 1 or max(len(b) for b in files.values()) <= MAX_FEED_BYTES:
            return files
        count -= 1


def _edition_item(config: Config, edition: Edition, env: jinja2.Environment,
                  words: Words, body: Callable[[Edition], str] | None = None) -> FeedItem:
    url = web_url(config, edition)
    edition = presentable(edition)
    content = body(edition) if body else edition_body(config, edition, env)
    titles = [a.title for s in edition.sections for a in s.articles]
    return FeedItem(
        id=url,
        url=url,
        title=subject(config, edition, words),
        summary_html=env.get_template("feed_summary.html").render(titles=titles),
        summary_text=preheader(edition, 500),
        content_html=content,
        published=edition.created_at,
        # An unsent edition rebuilt later in the day can gain articles, or take their
        # corrections: the time the newest of them was first seen, or the last was
        # corrected, dates the change (stored, never the clock).
        updated=max([edition.created_at, *(_or_revised(a, a.first_seen)
                                           for s in edition.sections for a in s.articles)]),
        categories=tuple(s.title for s in edition.sections),
        permalink=True,
    )


def render_category_feeds(config: Config,
                          articles: Mapping[str, Sequence[StoredArticle]]) -> dict[str, bytes]:
    """categories/SLUG/{rss.xml,atom.xml,feed.json} for each category's newest articles."""
    files: dict[str, bytes] = {}
    for slug in config.category_slugs:
        files.update(render_category_feed(config, slug, articles.get(slug, ())))
    return files


def render_category_feed(config: Config, slug: str,
                         articles: Sequence[StoredArticle]) -> dict[str, bytes]:
    """One category's categories/SLUG/{rss.xml,atom.xml,feed.json}."""
    feed = category_feed(config, slug)
    info = FeedInfo(
        id=config.public_url + feed.folder,
        title=feed.title,
        description=f"{feed.label} · {config.description or config.title}",
        home_url=feed.home_url,
        links=feed.links,
        language=config.language,
        author=config.title,
        author_url=config.link,
    )
    items = [_article_item(config, a) for a in articles]
    rendered = _within_budget(info, [i for i in items if i is not None])
    return {feed.path(name): data for name, data in rendered.items()}


def article_id(article: StoredArticle) -> str:
    """A stable id for an article, the same in every category feed.

    The source's guid can be any string (and is not always the link), so it is
    turned into a name-based UUID: valid in RSS, Atom and JSON Feed alike.
    """
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, article.key)}"


def _or_revised(article: StoredArticle, moment: dt.datetime) -> dt.datetime:
    """`moment`, or when the digest read a correction of the article, whichever is later."""
    return max(moment, article.revised_at or moment)


def _article_item(config: Config, article: StoredArticle) -> FeedItem | None:
    link = published_url(article.link)
    if link is None:  # nothing to link to: a feed entry would lead nowhere
        return None
    titles = [c.title for c in config.categories if c.slug in article.categories]
    return FeedItem(
        id=article_id(article),
        url=link,
        title=article.title,
        summary_html=article.summary_html,
        summary_text=article.excerpt,
        content_html=None,
        published=article.when,
        updated=_or_revised(article, article.when),
        authors=(article.author,) if article.author else (),
        categories=tuple(titles),
        image=article.image,
    )
