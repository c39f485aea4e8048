"""Article pictures keep their size from the source, so the email can show a thumbnail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.sources.normalise import is_tracking_image
from digest.sources.parse import parse_feed
from digest.store import Store

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T</title><link>https://news.example.org/</link><description>d</description>
<item><title>With media</title><link>https://news.example.org/a/</link><guid>a</guid>
  <media:content url="https://news.example.org/a.jpg" medium="image" width="1200" height="675"/>
  <description>Short.</description></item>
<item><title>With an img</title><link>https://news.example.org/b/</link><guid>b</guid>
  <content:encoded><![CDATA[<p>Text</p><img src="/up/b.png" alt="" width="800" height="800">]]>
  </content:encoded></item>
<item><title>Size unknown</title><link>https://news.example.org/c/</link><guid>c</guid>
  <content:encoded><![CDATA[<p>Text</p><img src="https://news.example.org/c.jpg">]]>
  </content:encoded></item>
</channel></rss>
"""


def test_sizes_come_from_media_content_or_the_articles_own_img():
    feed = parse_feed(FEED.encode(), "https://news.example.org/feed/", now=NOW)
    found = {a.title: (a.image, a.image_size) for a in feed.articles}
    assert found == {
        "With media": ("https://news.example.org/a.jpg", (1200, 675)),
        "With an img": ("https://news.example.org/up/b.png", (800, 800)),
        "Size unknown": ("https://news.example.org/c.jpg", None),
    }


def test_the_store_keeps_the_size(tmp_path: Path):
    feed = parse_feed(FEED.encode(), "https://news.example.org/feed/", now=NOW)
    with Store(tmp_path / "s.sqlite3") as store:
        store.add_articles(feed.articles, "news", NOW)
        stored = store.candidate_articles(NOW - dt.timedelta(days=1), NOW, "2026-11-25")
    assert {a.title: a.image_size for a in stored} == {
        "With media": (1200, 675), "With an img": (800, 800), "Size unknown": None}


@pytest.mark.parametrize(("url", "tracking"), [
    ("https://pixel.wp.com/g.gif?v=ext&blog=1", True),
    ("https://i0.stats.wordpress.com/b.gif?v=1", True),
    ("https://feeds.feedburner.com/~r/azenews/~4/abc", True),
    ("https://tracker.example.net/pixel.gif?c=1", True),
    ("https://news.example.org/wp/1x1.png", True),
    ("https://www.facebook.com/tr?id=1&ev=PageView", True),
    ("https://ad.doubleclick.net/ddm/ad/x.jpg", True),
    ("https://news.example.org/wp-content/uploads/2026/11/photo.jpg", False),
    ("https://news.example.org/t.jpg", False),
    ("https://notstats.wordpress.com/2026/11/pixel-art.jpg", False),
    ("https://news.example.org/track/finish-line.jpg", False),
])
def test_known_tracking_images_are_recognised(url: str, tracking: bool):
    assert is_tracking_image(url) is tracking
