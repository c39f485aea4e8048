"""The output folder over HTTP: types, validators (ETag, Last-Modified), gzip, caching.

A file of up to `MAX_HELD` bytes is read once per version (its path, size and
modification time) and held in memory with its gzip form, if it is a text that
gzip makes smaller; its ETag is a hash of its content, so a build that rewrites
a file unchanged costs a feed reader nothing. Larger files are streamed, with an
ETag made of their size and modification time, never gzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

MAX_HELD = 2 * 1024 * 1024  # bytes of a file held in memory (the outputs are far smaller)
MAX_CACHE = 64 * 1024 * 1024  # bytes held in all

# By name first (an .xml file may be a feed, a sitemap or an OPML list), then by suffix.
NAMED = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
    "sitemap.xml": "application/xml",
}
SUFFIXES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css", ".txt": "text/plain",
    ".xml": "application/xml", ".json": "application/json", ".opml": "text/x-opml",
    ".rss": "application/rss+xml", ".atom": "application/atom+xml", ".js": "text/javascript",
    ".svg": "image/svg+xml", ".ico": "image/vnd.microsoft.icon", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".woff2": "font/woff2", ".pdf": "application/pdf",
    ".eml": "message/rfc822",
}
# Types worth gzipping (text); images, fonts and archives are compressed already.
TEXTUAL = ("text/", "application/xml", "application/json", "application/rss+xml",
           "application/atom+xml", "application/feed+json", "image/svg+xml")

# How long a client or proxy may keep a file without asking again.
SHORT = "public, max-age=300"  # feeds, index, archive, sitemap: they change with each build
LONG = "public, max-age=86400"  # an edition's page: written once for its date
OTHER = "public, max-age=3600"


def content_type(name: str) -> str:
    """The Content-Type of a file called `name`, with a charset when it is text."""
    kind = NAMED.get(name) or SUFFIXES.get(Path(name).suffix.lower(), "application/octet-stream")
    return kind + "; charset=utf-8" if kind.startswith(TEXTUAL) else kind


def cache_control(relative: str) -> str:
    """Short for what each build rewrites, long for edition pages."""
    parts = relative.split("/")
    if len(parts) == 2 and parts[0] == "editions" and parts[1].endswith(".html"):
        return LONG
    if parts[-1] in NAMED or parts[-1].endswith((".html", ".opml", ".xml", ".json")):
        return SHORT
    return OTHER


@dataclass(frozen=True)
class Version:
    """One version of a file as it is served."""

    path: Path
    relative: str  # below the output folder, with "/"
    size: int
    mtime_ns: int
    inode: int
    content_type: str
    etag: str  # of the identity body; the gzip body's is etag + "-gzip" inside the quotes
    last_modified: str  # an HTTP date
    body: bytes | None  # None: too large to hold, streamed from the file
    gzipped: bytes | None  # None: not worth it (or not text)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.inode)

    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """Whether the client's copy is this version (RFC 9110 13.1.2 and 13.1.3: a weak
        comparison, If-Modified-Since only without If-None-Match)."""
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or self.etag in tags or self.gzip_etag() in tags
        if if_modified_since is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if since.tzinfo is None:
            return False
        return self.mtime_ns // 1_000_000_000 <= since.timestamp()


class Files:
    """The versions of the output folder's files, read once each and held (bounded)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._held: OrderedDict[Path, Version] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def version(self, path: Path, relative: str) -> Version:
        """The current version of `path` (OSError if it went meanwhile)."""
        st = os.stat(path)
        with self._lock:
            held = self._held.get(path)
            if held is not None and held.key == (st.st_size, st.st_mtime_ns, st.st_ino):
                self._held.move_to_end(path)
                return held
        version = self._read(path, relative, st)
        if version.body is not None:
            self._hold(version)
        return version

    def _read(self, path: Path, relative: str, st: os.stat_result) -> Version:
        kind = content_type(path.name)
        modified = formatdate(st.st_mtime, usegmt=True)
        if st.st_size > MAX_HELD:
            return Version(path, relative, st.st_size, st.st_mtime_ns, st.st_ino, kind,
                           f'"{st.st_mtime_ns:x}-{st.st_size:x}"', modified, None, None)
        body = path.read_bytes()
        after = os.stat(path)
        if (after.st_size, after.st_mtime_ns, after.st_ino) != (
                st.st_size, st.st_mtime_ns, st.st_ino) or len(body) != st.st_size:
            st = after  # replaced while read: describe what was read, hold it a moment only
        packed = None
        if kind.startswith(TEXTUAL) and len(body) > 256:
            packed = gzip.compress(body, compresslevel=6, mtime=0)
            if len(packed) >= len(body):
                packed = None
        tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return Version(path, relative, len(body), st.st_mtime_ns, st.st_ino, kind, tag,
                       formatdate(st.st_mtime, usegmt=True), body, packed)

    def _hold(self, version: Version) -> None:
        size = len(version.body or b"") + len(version.gzipped or b"")
        with self._lock:
            old = self._held.pop(version.path, None)
            if old is not None:
                self._bytes -= len(old.body or b"") + len(old.gzipped or b"")
            self._held[version.path] = version
            self._bytes += size
            while self._bytes > MAX_CACHE and self._held:
                _, gone = self._held.popitem(last=False)
                self._bytes -= len(gone.body or b"") + len(gone.gzipped or b"")


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (q=0 refuses it)."""
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().lower()
            return not (quality.startswith("q=") and _zero(quality[2:]))
    return False


def _zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False
