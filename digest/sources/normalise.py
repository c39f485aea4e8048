"""One entry from any source -> an Article: the single place links, text, HTML,
dates, images and reading time are normalised before the store."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import html
import math
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import feedparser.datetimes as feedparser_dates

from digest.models import Article
from digest.text import (
    IMG_TAG,
    absolute_url,
    clean_html,
    img_tags,
    one_line,
    plain_text,
    shorten,
    tags_end,
    text_of_clean,
)

WORDS_PER_MINUTE = 200
EXCERPT_WORDS = 45
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|_hsenc|_hsmi"
    r"|mkt_tok|igshid|ref_src|oly_enc_id|oly_anon_id|vero_id|__s|s_cid)$",
    re.IGNORECASE,
)
TRACKING_IN_QUERY = re.compile(
    r"(?:^|[&;])(?:utm_|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|_hs"
    r"|mkt_tok|igshid|ref_src|oly_|vero_id|__s=|s_cid)"
    r"|(?:^|[&;])[^=&;]*%", re.IGNORECASE)  # a percent-encoded name: decoded to be matched
# A lower-case http(s) URL with a path, no fragment and no empty query: already canonical
# unless its query holds a tracking parameter.
PLAIN_LINK = re.compile(r"https?://[^/?#\s\\@]+/[^?#\s\\]*(?:\?[^#\s\\]+)?")
# WordPress and others end truncated excerpts with these; such text says nothing of length.
TRUNCATION = re.compile(r"(\[\s*(…|\.\.\.|&hellip;)\s*\]|…|\.\.\.|continue reading.*)\s*$",
                        re.IGNORECASE)
APPEARED_FIRST = re.compile(r"\s*The post .{1,300} appeared first on .{1,200}\.?\s*$")
TRUNCATION_REACH = 40  # "[ … ]" and its spaces, once text is on one line
TAIL = 600  # the two patterns above only ever match this near the end: search no further
ENTITY = r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});"
# A title from a parser that hands over decoded text: is it HTML or text with a "<" in it?
# Only real HTML tags or entity references count, so "Festival <returns>" stays text.
LOOKS_LIKE_HTML = re.compile(
    r"<!--|<!doctype|</?(?:a|abbr|acronym|address|applet|area|article|aside|audio|b|base|big"
    r"|blink|blockquote|body|br|button|canvas|caption|center|cite|code|col|dd|del|details|dfn"
    r"|div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|h[1-6]"
    r"|head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|link|map|mark|marquee|math"
    r"|meta|nav|noscript|object|ol|p|param|picture|pre|q|s|samp|script|section|select|small"
    r"|source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|textarea"
    r"|tfoot|th|thead|time|title|tr|tt|u|ul|var|video|wbr|xmp)\b[^>]*>"
    r"|" + ENTITY,
    re.IGNORECASE,
)
ENTITY_REFERENCE = re.compile(ENTITY, re.IGNORECASE)  # the pattern's one branch not after "<"
# Its branches that end without a ">" (they may also match after the last ">").
LOOKS_LIKE_HTML_NOT_TAG = re.compile(r"<!--|<!doctype|" + ENTITY, re.IGNORECASE)
TAG = re.compile(r"<[^>]*>")
NOT_TEXT_NAMES = r"(script|style|iframe|object|embed|noscript|svg|math|template|textarea)"
NOT_TEXT_START = re.compile(rb"<" + NOT_TEXT_NAMES.encode() + rb"\b")  # searched in lowercased text
FUTURE_SLACK = dt.timedelta(minutes=10)
WEB = ("http://", "https://")


@dataclass(frozen=True)
class RawEntry:
    """An entry as a reader (RSS/Atom, JSON Feed, WordPress) found it, before normalising."""

    id: str | None
    link: str | None
    title: str
    summary: str  # HTML, unsanitised
    content: str  # HTML, unsanitised
    author: str | None = None
    published: dt.datetime | None = None
    images: tuple[str, ...] = ()  # candidates in order of preference
    image_sizes: tuple[tuple[str, int, int], ...] = ()  # (url, width, height) the source gave
    title_html: bool | None = None  # True HTML, False plain text, None: decide from the text
    terms: tuple[str, ...] = ()  # the categories the entry names itself, as the source wrote
    base: str | None = None  # what relative URLs in its HTML resolve against (xml:base)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    articles: tuple[Article, ...]
    warning: str | None  # set when the document was malformed but still yielded entries


def canonical_link(url: str) -> str:
    """The link without tracking parameters and fragment, for comparing and publishing.

    Only a query that holds a tracking parameter is rebuilt; others stay byte for byte
    (re-encoding would turn `%20` into `+` and make the same link look different)."""
    url = url.strip()
    if PLAIN_LINK.fullmatch(url):
        # What urlsplit and urlunsplit would give back, without them (several times
        # faster): the URL itself, less its tracking parameters.
        mark = url.find("?")
        if mark < 0 or not TRACKING_IN_QUERY.search(url[mark + 1:]):
            return url
        query = _without_tracking(url[mark + 1:])
        return url[:mark] + ("?" + query if query else "")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parts.query
    if query and TRACKING_IN_QUERY.search(query):
        query = _without_tracking(query)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/" if parts.netloc else
                       parts.path, query, ""))


@functools.lru_cache(maxsize=64)
def _feed_canonical(feed_link: str) -> str:
    """canonical_link of a feed's own link, made once for all its entries."""
    return canonical_link(feed_link)


