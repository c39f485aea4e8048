"""Password-protected WordPress posts: listed in feeds, but with a password form for text."""

from __future__ import annotations

import re

from digest.sources.normalise import RawEntry

# WordPress's form posts to wp-login.php?action=postpass; its class names it too.
PASSWORD_FORM = re.compile(r"action=(?:&amp;)?postpass|post-password-form", re.IGNORECASE)
NO_EXCERPT = "There is no excerpt because this is a protected post."


def password_protected(raw: RawEntry) -> bool:
    """Whether a feed entry is a password-protected post: WordPress replaces its text with
    the password form (and its excerpt with a notice), and titles it "Protected: …"
    (translated on other sites, so the text decides, never the title alone)."""
    for text in (raw.content, raw.summary):
        if text and PASSWORD_FORM.search(text):
            return True
    return NO_EXCERPT in raw.summary and not raw.content.strip()
