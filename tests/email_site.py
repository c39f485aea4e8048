"""A news site for email tests: N categories of long-titled, illustrated articles over HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SLUGS = ("news", "economy", "energy", "climate-and-ecology", "opinion", "culture", "science",
         "sport", "region")

STORY = ("The committee met in Baku on Wednesday to hear ministers, economists and "
         "residents of Gəncə and Şuşa argue over spending on roads, schools, clinics and "
         "water pipes, and agreed to publish every submission before the final vote next "
         "month, when the full chamber will decide how much of the oil fund goes to the "
         "regions and how much stays in reserve for the years ahead. ")


def picture(guid: int) -> str:
    return f"https://news.example.org/wp-content/uploads/2026/11/photo-{guid}.jpg"


def long_item(guid: int, slug: str, index: int, *, title: str | None = None) -> Item:
    """An article as long as WordPress sends them: long title, picture of known size."""
    content = (f'<p><img src="{picture(guid)}" width="1200" height="800" '
               f'alt="A photograph for story {guid}"></p><p>{STORY * 6}</p>')
    return Item(
        guid,
        title or (f"{slug.replace('-', ' ').title()} {index}: regional assembly in Gəncə "
                  f"debates a long, carefully worded amendment on infrastructure spending "
                  f"for the next three years"),
        NOW - dt.timedelta(minutes=10 + 7 * index + guid % 5),
        author="Leyla Məmmədova",
        excerpt="",  # no <description>: the stored summary is the content, picture and all
        content=content,
        slug=f"story-{guid}",
    )


def serve_site(feed_server: FeedServer, categories: int, per_category: int,
               extra: dict[int, Item] | None = None) -> list[tuple[str, str, list[str]]]:
    """Serve the feeds; `extra` replaces the article with that guid. Returns config rows."""
    rows = []
    for c, slug in enumerate(SLUGS[:categories]):
        items = []
        for i in range(per_category):
            guid = 1000 * (c + 1) + i
            items.append((extra or {}).get(guid) or long_item(guid, slug, i))
        path = f"/category/{slug}/feed/"
        feed_server.routes[path] = Route(200, {"Content-Type": "application/rss+xml"},
                                         rss(slug, items))
        rows.append((slug, slug.replace("-", " ").title(), [feed_server.url(path)]))
    return rows


def site_config(folder: Path, feed_server: FeedServer, *, categories: int = 9,
                per_category: int = 12, smtp_port: int = 25, transport: str = "smtp",
                extra: str = "", email_extra: str = "", tail: str = "",
                replace: dict[int, Item] | None = None) -> Path:
    rows = serve_site(feed_server, categories, per_category, replace)
    settings = "\n".join([
        'about = "Aze News is an independent English-language news site from Baku."',
        'contact = "editors@news.example.org"',
        'privacy_url = "https://news.example.org/privacy/"',
        'terms_url = "https://news.example.org/terms/"',
        extra,
    ])
    path = write_config(folder, rows, transport=transport, smtp_port=smtp_port, extra=settings,
                        email_extra=email_extra)
    if tail:
        path.write_text(path.read_text(encoding="utf-8") + "\n" + tail + "\n", encoding="utf-8")
    return path
