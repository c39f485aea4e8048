"""The email as sent: `digest send` to a real SMTP server, bytes parsed, EMAIL.md checked.

Each test names the EMAIL.md items it checks. The HTML is read with lxml, its <style>
with tinycss2, and the dark-mode rules are applied with cssselect, so the contrast
figures come from the colours the message really uses.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import itertools
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
import tinycss2
from click.testing import CliRunner
from email_site import NOW, SLUGS, long_item, site_config
from localised import full_date, has_date
from lxml.html import HtmlElement
from support.servers import FeedServer, SmtpServer

from digest.cli import cli
from digest.config import load_config
from digest.errors import ConfigError
from digest.models import Edition, Section, StoredArticle
from digest.render.context import thumbnail
from digest.render.email import render_email
from digest.render.templates import environment
from digest.render.words import Words

READER = "ayla@example.org"
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "form", "input", "svg", "main", "nav",
                  "section", "article", "details", "video", "audio", "link", "base", "meta-refresh"}


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def send_one(config: Path, smtp: SmtpServer, *args: str) -> tuple[bytes, EmailMessage]:
    """Subscribe READER, run `digest send`, return the bytes the server got and their parse."""
    run(config, "subscribers", "add", READER, "--name", "Ayla Kərimova")
    run(config, "send", *args)
    [(_, rcpts, raw)] = [e for e in smtp.mailbox.envelopes if READER in e[1]]
    assert rcpts == [READER]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return raw, message


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None
    return str(body.get_content())


@pytest.fixture
def largest(tmp_path: Path, feed_server: FeedServer,
            smtp_server: SmtpServer) -> tuple[bytes, EmailMessage]:
    """The largest edition the caps allow: 9 categories, 12 articles each, cap 10."""
    config = site_config(tmp_path, feed_server, smtp_port=smtp_server.port,
                         email_extra='list_id = "Aze Daily Digest <daily.news.example.org>"')
    return send_one(config, smtp_server)


# --- colours -------------------------------------------------------------------------

def rgb(value: str) -> tuple[float, float, float]:
    value = value.strip().lower()
    if value in ("white", "black"):
        value = "#ffffff" if value == "white" else "#000000"
    found = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", value)
    assert found, f"not a colour this test reads: {value!r}"
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return r, g, b


def contrast(fore: str, back: str) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(colour: str) -> float:
        channels = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                    for c in rgb(colour)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    high, low = sorted((luminance(fore), luminance(back)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def inline(el: HtmlElement) -> dict[str, str]:
    styles = {}
    for declaration in (el.get("style") or "").split(";"):
        name, _, value = declaration.partition(":")
        if value.strip():
            styles[name.strip().lower()] = value.replace("!important", "").strip()
    return styles


def dark_rules(doc: HtmlElement) -> dict[HtmlElement, dict[str, str]]:
    """What @media (prefers-color-scheme: dark) sets on each element (all !important)."""
    found: dict[HtmlElement, dict[str, str]] = {}
    for style in doc.iter("style"):
        for rule in tinycss2.parse_stylesheet(style.text or "", skip_comments=True,
                                              skip_whitespace=True):
            if rule.type != "at-rule" or rule.lower_at_keyword != "media":
                continue
            if "prefers-color-scheme:dark" not in tinycss2.serialize(rule.prelude).replace(
                    " ", ""):
                continue
            for inner in tinycss2.parse_rule_list(rule.content, skip_comments=True,
                                                  skip_whitespace=True):
                declarations = {
                    d.lower_name: tinycss2.serialize(d.value).strip()
                    for d in tinycss2.parse_declaration_list(
                        inner.content, skip_comments=True, skip_whitespace=True)
                    if d.type == "declaration"}
                for selector in tinycss2.serialize(inner.prelude).split(","):
                    for el in doc.cssselect(selector.strip()):
                        found.setdefault(el, {}).update(declarations)
    return found


def resolved(el: HtmlElement, prop: str, dark: dict[HtmlElement, dict[str, str]] | None
             ) -> str | None:
    """The value of an inherited property (color, font-size) from inline styles + dark rules."""
    for node in [el, *el.iterancestors()]:
        if dark and prop in dark.get(node, {}):
            return dark[node][prop]
        styles = inline(node)
        if prop in styles:
            return styles[prop]
        if prop == "font-size" and "font" in styles:
            size = re.search(r"(\d+(?:\.\d+)?)px", styles["font"])
            if size:
                return size.group(0)
    return None


def background(el: HtmlElement, dark: dict[HtmlElement, dict[str, str]] | None) -> str:
    for node in [el, *el.iterancestors()]:
        values = {**inline(node), **(dark.get(node, {}) if dark else {})}
        for prop in ("background-color", "background"):
            if prop in values and values[prop].startswith("#"):
                return values[prop].split()[0]
        if node.get("bgcolor") and not (dark and "background" in dark.get(node, {})):
            return str(node.get("bgcolor"))
    return "#ffffff"


def visible_text_elements(doc: HtmlElement) -> list[tuple[HtmlElement, str]]:
    """Each element with its own visible text (text and children's tails), preheader skipped."""
    body = doc.find("body")
    assert body is not None
    result = []
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if any("display:none" in (a.get("style") or "").replace(" ", "")
               for a in [el, *el.iterancestors()]):
            continue
        own = (el.text or "") + "".join(c.tail or "" for c in el)
        if own.strip(" \u034f\u200c\xa0\n"):
            result.append((el, own.strip()))
    return result


# --- the tests -----------------------------------------------------------------------

def test_headers_are_complete_ascii_and_short(largest: tuple[bytes, EmailMessage]) -> None:
    """EMAIL.md 5, 6, 7, 8."""
    raw, message = largest
    head = raw.split(b"\r\n\r\n", 1)[0]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(message.get_all(name) or []) == 1, name
    assert len(message["From"].addresses) == 1
    assert message["MIME-Version"] == "1.0"
    assert re.fullmatch(r"<[^@>]+@news\.example\.org>", message["Message-ID"])
    assert message["Date"].endswith("+0000")
    assert message["To"] == f"Ayla Kərimova <{READER}>"
    head.decode("ascii")  # every header byte is ASCII: the name is RFC 2047 encoded
    assert b"=?utf-8?" in head.lower()
    assert message["List-Id"] == "Aze Daily Digest <daily.news.example.org>"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert len(message.get_all("List-Unsubscribe") or []) == 1
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_feed_text_never_adds_a_header(tmp_path: Path, feed_server: FeedServer,
                                       smtp_server: SmtpServer) -> None:
    """EMAIL.md 6: a title or name holding line breaks or encoded words stays text."""
    hostile = {1000: replace(
        long_item(1000, "news", 0,
                  title="Budget vote\r\nBcc: evil@example.com =?UTF-8?Q?=0A?=Bcc: x"),
        content='<p onclick="steal()">Text <script>alert(1)</script><a href="javascript:x">'
                'link</a> <iframe src="https://x.org/"></iframe><b style="color:var(--x)">'
                "bold</b></p>")}
    config = site_config(tmp_path, feed_server, categories=1, per_category=2,
                         smtp_port=smtp_server.port, replace=hostile)
    run(config, "subscribers", "add", "evil@example.net",
        "--name", "=?UTF-8?Q?=0A?=Bcc: x@example.com")
    _, message = send_one(config, smtp_server)
    assert message.get_all("Bcc") is None
    assert sorted(r for e in smtp_server.mailbox.envelopes for r in e[1]) == [
        "ayla@example.org", "evil@example.net"]
    raw = next(e[2] for e in smtp_server.mailbox.envelopes if e[1] == ["evil@example.net"])
    names = [line.split(b":")[0].lower() for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n")
             if line and line[:1] not in b" \t"]
    assert b"bcc" not in names and names.count(b"to") == 1
    html = part(message, "html")
    assert "Budget vote" in html and "Bcc: evil" in part(message, "plain")
    # EMAIL.md 15, 22: feed markup reaches the email only as escaped, sanitised text.
    for bad in ("<script", "alert(1)", "onclick", "javascript:", "<iframe", "var(--x)"):
        assert bad not in html, bad


def test_parts_and_the_text_part_carry_every_link(largest: tuple[bytes, EmailMessage]) -> None:
    """EMAIL.md 9, 10, 11."""
    _, message = largest
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = part(message, "plain"), part(message, "html")
    doc = lxml.html.document_fromstring(html)
    links = {a.get("href") for a in doc.iter("a")}
    unsubscribe = message["List-Unsubscribe"].split(">")[0].lstrip("<")
    assert unsubscribe in links and unsubscribe in text
    for href in links:
        assert href.removeprefix("mailto:") in text, f"text part lacks {href}"
    assert not re.search(r"<[a-z/][^>]*>", text.replace("<http", "(http")), "tags in the text"
    # Readable in a terminal: 72 columns, save for the lines holding a long URL.
    assert all(len(line) <= 78 or "://" in line for line in text.splitlines())
    visible = {a.text_content().strip(): a.get("href") for a in doc.iter("a")}
    assert visible["Unsubscribe"] == unsubscribe
    assert visible["Read this edition on the web"].startswith(
        "https://news.example.org/digest/editions/")


def test_the_largest_edition_stays_under_the_size_budget(
        largest: tuple[bytes, EmailMessage]) -> None:
    """EMAIL.md 12: 9 categories x 10 long-titled, illustrated articles, under 90 KiB."""
    _, message = largest
    html = part(message, "html")
    size = len(html.encode("utf-8"))
    assert size < 90 * 1024, f"decoded HTML is {size} bytes"
    doc = lxml.html.document_fromstring(html)
    items = doc.cssselect("td.item")
    assert len(items) == 90  # the cap, 10 in each category, all shown
    # To fit, the leads of each section keep picture and excerpt; the rest are headlines.
    pictures = doc.cssselect("img.thumb")
    assert 9 <= len(pictures) < 90
    leads = [item for item in items if item.cssselect("img.thumb")]
    assert all(item.cssselect("p.excerpt") for item in leads)
    more = [a.text_content() for a in doc.cssselect("td.more a")]
    assert len(more) == 9 and all(m.endswith("(2) →") for m in more)
    assert more[0].startswith("More in News")
    # Sections in config order.
    order = [h.text_content().strip() for h in doc.cssselect("h2")]
    assert order == [s.replace("-", " ").title() for s in SLUGS]


def test_html_follows_the_rules_that_render_everywhere(
        largest: tuple[bytes, EmailMessage]) -> None:
    """EMAIL.md 13, 14, 15, 16, 17, 18, 20, 21."""
    _, message = largest
    html = part(message, "html")
    doc = lxml.html.document_fromstring(html)
    head, body = doc.find("head"), doc.find("body")
    assert head is not None and body is not None
    # 18: head.
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert head.cssselect("meta[charset]")[0].get("charset").lower() == "utf-8"
    assert "width=device-width" in head.cssselect("meta[name=viewport]")[0].get("content")
    assert head.findtext("title") == message["Subject"]
    assert head.cssselect("meta[name=color-scheme]")[0].get("content") == "light dark"
    assert doc.get("lang") == "en"
    wrapper = body.cssselect("div[lang]")
    assert wrapper and wrapper[0].get("lang") == "en"
    # 13: one <style>, in the head, small, media queries kept; the rest inlined.
    styles = list(doc.iter("style"))
    assert styles and all(s.getparent() is head for s in styles)
    css = "".join(s.text or "" for s in styles)
    assert len(css.encode()) < 16 * 1024
    assert "@media (prefers-color-scheme: dark)" in css and "max-width: 480px" in css
    assert "font:" in (doc.cssselect("h3.title")[0].get("style") or "")
    # 14: one column at most 600px, presentation tables, no flex or grid.
    tables = list(doc.iter("table"))
    assert tables and all(t.get("role") == "presentation" for t in tables)
    sheet = doc.cssselect("table.sheet")[0]
    assert sheet.get("width") == "600" and "max-width:600px" in sheet.get("style").replace(
        " ", "")
    every_style = css + "".join(el.get("style") or "" for el in doc.iter()
                                if isinstance(el.tag, str))
    assert not re.search(r"display\s*:\s*(inline-)?(flex|grid)", every_style)
    # 15: nothing forbidden.
    tags = {el.tag for el in doc.iter() if isinstance(el.tag, str)}
    assert not tags & FORBIDDEN_TAGS, tags & FORBIDDEN_TAGS
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        assert not [a for a in el.attrib if a.lower().startswith("on")], el.attrib
        for value in el.attrib.values():
            assert not value.strip().lower().startswith(("javascript:", "data:")), value
    assert "var(" not in every_style
    # 16: pictures.
    for img in doc.iter("img"):
        src = img.get("src")
        assert urlsplit(src).scheme == "https"
        assert urlsplit(src).path.lower().endswith((".png", ".jpg", ".jpeg", ".gif"))
        assert img.get("width", "").isdigit() and img.get("height", "").isdigit()
        assert img.get("alt") is not None
    # 17 and 21: absolute links with real link text.
    for a in doc.iter("a"):
        href = a.get("href")
        parts = urlsplit(href)
        assert parts.scheme in ("https", "http", "mailto"), href
        assert parts.scheme == "mailto" or parts.netloc, href
        words = a.text_content().strip()
        assert words and not re.fullmatch(r"(click )?here|read more|link", words, re.I), href
    # 21: headings in order.
    levels = [int(el.tag[1]) for el in doc.iter() if isinstance(el.tag, str)
              and re.fullmatch(r"h[1-6]", el.tag)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in itertools.pairwise(levels))
    # 20: the preheader comes first, hidden, and repeats visible text.
    first = next(iter(body))
    hidden = (first.get("style") or "").replace(" ", "")
    for rule in ("display:none", "max-height:0", "overflow:hidden", "mso-hide:all"):
        assert rule in hidden
    summary = first.text_content().strip(" \u034f\u200c\xa0")
    count, _, titles = summary.partition(": ")
    assert count == "90 new articles" or count.endswith("new articles"), summary
    visible = " ".join(text for _, text in visible_text_elements(doc))
    assert count in visible and titles[:40] in visible
    assert len(summary) <= 140
    # 21: body text at least 14px, wherever it is set.
    for el, text in visible_text_elements(doc):
        size = resolved(el, "font-size", None)
        assert size is not None and float(size.removesuffix("px")) >= 14, (text, size)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_is_at_least_4_5_to_1(largest: tuple[bytes, EmailMessage],
                                              scheme: str) -> None:
    """EMAIL.md 19: every text's colour against its background, in both schemes."""
    _, message = largest
    doc = lxml.html.document_fromstring(part(message, "html"))
    dark = dark_rules(doc) if scheme == "dark" else None
    if dark is not None:
        assert dark, "no dark-mode rules reach the body"
    checked = set()
    for el, text in visible_text_elements(doc):
        colour = resolved(el, "color", dark) or "#000000"
        back = background(el, dark)
        checked.add((colour, back))
        assert contrast(colour, back) >= 4.5, (scheme, text[:40], colour, back)
    assert len(checked) >= 5  # the test saw the palette, not one default pair


def test_words_dates_and_numbers_follow_the_language() -> None:
    """Babel: dates, numbers and plural forms per language; English fills gaps."""
    baku = dt.UTC
    ru, az, en = Words("ru", baku), Words("az", baku), Words("en", baku)
    assert [ru("edition_count", n=n) for n in (1, 3, 5, 21)] == [
        "1 новая статья", "3 новые статьи", "5 новых статей", "21 новая статья"]
    assert en("edition_count", n=1) == "1 new article"
    assert en("edition_count", n=1234) == "1,234 new articles"
    # Russian groups thousands with a space (CLDR has used both kinds of no-break space).
    assert re.fullmatch(r"12\s345", ru.number(12345)) and en.number(12345) == "12,345"
    day = dt.date(2026, 11, 25)
    for words, locale in ((az, "az"), (ru, "ru"), (en, "en")):
        assert has_date(words.date(day, "full"), day, locale), locale
        assert words.date(day, "full") == full_date(day, locale)
    assert "November" not in az.date(day, "full") + ru.date(day, "full")  # not English
    assert az("min_read", n=4) == "4 dəq oxuma"
    assert Words("pt_BR", baku)("new_articles") == "New articles"


EDITION_DAY = dt.date(2026, 11, 25)


def edition_of(count: int, sections: int = 1, title: str = "Title",
               image: str | None = None) -> Edition:
    when = dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC)

    def articles(s: int) -> tuple[StoredArticle, ...]:
        return tuple(
            StoredArticle(id=i, key=str(i), link=f"https://news.example.org/{s}/{i}/",
                          title=f"{title} {i}", summary_html="<p>x</p>",
                          excerpt="Short text. " * 20, author=None, published=when,
                          first_seen=when, image=image, reading_minutes=3,
                          categories=frozenset({f"c{s}"}))
            for i in range(1, count + 1))
    return Edition(dt.date(2026, 11, 25),
                   tuple(Section(f"c{s}", f"Section {s}", articles(s)) for s in range(sections)),
                   when)


