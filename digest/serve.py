"""`digest serve`: the output folder and the one-click unsubscribe endpoint, as one WSGI app.

Unsubscribing follows RFC 8058: a POST to the List-Unsubscribe URL (token in
the query, body `List-Unsubscribe=One-Click`, no cookies) unsubscribes and
answers 200 without a redirect. A GET only shows a confirmation page whose
button makes that POST, because mail scanners follow links. A forged or
malformed token gets 400 and changes nothing.

Run by waitress (a production WSGI server, pure Python, threads): loopback
by default; in public, put it behind the site's TLS reverse proxy.
"""

from __future__ import annotations

import mimetypes
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from digest.config import Config
from digest.deliver.tokens import read_token, secret_for
from digest.render.templates import environment
from digest.store import Store

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
MAX_FORM = 16 * 1024  # a one-click POST body is 26 bytes; the confirmation form, a token
TYPES = {".xml": "application/xml", ".json": "application/json", ".rss": "application/rss+xml"}


def unsubscribe_path(config: Config) -> str:
    """Where the endpoint lives in this app: unsubscribe_url's path below public_url."""
    url = config.email.unsubscribe_url
    if not url:
        return "/unsubscribe"
    if url.startswith(config.public_url):
        return "/" + url[len(config.public_url):].split("?")[0].lstrip("/")
    return urlsplit(url).path or "/unsubscribe"


@dataclass(frozen=True)
class Answer:
    """What the unsubscribe endpoint decided: HTTP status and the page's state."""

    status: str
    state: str  # "confirm", "done", "not_listed", "invalid"
    email: str = ""


def decide(config: Config, method: str, token: str | None) -> Answer:
    """Check the token and, for a POST, unsubscribe. The only part that writes."""
    with Store(config.state) as store:
        subscriber_id = read_token(secret_for(store.secret), token) if token else None
        if subscriber_id is None:
            return Answer("400 Bad Request", "invalid")
        subscriber = store.subscriber_by_id(subscriber_id)
        if subscriber is None:
            return Answer("200 OK", "not_listed")
        if method == "GET":
            if subscriber.status == "unsubscribed":
                return Answer("200 OK", "done", subscriber.email)
            return Answer("200 OK", "confirm", subscriber.email)
        if subscriber.status != "unsubscribed":
            store.set_subscriber_status(subscriber.email, "unsubscribed")
        return Answer("200 OK", "done", subscriber.email)


class DigestApp:
    """The WSGI application: static files from the output folder, plus /unsubscribe."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.output.resolve()
        self.unsubscribe = unsubscribe_path(config)
        self.env = environment(config.templates)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.rstrip("/") == self.unsubscribe.rstrip("/"):
            return self.leave(environ, method, start_response)
        if method not in ("GET", "HEAD"):
            return self.plain(start_response, "405 Method Not Allowed", "method not allowed",
                              [("Allow", "GET, HEAD")])
        return self.static(path, method, environ, start_response)

    # -- unsubscribe ----------------------------------------------------------

    def leave(self, environ: Environ, method: str,
              start_response: StartResponse) -> Iterable[bytes]:
        if method not in ("GET", "POST"):
            return self.plain(start_response, "405 Method Not Allowed", "method not allowed",
                              [("Allow", "GET, POST")])
        query = environ.get("QUERY_STRING", "")
        token = _first(parse_qs(query), "token")
        if method == "POST" and token is None:
            token = _first(_form(environ), "token")
        answer = decide(self.config, method, token)
        page = self.env.get_template("unsubscribe.html").render(
            title=self.config.title, link=self.config.link, language=self.config.language,
            state=answer.state, email=answer.email, token=token or "")
        body = page.encode("utf-8")
        start_response(answer.status, [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Robots-Tag", "noindex"),
            ("Referrer-Policy", "no-referrer"),  # the token must not leak to other sites
        ])
        return [body]

    # -- static files ---------------------------------------------------------

    def static(self, path: str, method: str, environ: Environ,
               start_response: StartResponse) -> Iterable[bytes]:
        target = self.resolve(path)
        if target is None:
            return self.plain(start_response, "404 Not Found", "not found")
        kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
        kind = kind or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith(("xml", "json")):
            kind += "; charset=utf-8"
        size = target.stat().st_size
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(size))])
        if method == "HEAD":
            return []
        handle = target.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(handle, 64 * 1024)  # type: ignore[no-any-return]
        return _chunks(handle)

    def resolve(self, path: str) -> Path | None:
        """The file under the output folder that `path` names, or None (never outside it)."""
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real

    @staticmethod
    def plain(start_response: StartResponse, status: str, text: str,
              headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = (text + "\n").encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body))), *(headers or [])])
        return [body]


def _first(values: dict[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _form(environ: Environ) -> dict[str, list[str]]:
    """The urlencoded form fields of a small POST body (the confirmation page's button)."""
    kind = environ.get("CONTENT_TYPE", "")
    if not kind.startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
    except ValueError:
        return {}
    data = environ["wsgi.input"].read(length) if length > 0 else b""
    return parse_qs(data.decode("utf-8", "replace"))


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(64 * 1024):
            yield chunk


def run_server(config: Config, host: str, port: int, *, threads: int = 4) -> None:
    """Serve until interrupted (waitress)."""
    import waitress

    app = DigestApp(config)
    print(f"serving {config.output} with unsubscribe at {app.unsubscribe} on "
          f"http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="digest",
                   _quiet=True)
