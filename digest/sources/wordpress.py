"""A WordPress site's category through its REST API: title, link, date, author, excerpt,
content and featured image, for sites whose feeds carry only excerpts or no images.

Two requests a run: /wp-json/wp/v2/categories?slug=SLUG for the category's id, then
/wp-json/wp/v2/posts?categories=ID&after=...&_embed=author,wp:featuredmedia. `after`
compares against the site's local time, whatever zone it is in, so it is asked with a
day of overlap; the store's keys (the posts' guids, the same as in the site's RSS)
drop what was already seen.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import requests

from digest.config import FetchConfig, WordPressSource
from digest.models import FeedState
from digest.sources.fetch import Download, HostLimiter, download
from digest.sources.normalise import FeedParseError, ParsedFeed, RawEntry, parse_date, to_article

API = "/wp-json/wp/v2"
PER_PAGE = 100
MAX_PAGES = 5  # 500 posts a run is more than any category publishes in a day
OVERLAP = dt.timedelta(days=1)  # covers any site time zone (UTC-12 to UTC+14)
EMBED = "author,wp:featuredmedia"


def categories_url(source: WordPressSource) -> str:
    return f"{source.site}{API}/categories?" + urlencode({"slug": source.category})


def posts_url(source: WordPressSource, category_id: int, after: dt.datetime, page: int) -> str:
    query = {"categories": str(category_id), "after": after.strftime("%Y-%m-%dT%H:%M:%S"),
             "per_page": str(PER_PAGE), "page": str(page), "_embed": EMBED,
             "orderby": "date", "order": "desc"}
    return f"{source.site}{API}/posts?" + urlencode(query)


def _json(result: Download, what: str) -> Any:
    try:
        return json.loads(result.body)
    except (ValueError, RecursionError):
        raise FeedParseError(f"the {what} answer is not JSON; is this a WordPress site "
                             "with the REST API enabled?") from None


def _rendered(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _embedded(post: dict[str, Any], key: str) -> dict[str, Any] | None:
    embedded = post.get("_embedded")
    found = embedded.get(key) if isinstance(embedded, dict) else None
    if isinstance(found, list) and found and isinstance(found[0], dict) \
            and "code" not in found[0]:  # an error object: private media, deleted author
        return found[0]
    return None


def post_entry(post: dict[str, Any]) -> RawEntry:
    """One post of /wp/v2/posts (with _embed) as a RawEntry."""
    published = parse_date(post.get("date_gmt"))  # naive, in UTC by the API's definition
    if published is None:
        published = parse_date(post.get("date"))  # site local time: better than nothing
    media = _embedded(post, "wp:featuredmedia")
    author = _embedded(post, "author")
    image = media.get("source_url") if media else None
    guid = _rendered(post.get("guid"))
    post_id = post.get("id")
    return RawEntry(
        id=guid or (f"wordpress:{post_id}" if post_id is not None else None),
        link=post.get("link") if isinstance(post.get("link"), str) else None,
        title=_rendered(post.get("title")),
        title_html=True,  # WordPress renders titles as HTML, entities and all
        summary=_rendered(post.get("excerpt")),
        content=_rendered(post.get("content")),
        author=author.get("name") if author and isinstance(author.get("name"), str) else None,
        published=published,
        images=(image,) if isinstance(image, str) else (),
        image_sizes=_featured_size(media, image),
    )


def _featured_size(media: dict[str, Any] | None, image: object
                   ) -> tuple[tuple[str, int, int], ...]:
    """The featured image's size from its media details, when WordPress gives it."""
    details = media.get("media_details") if media else None
    if not isinstance(image, str) or not isinstance(details, dict):
        return ()
    width, height = details.get("width"), details.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return ((image, width, height),)
    return ()


def fetch_wordpress(session: requests.Session, state: FeedState, source: WordPressSource,
                    limits: FetchConfig, now: dt.datetime, limiter: HostLimiter,
                    lookback: dt.timedelta) -> tuple[Download, ParsedFeed | None, str | None]:
    """Fetch the category's recent posts; the Download speaks for the source as a whole."""

    def get(url: str) -> Download:
        # The source's gone/retry-after state applies to each request; validators and
        # permanent redirects of the API URLs are not the source's to remember.
        ask = replace(state, url=url, etag=None, last_modified=None, moved_to=None)
        return replace(download(session, ask, limits, now, limiter), url=state.url,
                       moved_to=None, etag=None, last_modified=None)

    lookup = get(categories_url(source))
    if lookup.outcome != "ok":
        return lookup, None, lookup.error
    try:
        found = _json(lookup, "categories")
        if not isinstance(found, list) or not found or not isinstance(found[0], dict) \
                or not isinstance(found[0].get("id"), int):
            raise FeedParseError(
                f"{source.site} has no category with the slug {source.category!r}; check "
                "`category` in this source (the slug is the last part of the category's URL)")
        category_id = found[0]["id"]
        since = (state.last_success or now - lookback) - OVERLAP
        entries: dict[str, RawEntry] = {}
        last = lookup
        for page in range(1, MAX_PAGES + 1):
            result = get(posts_url(source, category_id, since, page))
            if page > 1 and result.http_status == 400:
                break  # WordPress answers 400 for a page past the last
            if result.outcome != "ok":
                return result, None, result.error
            last = result
            posts = _json(last, "posts")
            if not isinstance(posts, list):
                raise FeedParseError("the posts answer is not a list of posts")
            for post in posts:
                if isinstance(post, dict):
                    entry = post_entry(post)
                    entries.setdefault(entry.id or entry.link or "", entry)  # dedupe by id
            if len(posts) < PER_PAGE:
                break
    except FeedParseError as exc:
        return lookup, None, str(exc)
    feed_link = f"{source.site}/category/{source.category}/"
    articles = tuple(a for a in (to_article(e, state.url, feed_link, now)
                                 for e in entries.values()) if a is not None)
    return last, ParsedFeed(source.category, feed_link, articles, None), None