@pytest.mark.parametrize(("language", "expected", "leave"), [
    ("ru", ["Новые статьи", "5 новых статей", "3 мин чтения", full_date(EDITION_DAY, "ru")],
     ("Отписаться", "Чтобы отписаться от рассылки:")),
    ("az", ["Yeni məqalələr", "5 yeni məqalə", "3 dəq oxuma", full_date(EDITION_DAY, "az")],
     ("Abunəlikdən çıxın", "Abunəlikdən çıxmaq üçün:")),
])
def test_the_email_speaks_the_configured_language(tmp_path: Path, feed_server: FeedServer,
                                                  language: str, expected: list[str],
                                                  leave: tuple[str, str]) -> None:
    config = replace(load_config(site_config(tmp_path, feed_server, categories=1)),
                     language=language)
    rendered = render_email(config, edition_of(5), environment(None))
    doc = lxml.html.document_fromstring(rendered.html)
    assert doc.get("lang") == language and doc.cssselect("div[lang]")[0].get("lang") == language
    for words in expected:
        assert words in doc.text_content(), words
        assert words in rendered.text or words.upper() in rendered.text, words
    assert leave[0] in doc.text_content() and leave[1] + "\n<" in rendered.text
    assert has_date(doc.text_content(), EDITION_DAY, language)
    assert doc.findtext(".//title") == rendered.subject


