"""Pure decisions: which of a feed's validators (ETag, Last-Modified) may be sent, and for
how long.

WordPress answers a feed's conditional GET from the site's latest post date or modified
date (`get_lastpostmodified`), not from the feed: its ETag is the MD5 of that date, in
quotes. A scheduled post that WordPress's cron publishes late (after another post was
published or edited) keeps its modified date and carries a date older than that, so it
leaves the validators as they were: a conditional GET would be answered 304 and the post
never read. So WordPress's validators are trusted only for a short while after the read
that gave them (`WORDPRESS_TRUST`): two fetches in a row cost one read and a 304, while
a fetch an hour or more later reads the feed whole and sees any post the cron published
meanwhile. A daily run always reads WordPress feeds whole. Other servers' validators
come from the feed itself and are trusted until the feed changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib

# How long after a read WordPress's site-wide validators may still be sent. A post they
# hide is read at the first fetch after this, well inside any edition's window.
WORDPRESS_TRUST = dt.timedelta(hours=1)


def made_by_wordpress(etag: str | None, last_modified: str | None) -> bool:
    """Whether the validators are WordPress's own: the ETag is the MD5 of the
    Last-Modified date (also when a server made it weak or added a suffix: `W/"…"`,
    `"…-gzip"`)."""
    if not etag or not last_modified:
        return False
    digest = hashlib.md5(last_modified.strip().encode("utf-8", "replace"),
                         usedforsecurity=False).hexdigest()
    return digest in etag.lower()


def trusted_until(etag: str | None, last_modified: str | None, now: dt.datetime, *,
                  wordpress: bool = False) -> dt.datetime | None:
    """Until when validators just received may be sent: `WORDPRESS_TRUST` from `now` for
    WordPress's site-wide ones (also a Last-Modified date without an ETag from a feed
    WordPress made (`wordpress`, from its <generator>): WordPress answers that date alone
    with 304 too); None, with no end, for any other server's."""
    if made_by_wordpress(etag, last_modified) or (wordpress and last_modified and not etag):
        return now + WORDPRESS_TRUST
    return None


def sendable(etag: str | None, last_modified: str | None, until: dt.datetime | None,
             now: dt.datetime) -> tuple[str | None, str | None]:
    """The stored validators to send now: none once their trust has run out, and none
    that are WordPress's but were stored without an end (by a version that did not
    know them)."""
    if until is not None:
        return (etag, last_modified) if now < until else (None, None)
    if made_by_wordpress(etag, last_modified):
        return None, None
    return etag, last_modified
