"""The edition as an email: HTML (CSS inlined) and text, rendered once per selection.

Personal parts (the recipient's address and unsubscribe link) are left as
placeholders, so each subscriber costs a few string replacements, not a render.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import css_inline
import jinja2

from digest.config import Config
from digest.models import Edition
from digest.render.context import (
    preheader,
    sections_view,
    site_view,
    subject,
    web_url,
    words_for,
)
from digest.render.words import Words

# Placeholders: plain ASCII that no escaping, inlining or encoding step alters.
EMAIL = "@@digest-email@@"
UNSUBSCRIBE_URL = "@@digest-unsubscribe-url@@"
PREHEADER_CHARS = 140  # about what inbox previews show

_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str

    def personalise(self, email: str, unsubscribe_url: str) -> tuple[str, str]:
        """The HTML and text bodies for one recipient."""
        html_body = self.html.replace(EMAIL, html.escape(email)).replace(
            UNSUBSCRIBE_URL, html.escape(unsubscribe_url))
        text_body = self.text.replace(EMAIL, email).replace(UNSUBSCRIBE_URL, unsubscribe_url)
        return html_body, text_body


def email_context(config: Config, edition: Edition, words: Words,
                  title: str) -> dict[str, Any]:
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
        "sections": sections_view(config, edition, words, config.max_per_category),
        "thumbnails": config.thumbnails,
        "web_url": web_url(config, edition),
        "email": EMAIL,
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }


def render_email(config: Config, edition: Edition, env: jinja2.Environment,
                 *, subject_prefix: str = "") -> RenderedEmail:
    words = words_for(config)
    title = subject_prefix + subject(config, edition, words)
    context = email_context(config, edition, words, title)
    html_body = env.get_template("email.html").render(context)
    text_body = env.get_template("email.txt").render(context)
    return RenderedEmail(subject=title, html=_INLINER.inline(html_body), text=text_body)