def test_editors_override_words_in_the_config(tmp_path: Path, feed_server: FeedServer,
                                             smtp_server: SmtpServer) -> None:
    tail = ('[words]\nmin_read = "{n}-minute read"\nnew_articles = "Today\'s stories"\n'
            'edition_count = { one = "one story", other = "{n} stories" }\n')
    config = site_config(tmp_path, feed_server, categories=2, per_category=3,
                         smtp_port=smtp_server.port, tail=tail)
    _, message = send_one(config, smtp_server)
    html, text = part(message, "html"), part(message, "plain")
    visible = lxml.html.document_fromstring(html).text_content()
    for words in ("Today's stories", "6 stories", "-minute read"):
        assert words in visible, words
        assert words in text or words.upper() in text, words
    assert "min read" not in visible and "min read" not in text


@pytest.mark.parametrize(("words", "problem"), [
    ('min_reed = "x"', "[words] min_reed: unknown word; did you mean 'min_read'?"),
    ('min_read = "{minutes} min"', "[words] min_read: uses {minutes}; this word may use {n}"),
    ('edition_count = { one = "x" }', "[words] edition_count: must be a string, or a table"),
])
def test_bad_words_are_reported_with_their_line(tmp_path: Path, feed_server: FeedServer,
                                                words: str, problem: str) -> None:
    path = site_config(tmp_path, feed_server, categories=1, tail="[words]\n" + words)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert problem in str(caught.value)
    assert "line " in str(caught.value)


