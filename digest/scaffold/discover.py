"""Finding a site's category feeds for `digest init`.

A WordPress site names its REST API in a `<link rel="https://api.w.org/">`;
`/wp-json/wp/v2/categories` lists the categories with their pages, and a
category's feed is its page + `feed/`. Without the API (disabled, or not
WordPress), the home page's links to `/category/SLUG/` pages and its
`<link rel="alternate">` feeds are used instead.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests

from digest.errors import DiscoveryError
from digest.sources.fetch import user_agent
from digest.sources.wordpress import API_REL, api_url

TIMEOUT = (10.0, 20.0)
MAX_BYTES = 5 * 1024 * 1024
MAX_PAGES = 5  # of 100 categories each: enough for any news site
CATEGORY_PATH = re.compile(r"/category/((?:[^/?#]+/)*[^/?#]+)/?$")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


@dataclass(frozen=True)
class FoundCategory:
    slug: str
    title: str
    url: str  # the category's page
    feed: str
    articles: int | None  # as counted by WordPress, when the API told
    site_slug: str | None = None  # the slug as WordPress knows it (for REST sources)


@dataclass(frozen=True)
class Site:
    url: str
    name: str | None
    description: str | None
    language: str | None
    timezone: str | None
    wordpress: bool
    via: str  # "rest-api", "html" or "none": where the categories came from
    categories: tuple[FoundCategory, ...]
    feeds: tuple[str, ...]  # the site-wide feeds the home page advertises
    notes: tuple[str, ...]  # what did not work, for the editor
    # The REST API answered for posts too: init writes REST sources (full text, featured
    # images, categories, no 10-item limit) instead of category feeds.
    rest: bool = False


class _HomePage(HTMLParser):
    """Collects what discovery needs from a page's links and head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.api_root: str | None = None
        self.alternates: list[tuple[str, str]] = []  # (href, title)
        self.anchors: list[tuple[str, str]] = []  # (href, text)
        self.generator = ""
        self.site_name: str | None = None
        self.title = ""
        self.language: str | None = None
        self._in_title = False
        self._anchor: list[str] | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html" and a.get("lang"):
            self.language = a["lang"]
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            if "https://api.w.org/" in rels and a.get("href"):
                self.api_root = a["href"]
            elif "alternate" in rels and a.get("type", "").lower() in FEED_TYPES and a.get("href"):
                self.alternates.append((a["href"], a.get("title", "")))
        elif tag == "meta":
            if a.get("name", "").lower() == "generator":
                self.generator = a.get("content", "")
            elif a.get("property", "").lower() == "og:site_name":
                self.site_name = a.get("content") or None
        elif tag == "title":
            self._in_title = True
        elif tag == "a" and a.get("href"):
            self._anchor = []
            self._href = a["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._anchor is not None:
            self.anchors.append((self._href, " ".join("".join(self._anchor).split())))
            self._anchor = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._anchor is not None:
            self._anchor.append(data)


def _get(session: requests.Session, url: str) -> tuple[requests.Response, bytes]:
    """The response and its body, refusing bodies over MAX_BYTES."""
    with session.get(url, timeout=TIMEOUT, headers={"User-Agent": user_agent()},
                     stream=True) as response:
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_BYTES:
                raise requests.exceptions.ContentDecodingError(
                    f"{url} is larger than {MAX_BYTES} bytes")
        return response, bytes(body)


def _get_json(session: requests.Session, url: str) -> tuple[requests.Response, Any]:
    """The response and its JSON body; ValueError unless it answered 200 with JSON."""
    response, body = _get(session, url)
    if response.status_code != 200:
        raise ValueError(f"{url} answered HTTP {response.status_code}")
    return response, json.loads(body)


# Latin letters that Unicode does not decompose into an ASCII letter and a mark.
LATIN = str.maketrans({"ə": "e", "Ə": "e", "ı": "i", "ø": "o", "Ø": "o", "ß": "ss", "æ": "ae",
                       "Æ": "ae", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "þ": "th", "œ": "oe"})


def safe_slug(raw: str, fallback: str) -> str:
    """A config slug (lowercase ASCII letters, digits, '-') from a WordPress slug."""
    text = unicodedata.normalize("NFKD", unquote(raw).translate(LATIN))
    text = text.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or fallback


def category_feed(page: str) -> str:
    """WordPress serves a category's feed at its page + feed/ (or &feed=rss2 without
    pretty permalinks)."""
    parts = urlsplit(page)
    if parts.query:
        query = [*parse_qsl(parts.query), ("feed", "rss2")]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path + "feed/", "", ""))


def _api_categories(session: requests.Session, api_root: str) -> list[FoundCategory]:
    found = []
    for page in range(1, MAX_PAGES + 1):
        url = api_url(api_root, "wp/v2/categories", {
            "per_page": "100", "page": str(page), "hide_empty": "true",
            "orderby": "count", "order": "desc", "_fields": "id,name,slug,link,count",
        })
        response, items = _get_json(session, url)
        if not isinstance(items, list):
            raise ValueError(f"{url} did not answer a list of categories")
        for item in items:
            if not isinstance(item, dict) or not item.get("link"):
                continue
            slug = safe_slug(str(item.get("slug", "")), f"category-{item.get('id', 0)}")
            if slug == "uncategorized":
                continue  # WordPress's default bucket, never an editorial section
            found.append(FoundCategory(
                slug=slug, title=html.unescape(str(item.get("name") or slug)),
                url=str(item["link"]), feed=category_feed(str(item["link"])),
                articles=int(item["count"]) if isinstance(item.get("count"), int) else None,
                site_slug=str(item.get("slug") or "") or None,
            ))
        pages = response.headers.get("X-WP-TotalPages", "1")
        if not pages.isdigit() or page >= int(pages):
            break
    return found


