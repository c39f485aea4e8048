"""`digest serve`: the output folder and the one-click unsubscribe endpoint, as one WSGI app.

Unsubscribing follows RFC 8058: a POST to the List-Unsubscribe URL (token in
the query, body `List-Unsubscribe=One-Click`, no cookies) unsubscribes and
answers 200 without a redirect. A GET only shows a confirmation page whose
button makes that POST, because mail scanners follow links. A forged or
malformed token gets 400 and changes nothing.

The output folder is served as a feed reader wants it (digest.serve.files:
ETag, Last-Modified, 304, gzip, the feed types). Every answer carries the
security headers of `SECURITY`. The endpoints are a small table of paths
(`DigestApp.routes`); anything else is a file or 404.

Run by waitress (a production WSGI server, pure Python, threads) with the limits
of `[serve]`: loopback by default; in public, behind the site's TLS reverse proxy
(docs/editors.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from digest.app import Digest, TokenAnswer
from digest.config import Config
from digest.errors import DigestError
from digest.render.templates import environment
from digest.serve import manage, signup
from digest.serve.files import Files, accepts_gzip, cache_control
from digest.serve.mailer import Mailer

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
Handler = Callable[[Environ, str, StartResponse], Iterable[bytes]]
MAX_FORM = 16 * 1024  # a one-click POST body is 26 bytes; the confirmation form, a token
MAX_PATH = 2048  # characters of a path at most; longer is no file of ours
MAX_NAME = 255  # bytes of one path segment (a file name) at most

# On every answer. The pages hold no script; their one <style> element is inline (the
# page is a single file, like the email it mirrors), which needs 'unsafe-inline' for
# styles only: CSS cannot run script, and no page holds text a reader typed into it
# unescaped. Article pictures come from the publication's site, hence https: images.
CSP = ("default-src 'none'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # tokens live in query strings
    ("Content-Security-Policy", CSP),
]


def unsubscribe_path(config: Config) -> str:
    """Where the endpoint lives in this app: unsubscribe_url's path below public_url."""
    url = config.email.unsubscribe_url
    if not url:
        return "/unsubscribe"
    if url.startswith(config.public_url):
        return "/" + url[len(config.public_url):].split("?")[0].lstrip("/")
    return urlsplit(url).path or "/unsubscribe"


STATUS = {"invalid": "400 Bad Request"}  # a forged or malformed token; else 200 OK
HEADINGS = {"confirm": "unsubscribe_confirm_title", "done": "unsubscribed_title",
            "not_listed": "unsubscribed_title", "invalid": "unsubscribe_invalid_title"}


def decide(config: Config, method: str, token: str | None) -> TokenAnswer:
    """What the token names; a POST unsubscribes it (through the facade: the one place)."""
    with Digest(config, create=False) as digest:
        return digest.unsubscribe_by_token(token, confirmed=method == "POST")


