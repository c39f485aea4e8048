"""The one place untrusted feed HTML and text are made safe (nh3 with an allow-list)."""

from __future__ import annotations

import html
import re
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
    "blockquote": {"cite"},
    "img": {"src", "alt", "width", "height", "title"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# Elements whose text is dropped along with them (nh3 keeps the text of other removed tags).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript",
                               "svg", "math", "template", "form", "select", "textarea"})

# Characters XML 1.0 forbids: C0 controls but tab, LF, CR; U+FFFE/U+FFFF; lone surrogates.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """Remove the characters XML 1.0 cannot carry (feedgen raises on them)."""
    if XML_FORBIDDEN.search(text) is None:
        return text  # the common case: searching is cheaper than rebuilding the string
    return XML_FORBIDDEN.sub("", text)


def absolute_url(value: str, base: str | None) -> str | None:
    """`value` made absolute against `base`; None unless it is http(s) or mailto."""
    value = xml_safe(value).strip()
    if not value:
        return None
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


def clean_html(fragment: str, base: str | None) -> str:
    """Sanitise feed HTML: allow-listed tags and attributes, safe absolute URLs only."""

    def attribute_filter(element: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            return absolute_url(value, base)
        return value

    cleaned = nh3.clean(
        xml_safe(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return xml_safe(cleaned).strip()


def plain_text(fragment: str) -> str:
    """Text with tags removed, entities decoded and whitespace collapsed, one line."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return one_line(fragment)  # nothing to strip or decode: skip the HTML parser
    stripped = nh3.clean(xml_safe(fragment), tags=set(),
                         clean_content_tags=set(DROP_WITH_CONTENT))
    return one_line(html.unescape(stripped))


def one_line(text: str) -> str:
    """Plain text safe for a single line (headers, names): no controls, no line breaks."""
    # str.split() splits on the same Unicode whitespace as \s, several times faster.
    return " ".join(xml_safe(text).split())
