"""Plain text and safe HTML from untrusted input: the one sanitiser (nh3 with an
allow-list), one-line text, plain text of HTML. Used by sources, render, deliver and the
subscriber lists alike, so it sits below all of them."""

from __future__ import annotations

import functools
import html
import re
import threading
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl",
    "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    # No `cite`: nh3 checks the schemes of href and src only, and a citation's URL is
    # not worth an attribute filter called for every attribute of every article.
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
# Elements whose text is dropped along with them (nh3 keeps the text of other removed tags).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript",
                               "svg", "math", "template", "form", "select", "textarea"})

# Characters XML 1.0 forbids: C0 controls but tab, LF, CR; U+FFFE/U+FFFF; lone surrogates.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# The same C0 controls as bytes: removed from a feed before it is parsed.
C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# U+FFFE, U+FFFF and surrogates as UTF-8 ("surrogatepass"): EF BF BE/BF, ED A0-BF.
FORBIDDEN_SEQUENCES = re.compile(rb"\xef\xbf[\xbe\xbf]|\xed[\xa0-\xbf]")


def xml_safe(text: str) -> str:
    """Remove the characters XML 1.0 cannot carry (feedgen raises on them)."""
    if text.isprintable():
        # No control character, surrogate or noncharacter (U+FFFE/U+FFFF are
        # unassigned): nothing to remove, found in one pass that stops at the first
        # line break or tab, when the check below is needed.
        return text
    # The common case, nothing to remove, is checked on the UTF-8 bytes: encode,
    # translate and `in` run at memory speed; a regex alternation (surrogates, which
    # start with ED, as do Hangul syllables) only when that byte is there at all.
    data = text.encode("utf-8", "surrogatepass")
    if len(data.translate(None, C0_BYTES)) == len(data) and (
            (b"\xef" not in data and b"\xed" not in data)  # lead bytes, found by memchr
            or FORBIDDEN_SEQUENCES.search(data) is None):
        return text
    return XML_FORBIDDEN.sub("", text)


