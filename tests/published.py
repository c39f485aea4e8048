"""Checks of what the digest publishes: the RSS Best Practices Profile, Atom, JSON Feed 1.1,
safe HTML and pages whose links resolve. Each check asserts one rule and says which."""

from __future__ import annotations

import email.utils
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import jsonschema
import lxml.html
from lxml import etree

DATA = Path(__file__).resolve().parent / "data"
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
# RFC 822 as the profile wants it: day name optional, 4-digit year, numeric or named zone.
RFC822 = re.compile(r"^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
                    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                    r"\d{2}:\d{2}(:\d{2})? ([+-]\d{4}|GMT|UT)$")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
PLAIN_ELEMENT = re.compile(r"<(title|category|dc:creator|author)>([^<]*)</")
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")
DANGEROUS_TAGS = {"script", "style", "iframe", "object", "embed", "form", "svg", "math",
                  "link", "meta", "base", "frame", "frameset", "applet", "noscript", "template"}
SCHEMA = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))


def no_bozo(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_plain_text(text: str | None, where: str) -> None:
    """Profile: plain text in every element but description/content. A "<" in it is a
    character of the text ("vector<int>"), never markup: how each format carries it
    is checked on the serialised document (RSS: hexadecimal references)."""
    assert text is not None and text.strip(), f"{where}: empty"
    assert not XML_FORBIDDEN.search(text), f"{where}: forbidden characters in {text!r}"



def check_safe_html(fragment: str, where: str) -> None:
    """No executable HTML and no relative URL in a feed's HTML."""
    if not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag.lower() not in DANGEROUS_TAGS, f"{where}: <{element.tag}>"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: {name}= on <{element.tag}>"
            assert name.lower() not in ("style", "srcdoc", "formaction"), f"{where}: {name}"
            if name.lower() in ("href", "src", "cite", "action", "poster", "background"):
                assert absolute(value) or value.startswith("mailto:"), (
                    f"{where}: {name}={value!r} is not an absolute http(s) URL")


def check_rss(data: bytes, self_url: str) -> etree._Element:
    """The RSS Best Practices Profile, rule by rule (see docs/feeds.md)."""
    assert not XML_FORBIDDEN.search(data.decode("utf-8"))
    no_bozo(data)
    # Profile: "&", "<" and ">" in plain text as hexadecimal character references.
    for name, text in PLAIN_ELEMENT.findall(data.decode("utf-8")):
        assert not re.search("&(amp|lt|gt);", text), f"{name}: {text!r}"
    rss = etree.fromstring(data)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    for name in ("title", "link", "description", "language", "lastBuildDate"):
        assert channel.findtext(name), f"channel has no {name}"
    check_plain_text(channel.findtext("title"), "channel title")
    check_plain_text(channel.findtext("description"), "channel description")
    assert absolute(channel.findtext("link") or "")
    [self_link] = [link for link in channel.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href") == self_url
    assert self_link.get("type") == "application/rss+xml"
    build = channel.findtext("lastBuildDate") or ""
    assert RFC822.match(build), build
    items = channel.findall("item")
    guids = [item.findtext("guid") for item in items]
    assert len(set(guids)) == len(guids), "guids are not unique"
    dates = []
    for item in items:
        where = f"item {item.findtext('guid')}"
        check_plain_text(item.findtext("title"), where + " title")
        assert absolute(item.findtext("link") or ""), where + " link"
        guid = item.find("guid")
        assert guid is not None and guid.text, where + " has no guid"
        if guid.get("isPermaLink", "true") == "true":
            assert absolute(guid.text), where + " permalink guid is not a URL"
        pub = item.findtext("pubDate") or ""
        assert RFC822.match(pub), f"{where}: pubDate {pub!r}"
        dates.append(email.utils.parsedate_to_datetime(pub))
        names = [child.tag for child in item]
        assert "description" in names, where + " has no description"
        if CONTENT in names:
            assert names.index("description") < names.index(CONTENT), (
                where + ": description must come before content:encoded")
        check_safe_html(item.findtext("description") or "", where + " description")
        check_safe_html(item.findtext(CONTENT) or "", where + " content:encoded")
        for category in item.findall("category"):
            check_plain_text(category.text, where + " category")
        for creator in item.findall(DC_CREATOR):
            check_plain_text(creator.text, where + " dc:creator")
        for enclosure in item.findall("enclosure"):
            assert absolute(enclosure.get("url") or ""), where + " enclosure url"
            assert enclosure.get("length", "").isdigit() and enclosure.get("type")
    if dates:
        # lastBuildDate comes from the content (the newest item's date or change).
        assert email.utils.parsedate_to_datetime(build) >= max(dates)
    return channel


def check_atom(data: bytes, self_url: str) -> etree._Element:
    assert not XML_FORBIDDEN.search(data.decode("utf-8"))
    no_bozo(data)
    feed = etree.fromstring(data)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}updated")
    assert feed.findtext(f"{ATOM}author/{ATOM}name")
    check_plain_text(feed.findtext(f"{ATOM}title"), "feed title")
    [self_link] = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href") == self_url
    assert self_link.get("type") == "application/atom+xml"
    ids = [entry.findtext(f"{ATOM}id") for entry in feed.findall(f"{ATOM}entry")]
    assert len(set(ids)) == len(ids)
    updated = []
    for entry in feed.findall(f"{ATOM}entry"):
        where = f"entry {entry.findtext(f'{ATOM}id')}"
        assert entry.findtext(f"{ATOM}updated") and entry.findtext(f"{ATOM}published")
        updated.append(entry.findtext(f"{ATOM}updated"))
        check_plain_text(entry.findtext(f"{ATOM}title"), where + " title")
        links = entry.findall(f"{ATOM}link")
        # feedgen issue #135: entry links lose rel and type unless we put them back.
        assert links and all(link.get("rel") and link.get("type") for link in links), where
        alternate = [link for link in links if link.get("rel") == "alternate"]
        assert len(alternate) == 1 and alternate[0].get("type") == "text/html"
        assert all(absolute(link.get("href") or "") for link in links)
        for name in ("content", "summary"):
            element = entry.find(f"{ATOM}{name}")
            if element is not None:
                assert element.get("type") == "html", f"{where}: {name} must be type=html"
                check_safe_html(element.text or "", f"{where} {name}")
        for name in entry.findall(f"{ATOM}author/{ATOM}name"):
            check_plain_text(name.text, where + " author")
    if updated:
        assert feed.findtext(f"{ATOM}updated") == max(updated)
    return feed


def check_json_feed(data: bytes, feed_url: str) -> dict[str, Any]:
    feed: dict[str, Any] = json.loads(data.decode("utf-8"))
    jsonschema.validate(feed, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert feed["feed_url"] == feed_url and absolute(feed["home_page_url"])
    ids = [item["id"] for item in feed["items"]]
    assert len(set(ids)) == len(ids)
    for item in feed["items"]:
        assert absolute(item["url"])
        check_plain_text(item["title"], f"item {item['id']} title")
        check_safe_html(item["content_html"], f"item {item['id']} content_html")
        check_plain_text(item.get("summary", "-"), f"item {item['id']} summary")
        if "image" in item:
            assert absolute(item["image"])
    assert not XML_FORBIDDEN.search(data.decode("utf-8"))
    return feed


def check_feed_folder(output: Path, folder: str, public_url: str) -> None:
    """rss.xml, atom.xml and feed.json of one feed, each against its rules."""
    base = public_url + folder
    check_rss((output / folder / "rss.xml").read_bytes(), base + "rss.xml")
    check_atom((output / folder / "atom.xml").read_bytes(), base + "atom.xml")
    check_json_feed((output / folder / "feed.json").read_bytes(), base + "feed.json")


def check_page_links(page: Path, output: Path) -> list[str]:
    """Every relative link of a page resolves to a file (and anchor) under `output`."""
    tree = lxml.html.parse(str(page))
    targets = []
    for element, attribute, link, _pos in tree.getroot().iterlinks():
        if urlsplit(link).scheme or link.startswith("//"):
            continue
        path, _, fragment = link.partition("#")
        target = (page.parent / path).resolve() if path else page.resolve()
        assert target.is_file(), f"{page.name}: <{element.tag} {attribute}={link!r}> is missing"
        assert output.resolve() in target.parents, f"{page.name}: {link} leaves the output"
        if fragment:
            ids = lxml.html.parse(str(target)).getroot().xpath("//@id")
            assert fragment in ids, f"{page.name}: {link} has no anchor"
        targets.append(str(target.relative_to(output.resolve())))
    return targets
