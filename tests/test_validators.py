"""Which validators are trusted: not WordPress's site-wide ones (sources/validators.py)."""

from __future__ import annotations

import hashlib

import pytest

from digest.sources.validators import made_by_wordpress, trusted_validators

DATE = "Mon, 30 Nov 2026 21:04:11 GMT"
MD5 = hashlib.md5(DATE.encode()).hexdigest()


@pytest.mark.parametrize("etag", [f'"{MD5}"', f'W/"{MD5}"', f'"{MD5}-gzip"', f'"{MD5.upper()}"'])
def test_wordpress_validators_are_recognised_and_dropped(etag: str) -> None:
    assert made_by_wordpress(etag, DATE)
    assert trusted_validators(etag, DATE) == (None, None)
    assert trusted_validators(etag, DATE, wordpress=True) == (None, None)


@pytest.mark.parametrize(("etag", "modified"), [
    ('"5f1-abc"', DATE),  # a server's own ETag
    (f'"{MD5}"', "Tue, 01 Dec 2026 00:00:00 GMT"),  # not the MD5 of this date
    ('"5f1-abc"', None),
    (None, None),
])
def test_other_validators_are_kept(etag: str | None, modified: str | None) -> None:
    assert not made_by_wordpress(etag, modified)
    assert trusted_validators(etag, modified) == (etag, modified)
    assert trusted_validators(etag, modified, wordpress=True) == (etag, modified)


def test_a_wordpress_feeds_date_alone_is_not_trusted() -> None:
    # WordPress answers If-Modified-Since alone with 304 from the same site-wide date.
    assert trusted_validators(None, DATE, wordpress=True) == (None, None)
    assert trusted_validators(None, DATE) == (None, DATE)  # another server's date
