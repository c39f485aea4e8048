"""The edition as an email: HTML (CSS inlined) and text, rendered once per selection.

Personal parts (the recipient's address and unsubscribe link) are left as
placeholders, so each subscriber costs a few string replacements, not a render.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import css_inline
import jinja2

from digest.config import Config
from digest.models import Edition
from digest.render.context import preheader, sections_view, site_view, subject, web_url
from digest.render.words import Words

# Placeholders: plain ASCII that no escaping, inlining or encoding step alters.
EMAIL = "@@digest-email@@"
UNSUBSCRIBE_URL = "@@digest-unsubscribe-url@@"

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


def render_email(config: Config, edition: Edition, env: jinja2.Environment,
                 *, subject_prefix: str = "") -> RenderedEmail:
    words = Words(config.language, config.timezone)
    title = subject_prefix + subject(config, edition, words)
    context = {
        "site": site_view(config, words),
        "t": words,
        "subject": title,
        "preheader": preheader(edition),
        "date": words.date(edition.date, "full"),
        "sections": sections_view(config, edition, words, config.max_per_category),
        "web_url": web_url(config, edition),
        "email": EMAIL,
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }
    html_body = env.get_template("email.html").render(context)
    text_body = env.get_template("email.txt").render(context)
    return RenderedEmail(subject=title, html=_INLINER.inline(html_body), text=text_body)
