"""Which validators are sent, and for how long: WordPress's site-wide ones only for a
short while after the read that gave them (sources/validators.py)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from digest.sources.validators import (
    WORDPRESS_TRUST,
    made_by_wordpress,
    sendable,
    trusted_until,
)

DATE = "Mon, 30 Nov 2026 21:04:11 GMT"
MD5 = hashlib.md5(DATE.encode()).hexdigest()
NOW = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("etag", [f'"{MD5}"', f'W/"{MD5}"', f'"{MD5}-gzip"', f'"{MD5.upper()}"'])
def test_wordpress_validators_are_recognised_and_trusted_briefly(etag: str) -> None:
    assert made_by_wordpress(etag, DATE)
    for wordpress in (False, True):
        until = trusted_until(etag, DATE, NOW, wordpress=wordpress)
        assert until == NOW + WORDPRESS_TRUST
        assert sendable(etag, DATE, until, NOW) == (etag, DATE)  # a fetch right after
        assert sendable(etag, DATE, until, until - dt.timedelta(seconds=1)) == (etag, DATE)
        assert sendable(etag, DATE, until, until) == (None, None)  # an hour later: whole
    # Stored by a version that kept them with no end: not sent.
    assert sendable(etag, DATE, None, NOW) == (None, None)


@pytest.mark.parametrize(("etag", "modified"), [
    ('"5f1-abc"', DATE),  # a server's own ETag
    (f'"{MD5}"', "Tue, 01 Dec 2026 00:00:00 GMT"),  # not the MD5 of this date
    ('"5f1-abc"', None),
    (None, None),
])
def test_other_validators_are_trusted_until_the_feed_changes(
        etag: str | None, modified: str | None) -> None:
    assert not made_by_wordpress(etag, modified)
    assert trusted_until(etag, modified, NOW) is None
    assert trusted_until(etag, modified, NOW, wordpress=True) is None
    assert sendable(etag, modified, None, NOW + dt.timedelta(days=30)) == (etag, modified)


def test_a_wordpress_feeds_date_alone_is_trusted_briefly() -> None:
    # WordPress answers If-Modified-Since alone with 304 from the same site-wide date.
    assert trusted_until(None, DATE, NOW, wordpress=True) == NOW + WORDPRESS_TRUST
    assert trusted_until(None, DATE, NOW) is None  # another server's date
