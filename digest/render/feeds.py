"""The digest as feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1, one entry per edition.

Everything in them comes from the editions themselves (never the clock), so
rebuilding unchanged editions gives byte-identical files.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import jinja2
from feedgen.feed import FeedGenerator

from digest.config import Config
from digest.models import Edition
from digest.render.context import preheader, subject, web_url
from digest.render.site import edition_body
from digest.render.words import Words
from digest.sources.sanitize import xml_safe


def _summary_html(edition: Edition) -> str:
    items = "".join(f"<li>{escape(a.title)}</li>" for s in edition.sections for a in s.articles)
    return f"<ul>{items}</ul>"


def render_feeds(config: Config, editions: list[Edition],
                 env: jinja2.Environment) -> dict[str, bytes]:
    """rss.xml, atom.xml and feed.json for the newest editions (`editions` newest first)."""
    words = Words(config.language, config.timezone)
    recent = editions[: config.feed_editions]
    bodies = {e.date: xml_safe(edition_body(config, e, env)) for e in recent}
    return {
        "rss.xml": _feedgen(config, recent, bodies, words, "rss"),
        "atom.xml": _feedgen(config, recent, bodies, words, "atom"),
        "feed.json": _json_feed(config, recent, bodies, words),
    }


def _feedgen(config: Config, editions: list[Edition], bodies: dict[Any, str], words: Words,
             kind: str) -> bytes:
    fg = FeedGenerator()
    self_url = config.public_url + ("rss.xml" if kind == "rss" else "atom.xml")
    mime = "application/rss+xml" if kind == "rss" else "application/atom+xml"
    fg.id(config.public_url)
    fg.title(xml_safe(config.title))
    fg.subtitle(xml_safe(config.description or config.title))
    # feedgen takes the RSS <link> from the last link added: self first, then alternate.
    fg.link(href=self_url, rel="self", type=mime)
    fg.link(href=config.public_url, rel="alternate", type="text/html")
    fg.language(config.language)
    fg.author(name=xml_safe(config.title), email=None)
    fg.generator("digest", uri="https://github.com/digest-news/digest")
    if editions:
        newest = max(e.created_at for e in editions)
        fg.updated(newest)
        fg.lastBuildDate(newest)
    else:
        fg.updated("1970-01-01T00:00:00+00:00")
        fg.lastBuildDate("1970-01-01T00:00:00+00:00")
    for edition in editions:
        url = web_url(config, edition)
        fe = fg.add_entry(order="append")
        fe.id(url)
        fe.guid(url, permalink=True)
        fe.title(xml_safe(subject(config, edition, words)))
        fe.link(href=url, rel="alternate", type="text/html")
        fe.published(edition.created_at)
        fe.updated(edition.created_at)
        fe.description(xml_safe(_summary_html(edition)))
        fe.content(bodies[edition.date], type="html")
    data: bytes = fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
    return data


def _json_feed(config: Config, editions: list[Edition], bodies: dict[Any, str],
               words: Words) -> bytes:
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.title,
        "home_page_url": config.public_url,
        "feed_url": config.public_url + "feed.json",
        "description": config.description,
        "language": config.language,
        "authors": [{"name": config.title, "url": config.link}],
        "items": [
            {
                "id": web_url(config, e),
                "url": web_url(config, e),
                "title": subject(config, e, words),
                "summary": preheader(e, 500),
                "content_html": bodies[e.date],
                "date_published": e.created_at.isoformat(),
                "date_modified": e.created_at.isoformat(),
                "tags": [s.title for s in e.sections],
            }
            for e in editions
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