def test_a_templates_folder_replaces_any_template(tmp_path: Path, feed_server: FeedServer,
                                                  smtp_server: SmtpServer) -> None:
    custom = tmp_path / "mytemplates"
    custom.mkdir()
    (custom / "email.txt").write_text(
        "OUR OWN TEXT {{ site.title }}\n{% for s in sections %}{% for a in s.articles %}"
        "{{ a.title }} <{{ a.link }}>\n{% endfor %}{% endfor %}"
        "Unsubscribe: {{ unsubscribe_url }}\n", encoding="utf-8")
    config = site_config(tmp_path, feed_server, categories=1, per_category=2,
                         smtp_port=smtp_server.port, extra='templates = "mytemplates"')
    _, message = send_one(config, smtp_server)
    text = part(message, "plain")
    assert text.startswith("OUR OWN TEXT Aze Daily Digest")
    assert message["List-Unsubscribe"].split(">")[0].lstrip("<") in text
    assert "New articles" in part(message, "html")  # email.html still the default


def test_thumbnails_only_for_https_pictures_of_known_size() -> None:
    """EMAIL.md 16: a fixed width, the height from the picture's own proportions."""
    page = '<p><img src="https://x.org/a.jpg" width="1200" height="800" alt="a"></p>'
    found = thumbnail("https://x.org/a.jpg", page)
    assert found is not None and (found.width, found.height) == (120, 80)
    named = thumbnail("https://x.org/a-1024x768.jpg", "")  # WordPress's resized copies
    assert named is not None and (named.width, named.height) == (120, 90)
    assert thumbnail("http://x.org/a.jpg", page.replace("https", "http")) is None
    assert thumbnail("https://x.org/a.jpg", "<p>no size known</p>") is None
    assert thumbnail("https://x.org/a.webp", page.replace(".jpg", ".webp")) is None
    tall = '<img src="https://x.org/t.png" width="100" height="400">'
    assert thumbnail("https://x.org/t.png", tall) is None  # would stand taller than the text


