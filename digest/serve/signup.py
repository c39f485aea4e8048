"""The sign-up pages of `digest serve`: /subscribe (the form) and /confirm (double opt-in).

Every POST of the form gets the same "check your inbox" page whatever the address's
state, so the form tells no one who subscribes; what differs goes by mail. A GET of
/confirm only shows a button (mail scanners follow links); its POST confirms.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from digest.app import Digest, InputError
from digest.config import Config, pages_url
from digest.errors import DigestError

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
Page = tuple[str, dict[str, Any]]  # a status line and the page's values
# No answer to the form's POST leaves sooner than this after the request came in. What
# an address's state costs (a pending row updated, a new one inserted, a refusal
# counted) differs by a millisecond or two, which a patient client can measure; held
# to a floor well above that spread, every state's answer takes the same time. A
# thread waits that long per sign-up, which the per-client rate bounds.
ANSWER_FLOOR = 0.030  # seconds


class RateLimit:
    """At most `per_minute` sign-ups from one client address in any 60 seconds."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self.lock:
            if len(self.seen) > 10000:  # forget clients quiet for a minute
                self.seen = {k: v for k, v in self.seen.items() if v and v[-1] > now - 60}
            times = self.seen.setdefault(client, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            return True


def subscribe_page(config: Config, method: str, fields: dict[str, list[str]],
                   environ: Environ, limit: RateLimit | None = None,
                   wake: Callable[[], None] | None = None) -> Page:
    """GET: the form. POST: sign the address up, answer "check your inbox" (also when
    the client is over the rate: then only a count is stored, and nothing is sent).
    The mail is queued, not sent here: `wake` tells the mailer thread, once the
    answer has been sent."""
    if method == "GET":
        return "200 OK", {"state": "form"}
    came = time.monotonic()
    try:
        return _sign_up(config, fields, environ, limit, wake)
    finally:
        time.sleep(max(0.0, came + ANSWER_FLOOR - time.monotonic()))


def _sign_up(config: Config, fields: dict[str, list[str]], environ: Environ,
             limit: RateLimit | None, wake: Callable[[], None] | None) -> Page:
    over = limit is not None and not limit.allow(environ.get("REMOTE_ADDR", ""))
    try:
        with Digest(config, create=False) as digest:
            if over:
                digest.refuse_sign_up("rate", _first(fields, "email"))
                return "200 OK", {"state": "sent"}
            done = digest.subscribe(_first(fields, "email"), _first(fields, "name"),
                                    fields.get("category", []),
                                    form=form_of(config, environ),
                                    trap=_first(fields, "website"))
    except InputError:
        return "400 Bad Request", {"state": "form", "problem": True}
    if done.refused == "domain":
        print(f"digest serve: sign-up refused: {done.email.rpartition('@')[2]} takes no "
              "mail (no MX, A or AAAA record; [subscribe] check_domain)",
              file=sys.stderr, flush=True)
    if done.queued and wake is not None:  # once the answer is out: it waits for nothing
        return "200 OK", {"state": "sent", "then": wake}
    return "200 OK", {"state": "sent"}


def confirm_page(config: Config, method: str, fields: dict[str, list[str]],
                 environ: Environ) -> Page:
    """GET: what the token names and a button. POST: confirm."""
    token = _first(parse_qs(environ.get("QUERY_STRING", "")), "token") or _first(
        fields, "token")
    with Digest(config, create=False) as digest:
        answer = digest.confirm(token or None, confirmed=method == "POST",
                                ip=environ.get("REMOTE_ADDR", ""))
    status = "200 OK" if answer.state in ("confirm", "done") else "400 Bad Request"
    return status, {"state": answer.state, "email": answer.email, "token": token}


def form_of(config: Config, environ: Environ) -> str:
    """Which form a sign-up came from: the page that sent it when the browser says, else
    our own form."""
    referer = str(environ.get("HTTP_REFERER", ""))[:500]
    return referer or f"{pages_url(config)}subscribe"


HEADINGS = {"form": "subscribe_title", "sent": "check_inbox_title",
            "confirm": "confirm_title", "done": "confirmed_title",
            "expired": "link_expired_title", "invalid": "link_invalid_title"}


def render(config: Config, env: Any, values: dict[str, Any]) -> bytes:
    with Digest(config, create=False) as digest:
        words = digest.words()
    state = values["state"]
    page = env.get_template("signup.html").render(
        words=words, heading=words(HEADINGS[state], title=config.title),
        title=config.title, link=config.link, language=config.language,
        categories=config.categories, days=config.subscribe.confirm_days,
        subscribe=f"{pages_url(config)}subscribe",
        **{"email": "", "token": "", "problem": False, **values})
    return str(page).encode("utf-8")


def answer(config: Config, env: Any, page: Callable[..., Page], method: str,
           fields: dict[str, list[str]], environ: Environ,
           start_response: StartResponse,
           render_page: Callable[[Config, Any, dict[str, Any]], bytes] = render,
           ) -> Iterable[bytes] | None:
    """The page for this request (made by `page`, rendered by `render_page`), or None
    when the state file cannot be read."""
    try:
        status, values = page(config, method, fields, environ)
    except DigestError as exc:  # the state file went away or cannot be read
        print(f"digest serve: {exc}", file=sys.stderr, flush=True)
        return None
    then = values.pop("then", None)
    body = render_page(config, env, values)
    start_response(status, [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),  # a form page: never kept by a proxy
        ("X-Robots-Tag", "noindex"),
    ])
    return [body] if then is None else AfterSent([body], then)


class AfterSent(list[bytes]):
    """An answer's body that calls `then` once the server has sent it (WSGI servers
    call an answer's `close` when done with it)."""

    def __init__(self, body: list[bytes], then: Callable[[], None]) -> None:
        super().__init__(body)
        self.then = then

    def close(self) -> None:
        self.then()


def _first(values: dict[str, list[str]], key: str) -> str:
    found = values.get(key)
    return found[0] if found else ""
