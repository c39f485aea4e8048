"""`digest serve` as a feed reader's web front, over real HTTP on loopback: types,
validators and 304, gzip, security headers, limits, bad paths, and the state file."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from newsroom import SAMPLE_DATE, run, sample_config
from support.servers import free_port, wait_listening

from digest.config import Config, load_config


@dataclass(frozen=True)
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(base: str, target: str, method: str = "GET", **headers: str) -> Raw:
    """One request with the headers given (Accept-Encoding only when asked)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        return Raw(response.status, {k.lower(): v for k, v in response.getheaders()},
                   response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Config:
    tmp_path = tmp_path_factory.mktemp("web")
    config = sample_config(tmp_path, 25)
    run(config, "fetch")
    run(config, "build", "--date", SAMPLE_DATE)
    (tmp_path / "public" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4000))
    return load_config(config)


@contextmanager
def digest_serve(config: Config | Path, *extra: str) -> Iterator[tuple[str, list[str]]]:
    """`digest serve` in its own process; yields its base URL and, once it has
    stopped, its stderr lines (in the list)."""
    path = config if isinstance(config, Path) else config.path
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(path), "serve", "--port", str(port),
         *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    log: list[str] = []
    try:
        if not wait_listening(port, process):
            assert process.poll() is None, process.communicate()
            raise AssertionError("digest serve did not start")
        yield base, log
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
        log.extend(err.decode("utf-8", "replace").splitlines())


@pytest.fixture(scope="module")
def served(published: Config) -> Iterator[tuple[str, list[str]]]:
    with digest_serve(published) as found:
        yield found


def feeds_of(config: Config) -> list[str]:
    """Every feed the build published, as paths below the site."""
    return sorted("/" + p.relative_to(config.output).as_posix()
                  for p in config.output.rglob("*")
                  if p.name in ("rss.xml", "atom.xml", "feed.json"))


EXPECTED_TYPES = [
    ("/rss.xml", "application/rss+xml; charset=utf-8", "max-age=300"),
    ("/atom.xml", "application/atom+xml; charset=utf-8", "max-age=300"),
    ("/feed.json", "application/feed+json; charset=utf-8", "max-age=300"),
    ("/feeds.opml", "text/x-opml; charset=utf-8", "max-age=300"),
    ("/sitemap.xml", "application/xml; charset=utf-8", "max-age=300"),
    ("/", "text/html; charset=utf-8", "max-age=300"),
    ("/archive.html", "text/html; charset=utf-8", "max-age=300"),
    (f"/editions/{SAMPLE_DATE}.html", "text/html; charset=utf-8", "max-age=86400"),
    ("/logo.png", "image/png", "max-age=3600"),
]


@pytest.mark.parametrize(("path", "kind", "cache"), EXPECTED_TYPES)
def test_each_kind_of_file_has_its_type_and_cache_time(served: tuple[str, list[str]],
                                                       path: str, kind: str, cache: str):
    base, _ = served
    reply = fetch(base, path)
    assert reply.status == 200
    assert reply.headers["content-type"] == kind
    assert reply.headers["cache-control"] == f"public, {cache}"


def test_category_feeds_have_the_feed_types(published: Config, served: tuple[str, list[str]]):
    base, _ = served
    category = [p for p in feeds_of(published) if p.startswith("/categories/")]
    assert len(category) == 3 * len(published.categories)
    for path in category:
        kind = fetch(base, path, "HEAD").headers["content-type"]
        assert kind.split(";")[0] in (
            "application/rss+xml", "application/atom+xml", "application/feed+json"), path


@pytest.mark.parametrize("path", ["/", "/rss.xml", "/missing", "/unsubscribe?token=x",
                                  "/%ff", "/logo.png"])