# The two forms nearly every feed uses, read without feedparser's chain of handlers:
# RFC 3339 (W3C-DTF with seconds) and RFC 822/1123 with a numeric or UTC zone.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:[Zz]|[+-]\d\d:\d\d)?")
RFC822 = re.compile(r"(?:[A-Za-z]{3}, +)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d)(?::(\d\d))?"
                    r" (?:([+-])(\d\d)(\d\d)|GMT|UT|UTC|Z)")
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _without_tracking(query: str) -> str:
    """The query less its tracking parameters, the others byte for byte. A name is
    matched as the server reads it: percent-decoded (`%75tm_source` is `utm_source`)."""
    return "&".join(pair for pair in query.split("&")
                    if pair and not _is_tracking(pair.split("=", 1)[0]))


def _is_tracking(name: str) -> bool:
    return TRACKING_PARAMS.fullmatch(unquote(name) if "%" in name else name) is not None


def parse_date(value: object) -> dt.datetime | None:
    """An aware UTC datetime, or None when the text is not a date.

    Read as feedparser reads dates (RFC 822/1123 with every zone name it knows, RFC 3339,
    W3C-DTF with partial dates completed to the first of the year or month, ISO 8601
    and the common variants): the forms nearly every feed uses are read directly,
    the rest by feedparser's own date handlers. Text without a zone is UTC."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        found: dt.datetime | None = None
        try:
            if RFC3339.fullmatch(text):
                found = dt.datetime.fromisoformat(text.replace("Z", "+00:00")
                                                  .replace("z", "+00:00"))
            elif (parts := RFC822.fullmatch(text)) is not None:
                found = _rfc822(parts)
        except (TypeError, ValueError, KeyError):
            found = None
        if found is None:
            return _feedparser_date(text)
        when = found
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _rfc822(parts: re.Match[str]) -> dt.datetime:
    day, month, year, hour, minute, second, sign, zone_h, zone_m = parts.groups()
    return dt.datetime(int(year), MONTHS[month.lower()], int(day), int(hour), int(minute),
                       int(second or 0), tzinfo=_zone(sign, zone_h, zone_m))


@functools.lru_cache(maxsize=256)
def _zone(sign: str | None, hours: str | None, minutes: str | None) -> dt.tzinfo:
    """The fixed zone of an RFC 822 offset (+HHMM), made once: a feed's dates share one."""
    if not sign:
        return dt.UTC
    offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    return dt.timezone(-offset if sign == "-" else offset)


def _feedparser_date(text: str) -> dt.datetime | None:
    try:
        parsed = feedparser_dates._parse_date(text)
    except Exception:  # a handler that trips on odd text: not a date
        return None
    if parsed is None:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


