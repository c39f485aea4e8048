"""A WordPress site's category through its REST API: title, link, date, author, excerpt,
content, categories and featured image, with no limit of items per request.

The API's root is the one the site advertises (`Link: <…>; rel="https://api.w.org/"`:
`/wp-json/`, or `?rest_route=/` on sites with plain permalinks); the root and the
category's id (`/wp/v2/categories?slug=SLUG`) are looked up once and kept in the state
file. Each run then asks `/wp/v2/posts?categories[terms]=ID&categories[include_children]=1
&after=…` for the window (the category and its children, as the category's feed has
them; a site older than WordPress 6.0, which answers that form with 400, is asked plain
`categories=ID`), a hundred posts a page, following X-WP-TotalPages to the last.
`after` compares against the site's local time, whatever zone it is in, so it is asked
with a day of overlap; the store's keys (the posts' guids, the same as in the site's RSS)
drop what was already seen.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from digest.config import FetchConfig, WordPressSource
from digest.errors import FeedParseError
from digest.models import THUMB_WIDTH, FeedState
from digest.sources.fetch import Download, HostLimiter, download
from digest.sources.normalise import ParsedFeed, RawEntry, parse_date, to_article
from digest.sources.paging import linked
from digest.sources.reading import Reading

API_REL = "https://api.w.org/"
HEAD_BYTES = 256 * 1024  # where a page's <head> links are
PER_PAGE = 100
OVERLAP = dt.timedelta(days=1)  # covers any site time zone (UTC-12 to UTC+14)
EMBED = "author,wp:featuredmedia,wp:term"
FIELDS = ("id,date,date_gmt,guid,link,title,excerpt,content,author,featured_media,"
          "categories,_links,_embedded")
# The featured image is shown as a thumbnail: the size nearest twice its display width
# (sharp on high-density screens) is enough; the full original can weigh megabytes.
IMAGE_WIDTH = 2 * THUMB_WIDTH


def api_url(root: str, route: str, query: dict[str, str] | None = None) -> str:
    """`route` (like "wp/v2/posts") under the API root, pretty (`/wp-json/`) or plain
    (`?rest_route=/`)."""
    parts = urlsplit(root)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    extra = list((query or {}).items())
    if any(k == "rest_route" for k, _ in pairs):
        base = next(v for k, v in pairs if k == "rest_route").rstrip("/")
        pairs = [(k, v) for k, v in pairs if k != "rest_route"]
        pairs += [("rest_route", f"{base}/{route}"), *extra]
        return urlunsplit((parts.scheme, parts.netloc, parts.path,
                           urlencode(pairs, safe="/"), ""))
    url = urljoin(root if root.endswith("/") else root + "/", route)
    return url + ("?" + urlencode(extra) if extra else "")


def advertised_root(answer: Download) -> str | None:
    """The API root a WordPress page advertises: its Link header, else its <link>."""
    header = answer.headers.get("link")
    base = answer.final_url or answer.url
    if header:
        for link in requests.utils.parse_header_links(header):
            if API_REL in str(link.get("rel", "")).split() and link.get("url"):
                return urljoin(base, link["url"])
    return linked(answer.body[:HEAD_BYTES], base, API_REL)


def categories_url(root: str, source: WordPressSource) -> str:
    return api_url(root, "wp/v2/categories", {"slug": source.category, "_fields": "id,slug"})


def posts_url(root: str, category_id: int, after: dt.datetime, page: int, *,
              children: bool = True) -> str:
    """The window's posts of the category, with its children's (as its feed has them)
    unless `children` is False."""
    category = ({"categories[terms]": str(category_id), "categories[include_children]": "1"}
                if children else {"categories": str(category_id)})
    return api_url(root, "wp/v2/posts", {
        **category, "after": after.strftime("%Y-%m-%dT%H:%M:%S"),
        "per_page": str(PER_PAGE), "page": str(page), "orderby": "date", "order": "desc",
        "_embed": EMBED, "_fields": FIELDS})


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


def protected(post: dict[str, Any]) -> bool:
    """A password-protected post: the API gives no text without the password."""
    return any(isinstance(post.get(k), dict) and post[k].get("protected") is True
               for k in ("content", "excerpt"))


def post_terms(post: dict[str, Any]) -> tuple[str, ...]:
    """The slugs and names of the post's categories, from the embedded wp:term."""
    embedded = post.get("_embedded")
    groups = embedded.get("wp:term") if isinstance(embedded, dict) else None
    terms: list[str] = []
    for group in groups if isinstance(groups, list) else []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and term.get("taxonomy") == "category":
                terms += [term[k] for k in ("slug", "name") if isinstance(term.get(k), str)]
    return tuple(terms)


def post_entry(post: dict[str, Any]) -> RawEntry:
    """One post of /wp/v2/posts (with _embed) as a RawEntry."""
    published = parse_date(post.get("date_gmt"))  # naive, in UTC by the API's definition
    if published is None:
        published = parse_date(post.get("date"))  # site local time: better than nothing
    media = _embedded(post, "wp:featuredmedia")
    author = _embedded(post, "author")
    image, size = featured_image(media)
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
        images=(image,) if image else (),
        image_sizes=((image, *size),) if image and size else (),
        terms=post_terms(post),
    )


def _size(value: Any) -> tuple[str, int, int] | None:
    """(url, width, height) of a media size, when all three are given."""
    if not isinstance(value, dict):
        return None
    url, width, height = value.get("source_url"), value.get("width"), value.get("height")
    if isinstance(url, str) and isinstance(width, int) and isinstance(height, int) \
            and width > 0 and height > 0:
        return url, width, height
    return None


