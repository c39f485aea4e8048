"""The manage page of `digest serve`: /manage?token=… (the link in every newsletter).

GET shows the subscriber's categories (their current choice ticked), a pause-until
date and an unsubscribe button; POST saves. Plain forms: no script, no cookies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from digest.app import Digest, ManageChoice
from digest.config import Config, pages_url
from digest.serve.signup import Environ, Page, _first

STATUS = {"invalid": "400 Bad Request", "problem": "400 Bad Request"}
HEADINGS = {"form": "manage_title", "problem": "manage_title", "saved": "manage_saved_title",
            "unsubscribed": "unsubscribed_title", "invalid": "link_invalid_title"}


def manage_page(config: Config, method: str, fields: dict[str, list[str]],
                environ: Environ) -> Page:
    """GET: the subscriber's choice. POST: save it (or unsubscribe)."""
    token = _first(parse_qs(environ.get("QUERY_STRING", "")), "token") or _first(
        fields, "token")
    choice = None
    if method == "POST":
        choice = ManageChoice(tuple(fields.get("category", [])),
                              _first(fields, "pause_until").strip(),
                              _first(fields, "action") == "unsubscribe")
    with Digest(config, create=False) as digest:
        answer = digest.manage(token or None, choice)
        today = digest.today()
    return STATUS.get(answer.state, "200 OK"), {
        "state": answer.state, "email": answer.email, "token": token,
        "chosen": answer.categories, "paused_until": answer.paused_until, "today": today}


def render(config: Config, env: Any, values: dict[str, Any]) -> bytes:
    with Digest(config, create=False) as digest:
        words = digest.words()
    page = env.get_template("manage.html").render(
        words=words, heading=words(HEADINGS[values["state"]], title=config.title),
        title=config.title, link=config.link, language=config.language,
        categories=config.categories,
        subscribe=f"{pages_url(config)}subscribe", **values)
    return str(page).encode("utf-8")
