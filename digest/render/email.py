"""The edition as an email: HTML (CSS inlined) and text, rendered once per selection.

Personal parts (the recipient's address and unsubscribe link) are left as
placeholders, so each subscriber costs a few string replacements, not a render.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import css_inline
import jinja2

from digest.config import Config
from digest.models import Edition
from digest.render.context import (
    SectionView,
    preheader,
    sections_view,
    site_view,
    subject,
    web_url,
    words_for,
)
from digest.render.words import Words
from digest.text import shorten

# Placeholders: plain ASCII that no escaping, inlining or encoding step alters.
EMAIL = "@@digest-email@@"
UNSUBSCRIBE_URL = "@@digest-unsubscribe-url@@"
MANAGE_URL = "@@digest-manage-url@@"
PREHEADER_CHARS = 140  # about what inbox previews show

# Gmail clips a message at about 102 KB of HTML and its "view entire message" drops the
# <style>; EMAIL.md sets 90 KiB. The budget leaves room for the personal parts.
HTML_BUDGET = 88 * 1024
MIN_ARTICLE_BYTES = 100  # an article's least share of the HTML: its title and link


@dataclass(frozen=True)
class Detail:
    """How much of each article an edition shows: excerpt length, and how many articles
    at the top of each section (the leads) get the excerpt and picture (None: all)."""

    excerpt_words: int
    leads: int | None


# From richest to leanest; the first that fits the budget is used. Past the last, fewer
# articles per category are shown and "More in CATEGORY" links to the rest.
DETAILS = (Detail(25, None), Detail(25, 5), Detail(25, 3), Detail(18, 1), Detail(0, 0))

_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str

    def personalise(self, email: str, unsubscribe_url: str,
                    manage_url: str = "") -> tuple[str, str]:
        """The HTML and text bodies for one recipient."""
        html_body = self.html.replace(EMAIL, html.escape(email)).replace(
            UNSUBSCRIBE_URL, html.escape(unsubscribe_url)).replace(
            MANAGE_URL, html.escape(manage_url))
        text_body = self.text.replace(EMAIL, email).replace(
            UNSUBSCRIBE_URL, unsubscribe_url).replace(MANAGE_URL, manage_url)
        return html_body, text_body


def with_detail(sections: tuple[SectionView, ...], detail: Detail) -> tuple[SectionView, ...]:
    shown = []
    for section in sections:
        articles = tuple(
            replace(a, short_excerpt=shorten(a.excerpt, detail.excerpt_words))
            if detail.leads is None or i < detail.leads
            else replace(a, short_excerpt="", thumbnail=None)
            for i, a in enumerate(section.articles))
        shown.append(replace(section, articles=articles))
    return tuple(shown)


def email_context(config: Config, edition: Edition, words: Words, title: str,
                  detail: Detail = DETAILS[0], cap: int | None = None) -> dict[str, Any]:
    """What email.html and email.txt get (docs/email.md lists it for template authors)."""
    count = words("edition_count", n=edition.article_count)
    titles = preheader(edition, PREHEADER_CHARS - len(count) - 2)
    rtl = words.locale.character_order == "right-to-left"
    return {
        "site": site_view(config, words),
        "site_host": urlsplit(config.link).netloc or config.link,
        "t": words,
        "lang": str(words.locale).replace("_", "-"),  # BCP 47: "az", "ru", "pt-BR"
        "dir": "rtl" if rtl else "ltr",
        "subject": title,
        "count": count,
        # Repeats visible text (the count and the first titles) for the inbox preview line.
        "preheader": f"{count}: {titles}",
        "date": words.date(edition.date, "full"),
        "sections": with_detail(
            sections_view(config, edition, words, cap or config.max_per_category), detail),
        "thumbnails": config.thumbnails,
        "web_url": web_url(config, edition),
        "email": EMAIL,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        # the manage page lives in `digest serve`, there when its unsubscribe endpoint is
        "manage_url": MANAGE_URL if config.email.unsubscribe_url else "",
    }


def render_email(config: Config, edition: Edition, env: jinja2.Environment,
                 *, subject_prefix: str = "") -> RenderedEmail:
    words = words_for(config)
    title = subject_prefix + subject(config, edition, words)

    def attempt(cap: int, detail: Detail) -> tuple[dict[str, Any], str]:
        context = email_context(config, edition, words, title, detail, cap)
        return context, _with_charset_first(
            _INLINER.inline(env.get_template("email.html").render(context)))

    def fits(body: str) -> bool:
        return len(body.encode("utf-8")) <= HTML_BUDGET

    # The email shows at most what fits the budget (the archive keeps every article):
    # no article takes under MIN_ARTICLE_BYTES, so no more than that many are tried.
    largest = max((len(s.articles) for s in edition.sections), default=1)
    cap = max(1, min(config.max_per_category, largest, HTML_BUDGET // MIN_ARTICLE_BYTES))
    for detail in DETAILS:  # the richest detail that fits
        context, html_body = attempt(cap, detail)
        if fits(html_body):
            break
    if not fits(html_body) and cap > 1:
        # The most articles per category that fit the leanest detail: bisection (each
        # try renders the whole email), not one try per article.
        low, high = 1, cap - 1
        while low < high:
            middle = (low + high + 1) // 2
            if fits(attempt(middle, DETAILS[-1])[1]):
                low = middle
            else:
                high = middle - 1
        for detail in DETAILS:  # the richest detail that fits at that cap
            context, html_body = attempt(low, detail)
            if fits(html_body):
                break
    text_body = env.get_template("email.txt").render(context)
    return RenderedEmail(subject=title, html=html_body, text=text_body)


_CHARSET = re.compile(r"<meta\s+charset=[\"']?[\w-]+[\"']?\s*/?>", re.IGNORECASE)


def _with_charset_first(document: str) -> str:
    """The <meta charset> as the head's first element: browsers look for it in the first
    1024 bytes (HTML §4.2.5.5), and the <style> the inliner keeps may come before it."""
    found = _CHARSET.search(document)
    head = re.search(r"<head[^>]*>", document, re.IGNORECASE)
    if found is None or head is None or found.start() < head.end():
        return document
    tag = found.group(0)
    without = document[:found.start()] + document[found.end():]
    return without[:head.end()] + tag + without[head.end():]