# "jo@example.org (Jo Bloggs)" (RSS) and "Jo Bloggs <jo@example.org>": the name.
ADDRESS_THEN_NAME = re.compile(r"\s*[^\s@()<>]+@[^\s@()<>]+\s*\((.+)\)\s*")
NAME_THEN_ADDRESS = re.compile(r"\s*(.+?)\s*<[^\s@<>]+@[^\s@<>]+>\s*")


def author_name(text: str) -> str:
    """The person's name from an author field that may carry an e-mail address too."""
    if "@" not in text:  # both forms hold an address
        return text.strip()
    found = ADDRESS_THEN_NAME.fullmatch(text) or NAME_THEN_ADDRESS.fullmatch(text)
    return found.group(1).strip() if found else text.strip()


def title_text(value: str, is_html: bool | None) -> str:
    if is_html is None:
        # Only a tag or an entity reference makes it HTML; without a "<", only the latter.
        if "<" in value:
            is_html = (LOOKS_LIKE_HTML.search(value, 0, tags_end(value)) is not None
                       or LOOKS_LIKE_HTML_NOT_TAG.search(value) is not None)
        else:
            is_html = "&" in value and ENTITY_REFERENCE.search(value) is not None
    return plain_text(value) if is_html else one_line(value)


def text_as_html(text: str) -> str:
    """Plain text as HTML paragraphs (JSON Feed content_text, Atom type="text")."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _without_appeared_first(tail: str) -> str:
    if "appeared first on" not in tail:
        return tail
    # The pattern starts with \s*, which no regex engine can skip ahead to: it is
    # tried from the first "The post " (and the spaces before it) only.
    start = tail.find("The post ")
    if start < 0:
        return tail
    while start > 0 and tail[start - 1].isspace():
        start -= 1
    return tail[:start] + APPEARED_FIRST.sub("", tail[start:])


def _truncation_start(tail: str) -> int | None:
    """Where a "[…]", "…", "..." or "Continue reading…" ending starts, if there is one."""
    if "ontinue" in tail.lower():
        found = TRUNCATION.search(tail)
        return found.start() if found else None
    if not ("…" in tail or "..." in tail or "hellip" in tail):
        return None
    # Without "continue reading" the ending is a few characters: look only there.
    offset = max(0, len(tail) - TRUNCATION_REACH)
    found = TRUNCATION.search(tail, offset)
    return found.start() if found else None


def _cut_tail(text: str) -> str:
    """The text less WordPress's "The post … appeared first on …" and "[…]" endings."""
    head, tail = text[:-TAIL], _without_appeared_first(text[-TAIL:])
    start = _truncation_start(tail)
    return head + (tail if start is None else tail[:start])


def excerpt_of(text: str, words: int = EXCERPT_WORDS) -> str:
    """The text's first words, without a trailing "Read more" or "appeared first on"."""
    return shorten(_cut_tail(text).strip().rstrip(" ,;:—-"), words)


def _without_non_text(fragment: bytes) -> bytes:
    """The fragment (UTF-8) less the elements that hold no reading matter (scripts,
    embeds)."""
    lower = fragment.lower()  # ASCII only, so positions stay those of `fragment`
    found = NOT_TEXT_START.search(lower)
    if found is None:
        return fragment
    kept, pos = [], 0
    while found is not None:
        kept.append(fragment[pos:found.start()])
        end = lower.find(b"</" + found.group(1), found.end())
        close = lower.find(b">", end) if end >= 0 else -1
        pos = len(fragment) if close < 0 else close + 1
        found = NOT_TEXT_START.search(lower, pos)
    kept.append(fragment[pos:])
    return b" ".join(kept)


# str.split()'s whitespace as UTF-8: the ASCII bytes (\x1c-\x1f too), and the
# sequences of the other Unicode spaces (U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
# U+2029, U+202F, U+205F, U+3000), which become as many ASCII spaces.
ASCII_SPACES = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
WIDE_SPACES = tuple(chr(c).encode() for c in (
    0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000))
# Every whitespace byte to a space, every other byte to "w": a word starts at each "w"
# after a space.
WORD_BYTES = bytes(0x20 if b in ASCII_SPACES else 0x77 for b in range(256))
TAG_BYTES = re.compile(rb"<[^>]*>")