def test_an_edition_too_big_for_the_budget_shows_fewer_articles_per_category(
        tmp_path: Path, feed_server: FeedServer) -> None:
    """EMAIL.md 12: past the leanest detail, the cap shrinks and "More in" links the rest."""
    config = load_config(site_config(tmp_path, feed_server, categories=1))
    huge = edition_of(10, sections=12, title="A headline that goes on " * 12)
    rendered = render_email(config, huge, environment(None))
    assert len(rendered.html.encode()) < 90 * 1024
    doc = lxml.html.document_fromstring(rendered.html)
    shown = len(doc.cssselect("td.item"))
    assert 12 <= shown < 120
    more = [a.text_content() for a in doc.cssselect("td.more a")]
    assert len(more) == 12
    assert sum(int(re.search(r"\((\d+)\)", m).group(1)) for m in more) == 120 - shown
    small = render_email(config, edition_of(5), environment(None))
    assert small.html.count('class="excerpt"') == 5  # room to spare: full detail


def test_thumbnails_can_be_turned_off(tmp_path: Path, feed_server: FeedServer) -> None:
    config = load_config(site_config(tmp_path, feed_server, categories=1, per_category=2,
                                     extra="thumbnails = false"))
    assert config.thumbnails is False
    pictured = edition_of(2, image="https://news.example.org/p-1200x800.jpg")
    assert 'class="thumb"' in render_email(replace(config, thumbnails=True), pictured,
                                           environment(None)).html
    assert "<img" not in render_email(config, pictured, environment(None)).html
    bad = site_config(tmp_path, feed_server, categories=1, extra='thumbnails = "no"')
    with pytest.raises(ConfigError, match=r"\[digest\] thumbnails: must be true or false"):
        load_config(bad)