# An absolute http(s) URL with a host and nothing odd in it: returned as it is.
PLAIN_ABSOLUTE = re.compile(r"https?://[^\s/?#@\\]+(?:[/?#][^\s\\]*)?", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """scheme://host of an http(s) base URL, for root-relative links."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def absolute_url(value: str, base: str | None) -> str | None:
    """`value` made absolute against `base`; None unless it is http(s) or mailto."""
    value = xml_safe(value).strip()
    if not value:
        return None
    # The two common cases without urllib's general machinery (several times slower).
    if PLAIN_ABSOLUTE.fullmatch(value):
        return value
    if base and value[0] == "/" and value[1:2] not in ("/", "\\") and "\\" not in value \
            and PLAIN_ABSOLUTE.fullmatch("http://h" + value):
        origin = _origin(base)
        if origin is not None:
            return origin + value
    try:
        url = urljoin(base, value) if base else value
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ALLOWED_SCHEMES:
        return None
    if scheme != "mailto" and not urlsplit(url).netloc:
        return None
    return url


class _Base(threading.local):
    url: str | None = None


# The article the HTML being cleaned belongs to, for the relative-URL callback: nh3
# calls back only for relative URLs, so one prebuilt Cleaner serves every article.
_base = _Base()


def _relative(url: str) -> str | None:
    return absolute_url(url, _base.url)


# Built once: building the allow-list costs more than cleaning a typical fragment.
_HTML = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=set(ALLOWED_SCHEMES),  # absolute URLs: these schemes only
    url_relative=_relative,  # relative ones: made absolute against the article
    link_rel="noopener noreferrer",
    strip_comments=True,
)
# What we publish in feeds may also hold our own edition markup: layout elements and
# presentational attributes; scripts, styles, handlers and forms still stay out.
PUBLISHED_TAGS = ALLOWED_TAGS | {"div", "span", "section", "article", "header", "h1"}
PUBLISHED_ATTRIBUTES: dict[str, set[str]] = {**ALLOWED_ATTRIBUTES, "*": {"class", "dir", "lang"}}
_PUBLISHED = nh3.Cleaner(
    tags=set(PUBLISHED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes=PUBLISHED_ATTRIBUTES,
    url_schemes=set(ALLOWED_SCHEMES),
    url_relative=lambda url: absolute_url(url, None),  # no base: relative URLs are dropped
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def clean_published(fragment: str) -> str:
    """HTML for a published feed: the feed allow-list plus our own layout markup,
    absolute URLs only, nothing executable."""
    return xml_safe(_PUBLISHED.clean(xml_safe(fragment))).strip()


# Elements that separate words: kept (bare) by plain_text so their text does not run
# together ("<p>one</p><p>two</p>" is "one two", not "onetwo").
BLOCK_TAGS = frozenset({"address", "article", "aside", "blockquote", "br", "caption", "dd",
                        "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3",
                        "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
                        "table", "td", "th", "tr", "ul"})
BLOCK_TAG = re.compile(r"</?(?:" + "|".join(sorted(BLOCK_TAGS, key=len, reverse=True))
                       + r")\b[^>]*>")
_TEXT = nh3.Cleaner(tags=set(BLOCK_TAGS), clean_content_tags=set(DROP_WITH_CONTENT),
                    attributes={}, link_rel=None)


# html5ever, nh3's parser, walks the stack of open elements for many start tags (the
# HTML5 "in scope" checks), so its time grows with depth × tags: 32,000 nested <div>
# (160 KB) take 2 s, a hostile 10 MiB feed would take hours. Markup over this budget
# is kept as its text alone. Elements that close themselves (void ones) or are closed
# by the next of their kind (p, li, td…) do not deepen the stack.
DEPTH_BUDGET = 50_000_000
SHALLOW = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                     "meta", "param", "source", "track", "wbr", "p", "li", "dd", "dt", "td",
                     "th", "tr", "option", "optgroup", "rb", "rt", "rp", "thead", "tbody",
                     "tfoot", "colgroup", "caption"})
TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
ANY_TAG = re.compile(r"<[^>]*>")


def too_deep(fragment: str) -> bool:
    """Whether parsing the fragment as HTML would cost more than DEPTH_BUDGET steps
    (depth of open elements × tags); counted only for fragments with enough tags."""
    tags = fragment.count("<")
    if tags * tags <= DEPTH_BUDGET:
        return False
    depth = 0
    for found in TAG_NAME.finditer(fragment):
        if found.group(1):
            depth = max(0, depth - 1)
        elif found.group(2).lower() not in SHALLOW:
            depth += 1
            if depth * tags > DEPTH_BUDGET:
                return True
    return False


def text_only(fragment: str) -> str:
    """The text of markup too deep to parse: tags removed, references decoded, one
    line (linear time, no HTML parser)."""
    end = tags_end(fragment)
    return one_line(html.unescape(ANY_TAG.sub(" ", fragment[:end]) + fragment[end:]))


def clean_html(fragment: str, base: str | None) -> str:
    """Sanitise feed HTML: allow-listed tags and attributes, safe absolute URLs only."""
    if too_deep(fragment):
        text = text_only(fragment)
        return f"<p>{html.escape(text, quote=False)}</p>" if text else ""
    _base.url = base
    try:
        cleaned = _HTML.clean(xml_safe(fragment))
    finally:
        _base.url = None
    if "&#" in fragment:
        cleaned = xml_safe(cleaned)  # character references can spell forbidden characters
    return cleaned.strip()


def plain_text(fragment: str) -> str:
    """Text with tags removed, entities decoded and whitespace collapsed, one line."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return one_line(fragment)  # nothing to strip or decode: skip the HTML parser
    if too_deep(fragment):
        return text_only(fragment)
    cleaned = _TEXT.clean(xml_safe(fragment))
    if "&#" in fragment:
        cleaned = xml_safe(cleaned)  # as in clean_html: references can spell them
    return text_of_clean(cleaned)


# A tag in nh3's output: there `<` in text is always escaped, attribute values are always
# quoted, and comments are gone, so this finds every tag and nothing else.
# (Unrolled: the runs between quotes are matched in one step, not a character at a time.)
CLEAN_TAG = re.compile(r"<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>")


def text_of_clean(cleaned: str) -> str:
    """plain_text for HTML that came out of clean_html, without a second HTML parse.

    That HTML is XML-safe already, and so is what is made of it here: removing tags
    adds nothing, and nh3 escapes every `&` of text, so unescaping gives back only
    `&`, `<`, `>`, quotes and no-break spaces. So only the whitespace is collapsed,
    without one_line's pass for forbidden characters."""
    if "<" not in cleaned and "&" not in cleaned:
        return " ".join(cleaned.split())
    spaced = BLOCK_TAG.sub(" ", cleaned) if "<" in cleaned else cleaned
    return " ".join(html.unescape(CLEAN_TAG.sub("", spaced)).split())


def one_line(text: str) -> str:
    """Plain text safe for a single line (headers, names): no controls, no line breaks."""
    # str.split() splits on the same Unicode whitespace as \s, several times faster.
    return " ".join(xml_safe(text).split())


# An <img> tag and the attributes that place and size it: regexes, not an HTML parse,
# as they run over every article's HTML.
IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
IMG_ATTRIBUTE = re.compile(r"""\b(src|width|height)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^"'\s>]+))""",
                           re.IGNORECASE)


def pixels(value: str | None) -> int | None:
    """The pixels a width or height attribute gives ("600" or "600px"), else None."""
    value = (value or "").strip()
    if value.endswith("px"):
        value = value[:-2]
    return int(value) if value.isdigit() else None


def tags_end(markup: str | bytes) -> int:
    """Where a pattern for whole tags (`<name …>`, ending at the first ">") can stop: just
    past the last ">". No such tag ends after it; looked for there, each "<" would send
    the regex engine to the end of the text and back (quadratic on a run of "<" without
    ">", which a broken or hostile feed may hold). So `pattern.finditer(text, 0, end)`
    finds what `pattern.finditer(text)` finds, in linear time."""
    if isinstance(markup, str):
        return markup.rfind(">") + 1
    return markup.rfind(b">") + 1


def img_tags(fragment: str) -> list[tuple[str, int | None, int | None]]:
    """(src, width, height) of each <img> with a src in `fragment`, in order: the one way
    the digest reads an image's size from HTML."""
    found = []
    for tag in IMG_TAG.findall(fragment, 0, tags_end(fragment)):
        attributes = {k.lower(): a or b or c for k, a, b, c in IMG_ATTRIBUTE.findall(tag)}
        src = html.unescape(attributes.get("src", ""))
        if src:
            found.append((src, pixels(attributes.get("width")), pixels(attributes.get("height"))))
    return found


def shorten(text: str, words: int) -> str:
    """The first `words` words of `text`, single-spaced, with an ellipsis when cut (never
    after a comma, a dash or another ellipsis): excerpts, and shorter ones for email."""
    if words <= 0:
        return ""
    parts = text.split(maxsplit=words)
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(" ,;:—-…") + "…"