class DigestApp:
    """The WSGI application: static files from the output folder, plus the endpoints of
    `routes` (today /unsubscribe)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.output.resolve()
        self.unsubscribe = unsubscribe_path(config)
        self.env = environment(config.templates)
        self.files = Files(self.root)
        self.mailer = Mailer(config)  # started by run_server
        self.proxy_told = bool(config.serve.trusted_proxy)  # nothing to tell when it is set
        # The form pages live beside the unsubscribe endpoint (where serve is mounted).
        pages = self.unsubscribe.rstrip("/").rsplit("/", 1)[0] + "/"
        # path (without a trailing slash) -> handler; a new endpoint is one entry here.
        self.routes: dict[str, Handler] = {
            self.unsubscribe.rstrip("/"): self.leave,
            pages + "subscribe": self.form(partial(
                signup.subscribe_page, limit=signup.RateLimit(config.subscribe.rate),
                wake=self.mailer.wake)),
            pages + "confirm": self.form(signup.confirm_page),
            pages + "manage": self.form(manage.manage_page, manage.render),
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def secured(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, *SECURITY], *exc)

        if not self.proxy_told and ("HTTP_X_FORWARDED_FOR" in environ
                                    or "HTTP_FORWARDED" in environ):
            self.proxy_told = True
            self.untrusted_proxy(environ.get("REMOTE_ADDR", ""))
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        text = _path_text(path)
        if text is None:
            return self.plain(secured, "400 Bad Request", "bad path")
        handler = self.routes.get(text.rstrip("/"))
        if handler is not None:
            return handler(environ, method, secured)
        if method not in ("GET", "HEAD"):
            return self.plain(secured, "405 Method Not Allowed", "method not allowed",
                              [("Allow", "GET, HEAD")])
        return self.static(text, method, environ, secured)

    @staticmethod
    def untrusted_proxy(address: str) -> None:
        """Once per run: requests come through a proxy that `[serve] trusted_proxy` does
        not name, so every reader has its address and the form's rate limit (per
        address) would count them all as one client."""
        print(f"digest serve: warning: requests come through a proxy at {address} (they "
              "carry X-Forwarded-For or Forwarded), but [serve] trusted_proxy is not set: "
              "every reader has the proxy's address, so the sign-up form's rate limit "
              "counts them all as one and refuses most sign-ups. Set [serve] "
              f'trusted_proxy = "{address}" (see docs/editors.md)',
              file=sys.stderr, flush=True)

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
        try:
            answer = decide(self.config, method, token)
        except DigestError as exc:  # the state file went away or cannot be read
            print(f"digest serve: {exc}", file=sys.stderr, flush=True)
            return self.plain(start_response, "503 Service Unavailable",
                              "unavailable, try again later", [("Cache-Control", "no-store")])
        with Digest(self.config, create=False) as digest:  # words need no state file
            words = digest.words()
        page = self.env.get_template("unsubscribe.html").render(
            words=words, heading=words(HEADINGS[answer.state], title=self.config.title),
            title=self.config.title, link=self.config.link, language=self.config.language,
            state=answer.state, email=answer.email, token=token or "")
        body = page.encode("utf-8")
        start_response(STATUS.get(answer.state, "200 OK"), [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),  # a form page: never kept by a proxy
            ("X-Robots-Tag", "noindex"),
        ])
        return [body]

    # -- sign-up (digest.serve.signup) ----------------------------------------

    def form(self, page: Callable[..., signup.Page],
             render: Callable[[Config, Any, dict[str, Any]], bytes] = signup.render,
             ) -> Handler:
        """A form page's handler: GET shows it, POST sends it (a small urlencoded body)."""
        def handle(environ: Environ, method: str,
                   start_response: StartResponse) -> Iterable[bytes]:
            if method not in ("GET", "POST"):
                return self.plain(start_response, "405 Method Not Allowed",
                                  "method not allowed", [("Allow", "GET, POST")])
            if method == "POST" and _too_large(environ):
                return self.plain(start_response, "413 Content Too Large",
                                  "request body too large")
            fields = _form(environ) if method == "POST" else {}
            found = signup.answer(self.config, self.env, page, method, fields, environ,
                                  start_response, render)
            if found is None:
                return self.plain(start_response, "503 Service Unavailable",
                                  "unavailable, try again later",
                                  [("Cache-Control", "no-store")])
            return found
        return handle

    # -- static files ---------------------------------------------------------

    def static(self, path: str, method: str, environ: Environ,
               start_response: StartResponse) -> Iterable[bytes]:
        found = self.resolve(path)
        if found is None:
            return self.plain(start_response, "404 Not Found", "not found")
        try:
            version = self.files.version(*found)
        except OSError:  # removed or unreadable since it was found
            return self.plain(start_response, "404 Not Found", "not found")
        packed = version.gzipped is not None and accepts_gzip(
            environ.get("HTTP_ACCEPT_ENCODING"))
        headers = [
            ("ETag", version.gzip_etag() if packed else version.etag),
            ("Last-Modified", version.last_modified),
            ("Cache-Control", cache_control(version.relative)),
        ]
        if version.gzipped is not None:
            headers.append(("Vary", "Accept-Encoding"))
        if version.not_modified(environ.get("HTTP_IF_NONE_MATCH"),
                                environ.get("HTTP_IF_MODIFIED_SINCE")):
            start_response("304 Not Modified", headers)
            return []
        body = version.gzipped if packed else version.body
        size = len(body) if body is not None else version.size
        headers += [("Content-Type", version.content_type), ("Content-Length", str(size))]
        if packed:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        if method == "HEAD":
            return []
        if body is not None:
            return [body]
        handle = version.path.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(handle, 64 * 1024)  # type: ignore[no-any-return]
        return _chunks(handle)

    def resolve(self, path: str) -> tuple[Path, str] | None:
        """The file under the output folder that `path` names and its name relative to
        it, or None (never outside it; nothing a client sends makes this raise)."""
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") or p.startswith(".") or "\\" in p
               or len(p.encode("utf-8", "surrogatepass")) > MAX_NAME for p in parts):
            return None
        try:
            target = self.root.joinpath(*parts)
            if target.is_dir():
                target = target / "index.html"
            real = target.resolve(strict=True)
            if not real.is_relative_to(self.root) or not real.is_file():
                return None
        except (OSError, RuntimeError, ValueError):
            return None
        return real, real.relative_to(self.root).as_posix()

    @staticmethod
    def plain(start_response: StartResponse, status: str, text: str,
              headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = (text + "\n").encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body))), *(headers or [])])
        return [body]