def _html_categories(page: _HomePage, base: str) -> list[FoundCategory]:
    """Category pages linked from the home page (menus, widgets, post meta), in page order."""
    host = urlsplit(base).netloc
    found: dict[str, FoundCategory] = {}
    for href, text in page.anchors:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.netloc != host:
            continue
        query = dict(parse_qsl(parts.query))
        match = CATEGORY_PATH.search(parts.path)
        if query.keys() == {"cat"} and query["cat"].isdigit() and text:
            # Plain permalinks: the category page is ?cat=ID, its feed ?cat=ID&feed=rss2.
            slug = safe_slug(text, f"category-{query['cat']}")
            page_url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        elif match and "/page/" not in parts.path and not match.group(1).endswith("feed"):
            slug = safe_slug(match.group(1).rsplit("/", 1)[-1], "category")
            page_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        else:
            continue
        if slug in found or slug == "uncategorized":
            continue
        found[slug] = FoundCategory(slug, text or slug.replace("-", " ").title(), page_url,
                                    category_feed(page_url), None)
    return list(found.values())


def _api_site(session: requests.Session, api_root: str) -> dict[str, Any]:
    _response, data = _get_json(session, api_root)
    if not isinstance(data, dict):
        raise ValueError(f"{api_root} is not the WordPress REST API index")
    return data


def _timezone(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _linked_api(response: requests.Response) -> str | None:
    """The API root the `Link: <…>; rel="https://api.w.org/"` header names."""
    for link in requests.utils.parse_header_links(response.headers.get("link", "")):
        if API_REL in str(link.get("rel", "")).split() and link.get("url"):
            return urljoin(response.url, link["url"])
    return None


def _posts_readable(session: requests.Session, api_root: str) -> bool:
    """Whether the API answers for posts (some sites close everything but categories)."""
    try:
        _response, posts = _get_json(session, api_url(api_root, "wp/v2/posts", {
            "per_page": "1", "_fields": "id"}))
    except (requests.exceptions.RequestException, ValueError):
        return False
    return isinstance(posts, list)


def discover(url: str, session: requests.Session | None = None) -> Site:
    """What `url`'s home page and (for WordPress) REST API say about its categories."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DiscoveryError(f"{url!r} is not a site address; give one like "
                             "https://news.example.org/")
    own = session is None
    session = session or requests.Session()
    try:
        try:
            response, body = _get(session, url.strip())
        except requests.exceptions.RequestException as exc:
            raise DiscoveryError(f"cannot read {url}: {exc}. Check the address and the "
                                 "network, or run `digest init --no-input` and fill in "
                                 "the feeds by hand") from None
        if response.status_code >= 400:
            raise DiscoveryError(f"{url} answered HTTP {response.status_code}; check the "
                                 "address, or run `digest init --no-input` and fill in "
                                 "the feeds by hand")
        base = response.url or url
        page = _HomePage()
        # Nearly every site is UTF-8; a wrong guess costs accents in titles, never links.
        page.feed(body.decode("utf-8", errors="replace"))
        notes: list[str] = []
        wordpress = bool(page.api_root) or page.generator.lower().startswith("wordpress")
        name = page.site_name or (html.unescape(page.title).strip() or None)
        description = None
        timezone = None
        categories: list[FoundCategory] = []
        via = "none"
        advertised = _linked_api(response) or page.api_root
        wordpress = wordpress or advertised is not None
        api_root = advertised or (urljoin(base, "/wp-json/") if wordpress else None)
        rest = False
        if api_root:
            try:
                index = _api_site(session, api_root)
                name = str(index.get("name") or "") or name
                description = str(index.get("description") or "") or None
                timezone = _timezone(str(index.get("timezone_string") or ""))
                categories = _api_categories(session, api_root)
                via = "rest-api"
                wordpress = True
                rest = _posts_readable(session, api_root)
                if not rest:
                    notes.append(f"the WordPress REST API at {api_root} lists categories "
                                 "but not posts; category feeds are used")
            except (requests.exceptions.RequestException, ValueError) as exc:
                notes.append(f"the WordPress REST API at {api_root} could not be used "
                             f"({exc}); categories were taken from the home page's links")
        if not categories:
            categories = _html_categories(page, base)
            via = "html" if categories else "none"
        feeds = tuple(dict.fromkeys(urljoin(base, href) for href, title in page.alternates
                                    if "comments" not in (title + href).lower()))
        language = page.language.split("-")[0].lower() if page.language else None
        return Site(url=base, name=name, description=description, language=language,
                    timezone=timezone, wordpress=wordpress, via=via,
                    categories=tuple(categories), feeds=feeds, notes=tuple(notes),
                    rest=rest)
    finally:
        if own:
            session.close()