def word_count(fragment: str) -> int:
    """Words of the text in an HTML fragment, near enough for a reading time. No HTML
    parser (the costliest step of ingestion) is needed to count: text is what lies
    between tags. The words are what `str.split()` would give, counted on the UTF-8
    bytes without making a string of each."""
    data = _without_non_text(fragment.encode("utf-8", "surrogatepass"))
    if not fragment.isascii():
        for space in WIDE_SPACES:
            if space in data:
                data = data.replace(space, b" " * len(space))
    end = tags_end(data)  # no tag ends after it: the regex never looks there
    flat = b" " + (TAG_BYTES.sub(b" ", data[:end]) + data[end:]).translate(WORD_BYTES)
    return flat.count(b" w")


def reading_minutes(content_words: int, summary_text: str) -> int | None:
    """Minutes to read at 200 words a minute; None when only a cut-short excerpt exists."""
    if not content_words:
        if not summary_text or _truncation_start(
                _without_appeared_first(summary_text[-TAIL:])) is not None:
            return None
        content_words = len(summary_text.split())
    return max(1, math.ceil(content_words / WORDS_PER_MINUTE))


MIN_PICTURE_SIDE = 50  # smaller is a pixel, a spacer or an icon, never the article's picture
# Hosts and paths of known tracking pixels and web beacons.
TRACKING_HOSTS = (".pixel.wp.com", ".stats.wordpress.com", ".feeds.feedburner.com",
                  ".feedproxy.google.com", ".doubleclick.net", ".google-analytics.com",
                  ".pixel.quantserve.com", ".scorecardresearch.com")  # and subdomains
TRACKING_HOST_PREFIXES = ("pixel.", "tracker.", "track.", "beacon.", "analytics.")
TRACKING_PATH = re.compile(  # starts with a literal "/": the engine skips ahead to it
    r"/(?:(?:pixel|tracking|tracker|beacon|spacer|1x1)(?:\.[a-z]{2,4})?(?:[?#]|$)"
    r"|(?:blank|transparent|clear|open|b|p|t)\.gif(?:[?#]|$)|~(?:r|ff)/|wf/open\b|tr[?/])",
    re.IGNORECASE)
# The same pattern without IGNORECASE, for an ASCII URL lowercased: several times faster,
# as the engine then skips each alternative by its first letter.
TRACKING_PATH_LOWER = re.compile(TRACKING_PATH.pattern)


def is_tracking_image(url: str) -> bool:
    host = url.split("/", 3)[2].lower() if url.count("/") >= 2 else ""
    host = host.rpartition("@")[2].partition(":")[0]
    if host.startswith(TRACKING_HOST_PREFIXES) or ("." + host).endswith(TRACKING_HOSTS):
        return True
    if url.isascii():
        return TRACKING_PATH_LOWER.search(url.lower()) is not None
    return TRACKING_PATH.search(url) is not None


def _img_tags(fragment: str) -> list[tuple[str, tuple[int, int] | None, bool]]:
    """(src, (width, height) when both are given, too small) of each <img>, in order."""
    found = []
    for src, width, height in img_tags(fragment):
        small = any(side is not None and side < MIN_PICTURE_SIDE for side in (width, height))
        size = (width, height) if width and height else None
        found.append((src, size, small))
    return found


def _acceptable(url: str | None, small: bool) -> bool:
    return bool(url and url.startswith(("https://", "http://")) and not small
                and not is_tracking_image(url))


