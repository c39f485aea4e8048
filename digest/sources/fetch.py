"""Downloading feeds politely: conditional GET, redirects, limits, retry-after, local files."""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
import urllib3

from digest import __version__
from digest.config import FetchConfig
from digest.models import FeedState, FetchOutcome
from digest.sources.validators import sendable

PROJECT_URL = "https://github.com/digest-news/digest"
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


def user_agent(contact_url: str | None = None) -> str:
    """`digest/VERSION (+URL)`: URL is the digest's public address, where configured."""
    return f"digest/{__version__} (+{contact_url or PROJECT_URL})"


@dataclass(frozen=True)
class Download:
    """What one fetch of one feed came to."""

    url: str  # as configured
    outcome: FetchOutcome
    body: bytes = b""
    final_url: str | None = None  # where the body came from, for relative links
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    validators_until: dt.datetime | None = None  # see sources/validators.py
    moved_to: str | None = None  # set after a 301/308
    retry_after: dt.datetime | None = None
    error: str | None = None
    http_status: int | None = None
    # The answer's headers (names in lower case), for sources that read more than the
    # body: WordPress's X-WP-TotalPages and its API's Link.
    headers: Mapping[str, str] = field(default_factory=dict)


def is_local(location: str) -> bool:
    return urlsplit(location).scheme not in ("http", "https")


def _local_path(location: str) -> Path:
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    return Path(location)


def read_local(location: str, limits: FetchConfig) -> Download:
    path = _local_path(location)
    try:
        with path.open("rb") as f:
            body = f.read(limits.max_bytes + 1)
    except OSError as exc:
        return Download(location, "error", error=f"cannot read the file: {exc.strerror or exc}")
    if len(body) > limits.max_bytes:
        return Download(location, "error",
                        error=f"larger than the {limits.max_bytes} byte limit ([fetch] max_bytes)")
    return Download(location, "ok", body=body, final_url=path.resolve().as_uri())


def _retry_after(value: str | None, now: dt.datetime) -> dt.datetime:
    """When to ask again: the header's seconds or date, else in an hour."""
    if value:
        value = value.strip()
        if value.isdigit():
            return now + dt.timedelta(seconds=min(int(value), 7 * 86400))
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return max(when, now)
        except (TypeError, ValueError):
            pass
    return now + dt.timedelta(hours=1)


class HostLimiter:
    """At most `per_host` requests in flight to any one host."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self.lock = threading.Lock()
        self.semaphores: dict[str, threading.Semaphore] = {}

    def __call__(self, url: str) -> threading.Semaphore:
        host = urlsplit(url).netloc.lower()
        with self.lock:
            if host not in self.semaphores:
                self.semaphores[host] = threading.BoundedSemaphore(self.per_host)
            return self.semaphores[host]


def download(session: requests.Session, state: FeedState, limits: FetchConfig,
             now: dt.datetime, limiter: HostLimiter | None = None) -> Download:
    """Fetch one feed, honouring what the store remembers about it."""
    if is_local(state.url):
        return read_local(state.url, limits)
    if state.gone:
        return Download(state.url, "gone",
                        error="the server said 410 Gone; not fetched any more "
                              f"(`digest fetch --reenable {state.url}` tries it again)")
    if state.retry_after and state.retry_after > now:
        until = f"{state.retry_after:%Y-%m-%d %H:%M} UTC"
        return Download(state.url, "waiting", retry_after=state.retry_after,
                        error=f"the server asked us to wait until {until}")
    start = state.moved_to or state.url
    if limiter is None:
        return _get(session, state, start, limits, now)
    with limiter(start):
        return _get(session, state, start, limits, now)


def _get(session: requests.Session, state: FeedState, start: str, limits: FetchConfig,
         now: dt.datetime) -> Download:
    headers = {
        "User-Agent": user_agent(limits.contact_url),
        "Accept-Encoding": "gzip",
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                  "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
    }
    etag, last_modified = sendable(state.etag, state.last_modified,
                                   state.validators_until, now)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + limits.deadline
    url = start
    moved_to = state.moved_to
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            # No wait may outlast the feed's deadline, whatever read_timeout allows.
            left = max(0.05, deadline - time.monotonic())
            response = session.get(url, headers=headers, allow_redirects=False, stream=True,
                                   timeout=(min(limits.connect_timeout, left),
                                            min(limits.read_timeout, left)))
        except requests.exceptions.ConnectTimeout:
            return _error(state, f"no connection within {limits.connect_timeout:g} s "
                                 "([fetch] connect_timeout)")
        except requests.exceptions.ReadTimeout:
            return _error(state, f"no answer within {limits.read_timeout:g} s "
                                 "([fetch] read_timeout)")
        except requests.exceptions.RequestException as exc:
            return _error(state, f"cannot connect: {_short(exc)}")
        with response:
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                if urlsplit(url).scheme not in ("http", "https"):
                    return _error(state, f"HTTP {status} redirects to {url[:200]!r}, which is "
                                         "not an http(s) URL", status, moved_to)
                if status in (301, 308):
                    moved_to = url
                continue
            if status == 304:
                return Download(state.url, "not_modified", http_status=304, moved_to=moved_to,
                                etag=state.etag, last_modified=state.last_modified)
            if status == 410:
                return Download(state.url, "gone", http_status=410, moved_to=moved_to,
                                error="410 Gone: the feed was removed; it will not be fetched "
                                      "again (`digest fetch --reenable URL` tries it again)")
            if status in (429, 503):
                retry = _retry_after(response.headers.get("retry-after"), now)
                return Download(state.url, "waiting", http_status=status, retry_after=retry,
                                moved_to=moved_to,
                                error=f"HTTP {status}; not asking again before "
                                      f"{retry:%Y-%m-%d %H:%M} UTC")
            if status >= 400 or status < 200:
                return _error(state, f"HTTP {status} {response.reason or ''}".strip(), status,
                              moved_to)
            body, problem = _read_body(response, limits, deadline)
            if problem is not None:
                return _error(state, problem, status, moved_to)
            return Download(
                state.url, "ok", body=body, final_url=url, http_status=status,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                moved_to=moved_to,
                headers={k.lower(): v for k, v in response.headers.items()},
            )
    return _error(state, f"more than {MAX_REDIRECTS} redirects", None, moved_to)


def _read_body(response: requests.Response, limits: FetchConfig,
               deadline: float) -> tuple[bytes, str | None]:
    """The decoded body, or the limit it broke.

    read1 returns as soon as any bytes arrive, so a server dripping one byte at
    a time meets the deadline check after each one (iter_content would wait for
    a full chunk first); urllib3 decompresses at most `amt` bytes per call, so a
    gzip bomb meets the size check before it can fill memory.
    """
    body = bytearray()
    try:
        while True:
            chunk = response.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                return bytes(body), None
            body += chunk
            if len(body) > limits.max_bytes:
                return b"", (f"larger than the {limits.max_bytes} byte limit "
                             "([fetch] max_bytes)")
            if time.monotonic() > deadline:
                return b"", f"took longer than {limits.deadline:g} s ([fetch] deadline)"
    except urllib3.exceptions.ReadTimeoutError:
        return b"", f"no data for {limits.read_timeout:g} s ([fetch] read_timeout)"
    except urllib3.exceptions.DecodeError as exc:
        return b"", f"the compressed body is corrupt: {_short(exc)}"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return b"", f"the download broke off: {_short(exc)}"


def _error(state: FeedState, message: str, status: int | None = None,
           moved_to: str | None = None) -> Download:
    return Download(state.url, "error", error=message, http_status=status, moved_to=moved_to)


def _short(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    return text[:200]