def _path_text(path: str) -> str | None:
    """The request path as text (WSGI hands it over as Latin-1 of the raw bytes), or
    None when no file could be named so: not UTF-8, a NUL or control character, or
    longer than any of ours."""
    if len(path) > MAX_PATH:
        return None
    try:
        text = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    return text


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


def _too_large(environ: Environ) -> bool:
    """A body over MAX_FORM, told by its Content-Length before any of it is read."""
    try:
        return int(environ.get("CONTENT_LENGTH") or 0) > MAX_FORM
    except ValueError:
        return True


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(64 * 1024):
            yield chunk


def server_settings(config: Config) -> dict[str, Any]:
    """waitress's settings from `[serve]`: how many connections, how long a silent one is
    kept, how large a body; the reverse proxy whose forwarded headers are believed."""
    limits = config.serve
    settings: dict[str, Any] = {
        "threads": limits.threads,
        "connection_limit": limits.connection_limit,
        "channel_timeout": limits.channel_timeout,
        "cleanup_interval": max(1, min(30, int(limits.channel_timeout) // 2)),
        "max_request_body_size": limits.max_request_body,
        "ident": "digest",
    }
    if limits.trusted_proxy:
        settings |= {
            "trusted_proxy": limits.trusted_proxy,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto",
                                      "x-forwarded-host"},
            "clear_untrusted_proxy_headers": True,
        }
    else:
        # Left in the request, never believed (nothing reads them but the check that
        # warns of a proxy `trusted_proxy` does not name: see DigestApp).
        settings["clear_untrusted_proxy_headers"] = False
    return settings


def run_server(config: Config, host: str, port: int) -> None:
    """Serve until interrupted (waitress). A DigestError, before listening, when there is
    no state file: serving never makes one (a new one holds a new secret, which would
    void every unsubscribe link already sent)."""
    import waitress

    with Digest(config, create=False) as digest:
        for warning in digest.store_warnings():  # opens it: NotFound when it is missing
            print(f"warning: {warning}", file=sys.stderr, flush=True)
    app = DigestApp(config)
    print(f"serving {config.output} with unsubscribe at {app.unsubscribe} on "
          f"http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    app.mailer.start()
    try:
        waitress.serve(app, host=host, port=port, _quiet=True, **server_settings(config))
    finally:
        app.mailer.stop()