def _image(raw: RawEntry, content: str, cleaned: str | None, base: str | None
           ) -> tuple[str | None, tuple[int, int] | None]:
    """The article's picture and, when the source or its HTML tells, its size.

    Only what the source declares (enclosure, media:content, JSON Feed image, featured
    image) or what survives sanitising of its content is a candidate: an <img> inside a
    <script>, <noscript> or comment never is. Neither is one smaller than 50 px on a
    side or from a known tracking path. `cleaned` is the sanitised content when it was
    made anyway; else only the content up to the first likely <img> is sanitised."""
    declared = {url: (width, height) for url, width, height in raw.image_sizes}
    for candidate in raw.images:
        url = absolute_url(candidate, base)
        size = declared.get(candidate)
        small = size is not None and min(size) < MIN_PICTURE_SIDE
        if _acceptable(url, small):
            return url, size
    if cleaned is None:
        raw_tags = IMG_TAG.finditer(content, 0, tags_end(content)) \
            if "<img" in content.lower() else iter(())
        for tag in raw_tags:
            (src, _size, small), *_ = _img_tags(tag.group(0)) or [("", None, True)]
            if not _acceptable(absolute_url(src, base), small):
                continue
            # Sanitised up to this <img>: it is the picture if it survives.
            picked = _first_picture(clean_html(content[:tag.end()], base))
            if picked[0] is not None:
                return picked
            break
        else:
            return None, None
        cleaned = clean_html(content, base)
    return _first_picture(cleaned)


def _first_picture(cleaned: str) -> tuple[str | None, tuple[int, int] | None]:
    for src, size, small in _img_tags(cleaned):
        if _acceptable(src, small):
            return src, size
    return None, None


def to_article(raw: RawEntry, feed_url: str, feed_link: str | None,
               now: dt.datetime) -> Article | None:
    """The entry normalised; None when it has neither link nor any title to show."""
    # Relative URLs resolve against the nearest xml:base, else the document's URL; a
    # local file has no web address to resolve against: then the article's own link.
    document = raw.base if raw.base and raw.base.startswith(WEB) else (
        feed_url if feed_url.startswith(WEB) else None)
    link = absolute_url(raw.link, document or feed_link or feed_url) if raw.link else None
    link = canonical_link(link) if link else None
    base = document or link or feed_link or feed_url
    title = title_text(raw.title or "", raw.title_html)
    content = raw.content if raw.content != raw.summary else ""  # some parsers repeat it
    summary_html = clean_html(raw.summary, base) if raw.summary else ""
    summary_text = text_of_clean(summary_html)
    if summary_text and content:
        # The summary is what is stored and shown; the content only tells the length and
        # the first image. Both can be read from the raw HTML without sanitising it (no
        # markup of it is kept, and image URLs pass absolute_url's scheme check), which
        # spares the costliest step of ingestion.
        content_html, content_text = "", ""
        words = word_count(content)
        cleaned: str | None = None
    else:
        content_html = clean_html(content, base) if content else ""
        if summary_html == content_html:
            summary_html = ""
        content_text = text_of_clean(content_html)
        words = word_count(content_html)
        cleaned = content_html or summary_html
    if not title:
        title = excerpt_of(summary_text or content_text, 12)
    if not link and not title:
        return None
    key_source = one_line(raw.id or "") or link
    if not key_source:
        digest = hashlib.sha256(f"{title}\n{summary_text or content_text}".encode())
        key_source = "sha256:" + digest.hexdigest()
    published = raw.published
    if published is not None and published > now + FUTURE_SLACK:
        published = now  # a date in the future would hold the article back or jump the queue
    author = title_text(raw.author, None) if raw.author else None
    image, image_size = _image(raw, content, cleaned, base)
    return Article(
        key=key_source[:1000],
        link=link or feed_link or "",
        title=title,
        summary_html=summary_html or content_html,
        excerpt=excerpt_of(summary_text or content_text),
        author=author or None,
        published=published,
        image=image,
        reading_minutes=reading_minutes(words, summary_text),
        feed_url=feed_url,
        image_size=image_size,
        terms=category_terms(raw.terms),
        # A link to the site's home page (the feed's own link) names no article.
        canonical=link if link and link != (_feed_canonical(feed_link) if feed_link else None)
        else None,
    )


MAX_TERMS = 50
MAX_TERM = 200


def category_terms(terms: tuple[str, ...]) -> tuple[str, ...]:
    """The entry's category terms as text: entities decoded, spaces tidied, no repeats."""
    found: dict[str, None] = {}
    for term in terms[:MAX_TERMS]:
        text = one_line(html.unescape(term))[:MAX_TERM]
        if text:
            found.setdefault(text)
    return tuple(found)