def test_every_answer_carries_the_security_headers(served: tuple[str, list[str]], path: str):
    base, _ = served
    headers = fetch(base, path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    policy = {d.split()[0]: d.split()[1:] for d in
              headers["content-security-policy"].split(";") if d.strip()}
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'none'"]
    assert "script-src" not in policy  # so no script runs, inline or not
    assert "'unsafe-inline'" in policy["style-src"]  # the pages' one <style> element


def test_the_published_pages_need_nothing_the_policy_refuses(published: Config):
    """No script, no inline event handler, no style attribute, no frame on any page."""
    for page in published.output.rglob("*.html"):
        html = page.read_text(encoding="utf-8").lower()
        for banned in ("<script", " onload=", " onclick=", "<iframe", "javascript:"):
            assert banned not in html, (page, banned)


def test_unsubscribe_page_is_never_stored(served: tuple[str, list[str]]):
    base, _ = served
    assert fetch(base, "/unsubscribe?token=x").headers["cache-control"] == "no-store"


def test_a_feed_is_answered_304_when_the_client_has_it(served: tuple[str, list[str]]):
    base, _ = served
    first = fetch(base, "/rss.xml")
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    again = fetch(base, "/rss.xml", If_None_Match=tag)
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == tag
    assert again.headers["x-content-type-options"] == "nosniff"
    assert fetch(base, "/rss.xml", If_Modified_Since=modified).status == 304
    assert fetch(base, "/rss.xml", If_None_Match='"other"').status == 200
    # If-None-Match decides when both are sent (RFC 9110)
    assert fetch(base, "/rss.xml", If_None_Match='"other"',
                 If_Modified_Since=modified).status == 200
    assert fetch(base, "/rss.xml", If_Modified_Since=formatdate(0, usegmt=True)).status == 200
    assert fetch(base, "/rss.xml", If_Modified_Since="not a date").status == 200


def test_a_changed_file_gets_a_new_tag_and_is_sent_again(tmp_path: Path):
    config = sample_config(tmp_path, 5)
    run(config, "subscribers", "add", "a@example.org")
    page = tmp_path / "public" / "note.html"
    page.parent.mkdir(exist_ok=True)
    page.write_text("<p>one</p>")
    with digest_serve(config) as (base, _):
        first = fetch(base, "/note.html")
        page.write_text("<p>two, longer</p>")
        second = fetch(base, "/note.html", If_None_Match=first.headers["etag"])
    assert second.status == 200 and second.body == b"<p>two, longer</p>"
    assert second.headers["etag"] != first.headers["etag"]


def test_text_is_gzipped_when_the_client_accepts_it(served: tuple[str, list[str]]):
    base, _ = served
    plain = fetch(base, "/rss.xml")
    packed = fetch(base, "/rss.xml", Accept_Encoding="gzip, deflate")
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body) / 2
    assert int(packed.headers["content-length"]) == len(packed.body)
    assert packed.headers["etag"] != plain.headers["etag"]  # a different body
    refused = fetch(base, "/rss.xml", Accept_Encoding="gzip;q=0, identity")
    assert "content-encoding" not in refused.headers and refused.body == plain.body
    # either tag says the client holds this version
    for tag in (plain.headers["etag"], packed.headers["etag"]):
        assert fetch(base, "/rss.xml", Accept_Encoding="gzip", If_None_Match=tag).status == 304


def test_what_is_compressed_already_is_not_gzipped(served: tuple[str, list[str]]):
    base, _ = served
    reply = fetch(base, "/logo.png", Accept_Encoding="gzip")
    assert reply.status == 200 and "content-encoding" not in reply.headers
    assert reply.body.startswith(b"\x89PNG")


def test_head_says_what_get_would_send(served: tuple[str, list[str]]):
    base, _ = served
    for encoding in ("identity", "gzip"):
        got = fetch(base, "/atom.xml", Accept_Encoding=encoding)
        head = fetch(base, "/atom.xml", "HEAD", Accept_Encoding=encoding)
        assert head.status == 200 and head.body == b""
        for name in ("content-length", "content-type", "etag", "last-modified"):
            assert head.headers[name] == got.headers[name]


def test_a_feed_reader_is_told_not_modified_on_its_second_update(
        published: Config, served: tuple[str, list[str]], tmp_path: Path):
    """The `reader` library as the client: every feed comes whole once, then as 304."""
    from reader import make_reader

    base, _ = served
    feeds = [base + p for p in feeds_of(published)]
    assert len(feeds) == 3 * (1 + len(published.categories))
    with make_reader(str(tmp_path / "reader.sqlite")) as client:
        for url in feeds:
            client.add_feed(url)
        first = {r.url: r.value for r in client.update_feeds_iter(scheduled=False)}
        assert all(v is not None and not isinstance(v, Exception) for v in first.values()), \
            first
        assert sum(v.new for v in first.values() if v) > 0  # type: ignore[union-attr]
        second = {r.url: r.value for r in client.update_feeds_iter(scheduled=False)}
    # None: "the server indicated the feed has not changed ... without returning any data"
    assert second == dict.fromkeys(feeds)


BAD_PATHS = [
    "/" + "a" * 300, "/editions/" + "%C3%A9" * 200 + ".html", "/" + "x/" * 1500, "/%ff%fe",
    "/a%00b", "/%00", "/a%0ab", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
    "/a" + "%c0%ae" * 3, "/unsubscribe%00", "/" + "%C3%A9" * 100,
]


