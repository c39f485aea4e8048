"""An OPML subscription list of every feed the digest publishes, to subscribe to all at once."""

from __future__ import annotations

import jinja2

from digest.config import Config
from digest.render.catalogue import digest_feed, published_feeds
from digest.render.syndication import published_text

OPML_PATH = "feeds.opml"


def render_opml(config: Config, env: jinja2.Environment) -> str:
    """feeds.opml: the digest and each category, once each, as RSS (absolute URLs).

    Each feed is listed once, in RSS: listing its Atom and JSON twins too would
    subscribe a reader to the same entries three times. No dates: the list
    changes only when the config does.
    """
    feeds = published_feeds(config)
    return env.get_template("opml.xml").render(
        title=published_text(config.title),
        owner=published_text(config.title),
        digest=digest_feed(config),
        categories=feeds[1:],
        text=published_text,
    )
