"""Pure decisions: which of a feed's validators (ETag, Last-Modified) may be trusted.

WordPress answers a feed's conditional GET from the site's latest post date or modified
date (`get_lastpostmodified`), not from the feed: its ETag is the MD5 of that date, in
quotes. A scheduled post that WordPress's cron publishes late (after another post was
published or edited) keeps its modified date and carries a date older than that, so it
leaves the validators as they were: a conditional GET would be answered 304 and the post
never read. A 304 built on these validators can hide a new post, so they are not kept.
"""

from __future__ import annotations

import hashlib


def made_by_wordpress(etag: str | None, last_modified: str | None) -> bool:
    """Whether the validators are WordPress's own: the ETag is the MD5 of the
    Last-Modified date (also when a server made it weak or added a suffix: `W/"…"`,
    `"…-gzip"`)."""
    if not etag or not last_modified:
        return False
    digest = hashlib.md5(last_modified.strip().encode("utf-8", "replace"),
                         usedforsecurity=False).hexdigest()
    return digest in etag.lower()


def trusted_validators(etag: str | None, last_modified: str | None, *,
                       wordpress: bool = False) -> tuple[str | None, str | None]:
    """The validators worth keeping and sending: none when they are WordPress's site-wide
    ones, or when a feed WordPress made (`wordpress`, from its <generator>) gives a
    Last-Modified date without an ETag (WordPress answers that date alone with 304 too)."""
    if made_by_wordpress(etag, last_modified) or (wordpress and not etag):
        return None, None
    return etag, last_modified