def test_preview_writes_html_and_text_and_records_nothing(
        tmp_path: Path, feed_server: FeedServer) -> None:
    config = site_config(tmp_path, feed_server, categories=2, per_category=3,
                         transport="file")
    run(config, "fetch")
    today = NOW.astimezone(load_config(config).timezone).date()
    out = run(config, "preview", "--date", today.isoformat(), "--out", str(tmp_path / "pv"))
    html_path, text_path = tmp_path / "pv" / f"{today}.html", tmp_path / "pv" / f"{today}.txt"
    assert str(html_path) in out and str(text_path) in out
    doc = lxml.html.document_fromstring(html_path.read_text(encoding="utf-8"))
    assert len(doc.cssselect("h3 a")) == 6
    assert "@@digest" not in html_path.read_text() + text_path.read_text()
    assert "Economy" in text_path.read_text(encoding="utf-8")
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM editions").fetchone() == (0,)
    assert not (tmp_path / "outbox").exists()
    run(config, "preview", "--date", "2001-01-01", code=1)


def test_preview_open_hands_the_html_to_the_browser(tmp_path: Path,
                                                    feed_server: FeedServer) -> None:
    """`--open` runs the browser named by $BROWSER (Python's webbrowser) on the HTML file."""
    config = site_config(tmp_path, feed_server, categories=1, per_category=2,
                         transport="file")
    run(config, "fetch")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n', encoding="utf-8")
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": f"{browser} %s"}
    done = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), "preview",
                           "--open"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    html = Path(done.stdout.splitlines()[0])
    assert opened.read_text(encoding="utf-8").strip() == html.resolve().as_uri()
    env["BROWSER"] = str(tmp_path / "no-such-browser")
    env["PATH"] = "/nonexistent"
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), "preview",
                           "--open"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and "no web browser could be started" in done.stderr, done.stderr


