"""Password-protected WordPress posts: listed in feeds, but with a password form for text."""

from __future__ import annotations

from digest.sources.normalise import RawEntry

# WordPress's form posts to wp-login.php?action=postpass and has this class. Plain
# substring tests: a regular expression over every entry's whole text costs a quarter
# of the parsing time.
PASSWORD_FORM = ("action=postpass", "post-password-form")
NO_EXCERPT = "There is no excerpt because this is a protected post."


def password_protected(raw: RawEntry) -> bool:
    """Whether a feed entry is a password-protected post: WordPress replaces its text with
    the password form (and its excerpt with a notice), and titles it "Protected: …"
    (translated on other sites, so the text decides, never the title alone)."""
    for text in (raw.content, raw.summary):
        # "pass" first: one search that nearly every text fails rules out both marks
        # ("post" would not: WordPress ends every excerpt with "The post … appeared").
        if "pass" in text and (PASSWORD_FORM[0] in text or PASSWORD_FORM[1] in text):
            return True
    return NO_EXCERPT in raw.summary and not raw.content.strip()
