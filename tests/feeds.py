"""Small builders of WordPress-like feed documents for tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from xml.sax.saxutils import escape


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

    @property
    def link(self) -> str:
        return f"https://news.example.org/2026/11/{self.slug or f'story-{self.guid}'}/"


def rss(category: str, items: list[Item]) -> bytes:
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
    for item in items:
        body = item.content if item.content is not None else "<p>" + " ".join(
            ["word"] * item.words) + "</p>"
        parts += [
            "<item>",
            f"<title>{escape(item.title)}</title>",
            f"<link>{item.link}</link>",
            f'<guid isPermaLink="false">https://news.example.org/?p={item.guid}</guid>',
            f"<category><![CDATA[{category}]]></category>",
        ]
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