def test_send_to_mails_one_test_copy_and_records_nothing(
        tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer) -> None:
    config = site_config(tmp_path, feed_server, categories=2, per_category=3,
                         smtp_port=smtp_server.port)
    run(config, "subscribers", "add", READER)
    run(config, "fetch")
    out = run(config, "send", "--to", "editor@example.net")
    assert "test copy" in out and "editor@example.net" in out
    [(_, rcpts, raw)] = smtp_server.mailbox.envelopes
    assert rcpts == ["editor@example.net"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].startswith("[TEST] Aze Daily Digest")
    assert lxml.html.document_fromstring(part(message, "html")).findtext(
        ".//title") == message["Subject"]
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM editions").fetchone() == (0,)
    # The real send afterwards still reaches the subscriber: nothing was recorded.
    out = run(config, "send", "--no-fetch")
    assert "sent 1" in out
    run(config, "send", "--to", "not an address", code=2)


def test_test_send_mails_the_copy_and_send_to_refuses_the_daily_jobs_options(
        tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer) -> None:
    config = site_config(tmp_path, feed_server, categories=1, per_category=2,
                         smtp_port=smtp_server.port)
    run(config, "subscribers", "add", READER)
    run(config, "fetch")
    out = run(config, "test-send", "Editor@Example.NET")
    assert "test copy" in out and "Editor@example.net" in out
    [(_, rcpts, raw)] = smtp_server.mailbox.envelopes
    assert rcpts == ["Editor@example.net"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].startswith("[TEST] ")
    # `send --to` would silently skip the daily job's options: it refuses them instead.
    for option in ("--dry-run", "--no-fetch", "--json", "--retry-unknown"):
        out = run(config, "send", "--to", "editor@example.net", option, code=2)
        assert option in out and "digest test-send ADDRESS" in out
    assert len(smtp_server.mailbox.envelopes) == 1  # nothing more was sent
    out = run(config, "test-send", "not an address", code=2)
    assert "not an address" in out
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM editions").fetchone() == (0,)


def test_the_demo_edition_renders_with_the_bundled_sample(tmp_path: Path,
                                                          sample_copy: Path) -> None:
    """The demo config as shipped: `digest send` with the file transport, as the README runs."""
    root = Path(__file__).resolve().parents[1]
    config = tmp_path / "config.toml"
    config.write_text((root / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    run(config, "subscribers", "import", str(sample_copy / "subscribers.csv"))
    run(config, "send", "--date", "2026-11-25")
    files = sorted((tmp_path / "outbox" / "2026-11-25").glob("*.eml"))
    assert files
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = part(message, "html")
    assert full_date(dt.date(2026, 11, 25), "en") in html
    assert has_date(html, dt.date(2026, 11, 25), "en")
    assert len(html.encode()) < 90 * 1024
    assert lxml.html.document_fromstring(html).findtext(".//title") == message["Subject"]