def featured_image(media: dict[str, Any] | None
                   ) -> tuple[str | None, tuple[int, int] | None]:
    """The featured image's URL and size: of the sizes WordPress made that keep the
    original's shape (not the square-cropped thumbnail), the smallest at least
    IMAGE_WIDTH wide, else the widest; the original only when there is no such size."""
    if media is None:
        return None, None
    original = media.get("source_url") if isinstance(media.get("source_url"), str) else None
    found = media.get("media_details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    width, height = details.get("width"), details.get("height")
    full = (original, width, height) if original and isinstance(width, int) \
        and isinstance(height, int) and width > 0 and height > 0 else None
    listed = details.get("sizes")
    sizes: dict[str, Any] = listed if isinstance(listed, dict) else {}
    candidates = [s for s in (_size(v) for v in sizes.values()) if s is not None]
    if full is not None:
        candidates.append(full)
        ratio = full[2] / full[1]
        candidates = [c for c in candidates if abs(c[2] / c[1] - ratio) <= 0.02 * ratio + 0.01]
    if candidates:
        wide_enough = [c for c in candidates if c[1] >= IMAGE_WIDTH]
        url, w, h = (min(wide_enough, key=lambda c: c[1]) if wide_enough
                     else max(candidates, key=lambda c: c[1]))
        return url, (w, h)
    return original, None


def _category_id(lookup: Download, source: WordPressSource) -> int:
    """The category's id in the API's answer to a lookup by its slug."""
    found = _json(lookup, "categories")
    if not isinstance(found, list) or not found or not isinstance(found[0], dict) \
            or not isinstance(found[0].get("id"), int):
        raise FeedParseError(
            f"{source.site} has no category with the slug {source.category!r}; "
            "check `category` in this source (the slug is the last part of the "
            "category's URL)")
    identifier: int = found[0]["id"]
    return identifier


def _ask_again(result: Download, page: int, *, children: bool,
               looked_up: bool) -> tuple[bool, bool] | None:
    """Whether a refused first page is worth asking again, and how: (keep the root and
    category id, ask for children), or None when the refusal stands."""
    if page != 1:
        return None
    if children and result.http_status == 400:
        return True, False  # before WordPress 6.0: the category alone
    if not looked_up and result.http_status in (400, 404):
        return False, children  # the site moved its API or remade the category
    return None


def read_wordpress(session: requests.Session, state: FeedState, source: WordPressSource,
                   limits: FetchConfig, now: dt.datetime, limiter: HostLimiter,
                   lookback: dt.timedelta, *, children: bool = True) -> Reading:
    """The category's posts dated in the window; the Reading speaks for the source.

    Its children's posts come too, as in the category's feed, so a config that lists a
    parent and not its children loses none of them (each post is filed by its own
    categories later). WordPress before 6.0 refuses that query form with a 400: then
    the category alone is asked, as those versions can answer.
    """

    def get(url: str) -> Download:
        # The source's gone/retry-after state applies to each request; validators and
        # permanent redirects of the API URLs are not the source's to remember.
        ask = replace(state, url=url, etag=None, last_modified=None, moved_to=None)
        return replace(download(session, ask, limits, now, limiter), url=state.url,
                       moved_to=None, etag=None, last_modified=None)

    root, category_id = state.api_root, state.category_id
    looked_up = root is None or category_id is None
    try:
        if root is None:
            home = get(source.site + "/")
            if home.outcome in ("gone", "waiting") or (home.outcome == "error"
                                                       and home.http_status is None):
                return Reading(home, None, home.error)
            root = (advertised_root(home) if home.outcome == "ok" else None) \
                or source.site + "/wp-json/"
        if category_id is None:
            lookup = get(categories_url(root, source))
            if lookup.outcome != "ok":
                return Reading(lookup, None, lookup.error)
            category_id = _category_id(lookup, source)
        since = now - lookback - OVERLAP
        entries: dict[str, RawEntry] = {}
        first: Download | None = None
        page, pages = 1, 1
        while page <= pages:
            result = get(posts_url(root, category_id, since, page, children=children))
            if result.outcome != "ok":
                again = _ask_again(result, page, children=children, looked_up=looked_up)
                if again is not None:
                    keep, children = again
                    known = replace(state, api_root=root if keep else None,
                                    category_id=category_id if keep else None)
                    return read_wordpress(session, known, source, limits, now, limiter,
                                          lookback, children=children)
                return Reading(result, None, result.error, api_root=root,
                               category_id=category_id)
            first = first or result
            posts = _json(result, "posts")
            if not isinstance(posts, list):
                raise FeedParseError("the posts answer is not a list of posts")
            for post in posts:
                if isinstance(post, dict) and not protected(post):
                    entry = post_entry(post)
                    entries.setdefault(entry.id or entry.link or "", entry)  # dedupe by id
            total = result.headers.get("x-wp-totalpages", "")
            pages = max(pages, int(total)) if total.isdigit() else pages
            if not posts:
                break
            page += 1
    except FeedParseError as exc:
        return Reading(Download(state.url, "error"), None, str(exc), api_root=root,
                       category_id=category_id)
    if not entries and not looked_up:
        # Nothing in the window: a quiet day, or a category remade under a new id. One
        # lookup tells, and costs only the sources with nothing to read.
        return read_wordpress(session, replace(state, category_id=None), source, limits,
                              now, limiter, lookback, children=children)
    assert first is not None
    feed_link = f"{source.site}/category/{source.category}/"
    articles = tuple(a for a in (to_article(e, state.url, feed_link, now)
                                 for e in entries.values()) if a is not None)
    return Reading(replace(first, headers={}), ParsedFeed(source.category, feed_link,
                                                          articles, None),
                   None, pages=page - 1 if page > 1 else 1, api_root=root,
                   category_id=category_id)
