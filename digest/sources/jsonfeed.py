"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> RawEntries.

feedparser 6 does not read JSON Feed, so this reads it by the spec: items
with `id`, `url`, `title`, `content_html`/`content_text`, `summary`, `image`,
`date_published`/`date_modified`, `author` (1.0) or `authors` (1.1), and
image `attachments`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from digest.errors import FeedParseError
from digest.sources.normalise import RawEntry, parse_date, text_as_html

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"  # then 1 or 1.1


@dataclass(frozen=True)
class JsonFeed:
    title: str
    link: str | None
    entries: tuple[RawEntry, ...]


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] == "{"


def _string(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are strings by the spec, numbers in practice
    return None


def _author(item: dict[str, Any], feed: dict[str, Any]) -> str | None:
    people: list[Any] = []
    for source in (item, feed):
        authors = source.get("authors")
        if isinstance(authors, list) and authors:
            people = authors
        elif isinstance(source.get("author"), dict):
            people = [source["author"]]
        if people:
            break
    names = [p["name"] for p in people if isinstance(p, dict) and _string(p.get("name"))]
    return ", ".join(names) or None


def _images(item: dict[str, Any]) -> tuple[str, ...]:
    found = [item[k] for k in ("image", "banner_image") if _string(item.get(k))]
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        for a in attachments:
            if (isinstance(a, dict) and str(a.get("mime_type", "")).startswith("image/")
                    and _string(a.get("url"))):
                found.append(a["url"])
    return tuple(found)


def read_json_feed(text: str) -> JsonFeed:
    """Read a JSON Feed document; raise FeedParseError if it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise FeedParseError("JSON, but not a JSON Feed (the top level is not an object)")
    version = data.get("version")
    items = data.get("items")
    if not (isinstance(version, str) and version.startswith(JSON_FEED_VERSION_PREFIX)):
        raise FeedParseError("JSON, but not a JSON Feed (no \"version\": "
                             f"\"{JSON_FEED_VERSION_PREFIX}1.1\")")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed without an \"items\" list")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        content = _string(item.get("content_html")) or ""
        if not content and _string(item.get("content_text")):
            content = text_as_html(item["content_text"])
        summary = _string(item.get("summary")) or ""
        entries.append(RawEntry(
            id=_string(item.get("id")),
            link=_string(item.get("url")) or _string(item.get("external_url")),
            title=_string(item.get("title")) or "",
            title_html=False,  # plain text by the spec
            # The spec's summary is plain text.
            summary=text_as_html(summary) if summary else "",
            content=content,
            author=_author(item, data),
            published=parse_date(item.get("date_published") or item.get("date_modified")),
            images=_images(item),
        ))
    return JsonFeed(
        title=_string(data.get("title")) or "",
        link=_string(data.get("home_page_url")),
        entries=tuple(entries),
    )