def test_a_bad_path_is_400_or_404_and_leaves_no_traceback(published: Config):
    with digest_serve(published) as (base, log):
        for path in BAD_PATHS:
            reply = fetch(base, path)
            assert reply.status in (400, 404), (path, reply)
            assert b"passwd" not in reply.body and b"root:" not in reply.body
        assert fetch(base, "/").status == 200
    assert not any("Traceback" in line or "Error" in line for line in log), log


def test_idle_and_slow_clients_do_not_lock_out_others(published: Config):
    with digest_serve(published) as (base, _):
        held = []
        try:
            for number in range(150):
                conn = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
                if number % 3 == 0:  # a slow client: half a request, never finished
                    conn.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n")
                held.append(conn)
            reply = fetch(base, "/rss.xml")
        finally:
            for conn in held:
                conn.close()
    assert reply.status == 200 and reply.body.startswith(b"<?xml")


def test_the_limits_of_serve_come_from_the_config(tmp_path: Path):
    config = sample_config(tmp_path, 5)
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[serve]\nmax_request_body = 2048\nconnection_limit = 10\n"
                      "trusted_proxy = \"127.0.0.1\"\n", encoding="utf-8")
    run(config, "subscribers", "add", "a@example.org")
    loaded = load_config(config)
    assert loaded.serve.max_request_body == 2048 and loaded.serve.connection_limit == 10
    with digest_serve(config) as (base, _):
        big = fetch(base, "/unsubscribe?token=x", "POST", Content_Length="4096",
                    Content_Type="application/x-www-form-urlencoded")
        assert big.status == 413
        assert fetch(base, "/").status in (200, 404)


def test_serve_refuses_to_start_without_a_state_file(tmp_path: Path):
    config = sample_config(tmp_path, 5)
    state = load_config(config).state
    assert not state.exists()
    out = run(config, "serve", "--port", str(free_port()), code=1)
    assert str(state) in out and "digest fetch" in out
    assert not state.exists()


@pytest.mark.parametrize("command", [
    ("status",), ("editions", "list"), ("editions", "show", SAMPLE_DATE),
    ("subscribers", "list"), ("subscribers", "export"),
])
def test_commands_that_only_read_never_create_a_state_file(tmp_path: Path,
                                                           command: tuple[str, ...]):
    config = sample_config(tmp_path, 5)
    state = load_config(config).state
    out = run(config, *command, code=1)
    assert str(state) in out
    assert not state.exists()


VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
LOOKS = """JSON.stringify({
  paper: getComputedStyle(document.documentElement).getPropertyValue('--paper').trim(),
  sheets: document.styleSheets.length,
  violations: window.__violations || ['the listener did not run'],
})"""


class LoopbackChromium:
    """Chromium loading pages from digest serve on loopback; anything else is refused
    (pictures get a stand-in), so nothing leaves the machine."""

    def __init__(self, binary: str) -> None:
        from chromium import Chromium

        class Loopback(Chromium):
            def _answer(self, message: dict[str, Any], images: bool) -> None:
                params = message["params"]
                if params["request"]["url"].startswith("http://127.0.0.1:"):
                    self._send("Fetch.continueRequest", {"requestId": params["requestId"]},
                               message.get("sessionId"))
                else:
                    super()._answer(message, images)

        self.browser = Loopback(binary)

    def look(self, url: str) -> dict[str, Any]:
        """Load `url`; what its own stylesheet set, and every policy violation."""
        b = self.browser
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        try:
            b.call("Page.enable", session=session)
            b.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=session)
            b.call("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATIONS},
                   session=session)
            b.call("Page.navigate", {"url": url}, session=session)
            b._pump(session, True, until_event="Page.loadEventFired")
            result = b.call("Runtime.evaluate", {"expression": LOOKS, "returnByValue": True},
                            session=session)
            return dict(json.loads(result["result"]["value"]))
        finally:
            b.call("Target.closeTarget", {"targetId": target})


def test_the_published_pages_work_under_the_policy(published: Config,
                                                   served: tuple[str, list[str]]):
    """In a real browser, each page's own <style> applies and nothing is refused."""
    from chromium import chromium_or_skip

    base, _ = served
    browser = LoopbackChromium(chromium_or_skip("the pages are checked in a real browser"))
    try:
        for path in ("/", "/archive.html", f"/editions/{SAMPLE_DATE}.html",
                     "/unsubscribe?token=x"):
            looks = browser.look(base + path)
            assert looks["violations"] == [], (path, looks)
            assert looks["sheets"] >= 1, (path, looks)
            if path != "/unsubscribe?token=x":
                assert looks["paper"] == "#fffdf8", (path, looks)
    finally:
        browser.browser.close()
