"""Small builders of WordPress-like feed documents for tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
from dataclasses import dataclass
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from support.servers import FeedServer, Route


@dataclass(frozen=True)
class Item:
    guid: int
    title: str
    published: dt.datetime | None
    author: str | None = "Leyla Mammadova"
    words: int = 600
    excerpt: str = "A short excerpt of the story […]"
    slug: str | None = None
    content: str | None = None
    categories: tuple[str, ...] | None = None  # the <category> names; None: the feed's

    @property
    def link(self) -> str:
        return f"https://news.example.org/2026/11/{self.slug or f'story-{self.guid}'}/"


def rss(category: str, items: list[Item], *, generator: str | None = None,
        next_url: str | None = None) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{escape(category.title())} – Aze News</title>",
        "<link>https://news.example.org/</link>",
        "<description>News from Baku</description>",
    ]
    if generator:
        parts.append(f"<generator>{escape(generator)}</generator>")
    if next_url:
        parts.append(f'<atom:link rel="next" href="{escape(next_url)}"/>')
    for item in items:
        body = item.content if item.content is not None else "<p>" + " ".join(
            ["word"] * item.words) + "</p>"
        parts += [
            "<item>",
            f"<title>{escape(item.title)}</title>",
            f"<link>{item.link}</link>",
            f'<guid isPermaLink="false">https://news.example.org/?p={item.guid}</guid>',
        ]
        parts += [f"<category><![CDATA[{name}]]></category>"
                  for name in (item.categories if item.categories is not None else (category,))]
        if item.author:
            parts.append(f"<dc:creator><![CDATA[{item.author}]]></dc:creator>")
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        parts += [
            f"<description><![CDATA[{item.excerpt}]]></description>",
            f"<content:encoded><![CDATA[{body}]]></content:encoded>",
            "</item>",
        ]
    parts += ["</channel>", "</rss>"]
    return "\n".join(parts).encode("utf-8")


WORDPRESS = "https://wordpress.org/?v=6.4.2"


class CategoryFeeds:
    """Category feeds served like WordPress: the newest `per_feed` posts of a category and
    its children, older ones at `?paged=N` (404 past the last page), an ETag answered
    with 304. `pageable=False` serves a feed that ignores `paged` and names no generator."""

    def __init__(self, server: FeedServer, posts: list[Item], categories: dict[str, str],
                 *, parents: dict[str, str] | None = None, per_feed: int = 10,
                 pageable: bool = True) -> None:
        self.server = server
        self.posts = posts
        self.categories = categories  # slug -> name
        self.parents = parents or {}  # child slug -> parent slug
        self.per_feed = per_feed
        self.pageable = pageable
        for slug in categories:
            server.routes[self.path(slug)] = Route(handler=self.answer)

    @staticmethod
    def path(slug: str) -> str:
        return f"/category/{slug}/feed/"

    def url(self, slug: str) -> str:
        return self.server.url(self.path(slug))

    def _in(self, item: Item, slug: str) -> bool:
        names = {self.categories.get(s, s): s for s in self.categories}
        for name in item.categories or ():
            own = names.get(name)
            while own is not None:
                if own == slug:
                    return True
                own = self.parents.get(own)
        return False

    def answer(self, request: http.server.BaseHTTPRequestHandler) -> Route:
        parts = urlsplit(request.path)
        slug = parts.path.split("/")[2]
        query = parse_qs(parts.query)
        page = int(query["paged"][0]) if self.pageable and "paged" in query else 1
        items = sorted((p for p in self.posts if self._in(p, slug)),
                       key=lambda p: p.published or dt.datetime.min.replace(tzinfo=dt.UTC),
                       reverse=True)
        chunk = items[(page - 1) * self.per_feed: page * self.per_feed]
        if page > 1 and not chunk:
            return Route(404, {"Content-Type": "text/html"}, b"<html>Not found</html>")
        body = rss(self.categories[slug], chunk,
                   generator=WORDPRESS if self.pageable else None)
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return Route(304, {"ETag": etag})
        return Route(200, {"Content-Type": "application/rss+xml; charset=UTF-8",
                           "ETag": etag}, body)
