"""feedparser's test corpus (2,242 documents) through the project's ingestion and renderers.

No document may crash the run, and for every document under wellformed/sanitize/
nothing executable survives in what is stored or rendered.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import re
from pathlib import Path

import pytest
from support.project import CORPUS, write_config

from digest.config import Config, load_config
from digest.errors import FeedParseError
from digest.models import Article, Edition, Section, StoredArticle
from digest.render.email import render_email
from digest.render.feeds import render_feeds
from digest.render.site import edition_body, render_site
from digest.render.templates import environment
from digest.sources.gather import gather
from digest.sources.parse import parse_feed
from digest.store import Store

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the feedparser corpus is not at {CORPUS} "
    "(it lives in the shared folder next to the repository)")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
SANITIZE = CORPUS / "wellformed" / "sanitize"
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "style", "applet", "frame",
                  "frameset", "base", "meta", "link", "form", "svg", "math"}
DANGEROUS_TEXT = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style)\b|expression\s*\(",
                            re.IGNORECASE)
BAD_SCHEMES = ("javascript:", "data:", "vbscript:", "livescript:", "mocha:")
HEAD = re.compile(r"<head\b.*?</head>", re.IGNORECASE | re.DOTALL)


class ExecutableFinder(html.parser.HTMLParser):
    """Collects every tag or attribute through which HTML could run code."""

    def __init__(self, styles: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.styles = styles  # the email's inlined CSS: allowed, but never expression()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=>")
            if value is None:
                continue
            squeezed = re.sub(r"[\x00-\x20]+", "", value).lower()
            if squeezed.startswith(BAD_SCHEMES):
                self.found.append(f"<{tag} {name}={value[:40]!r}>")
            if "expression(" in squeezed or ("url(" in squeezed and any(
                    s in squeezed for s in BAD_SCHEMES)) or (name == "style" and not self.styles):
                self.found.append(f"<{tag} style={value[:40]!r}>")

    handle_startendtag = handle_starttag


def executable(fragment: str, *, styles: bool = False) -> list[str]:
    finder = ExecutableFinder(styles)
    finder.feed(fragment)
    finder.close()
    return finder.found + [m.group(0) for m in DANGEROUS_TEXT.finditer(fragment)]


def check_article(a: Article | StoredArticle, where: str) -> None:
    assert not executable(a.summary_html), (where, a.summary_html)
    for field in (a.title, a.excerpt, a.author or ""):  # plain text, escaped when rendered
        assert not DANGEROUS_TEXT.search(field), (where, field)
    for url in (a.link, a.image):
        if url:
            assert url.startswith(("http://", "https://", "mailto:")), (where, url)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("corpus")
    files = corpus_files()
    assert len(files) > 2000
    config = load_config(write_config(folder, [("corpus", "Corpus", [str(p) for p in files])],
                                      transport="file", extra="[fetch]\nconcurrency = 4\n"))
    with Store(config.state) as store:
        report = gather(config, store, now=NOW)  # would raise if a document crashed the run
    assert len(report.feeds) == len(files)
    return config, folder, {f.url: f.message or "" for f in report.feeds if f.failed}


@needs_corpus
def test_no_document_crashes_the_run(corpus_run: tuple[Config, Path, dict[str, str]]):
    config, _, failures = corpus_run
    # Failures must be the clear "not a feed" kind, never an unexpected parser exception.
    unexpected = {url: m for url, m in failures.items() if "could not be parsed" in m}
    assert not unexpected
    assert all(m.startswith(("not a readable feed", "not valid JSON", "JSON"))
               for m in failures.values()), failures
    with Store(config.state) as store:
        assert store.article_count() > 100  # documents share ids, so far fewer than entries


@needs_corpus
def test_nothing_executable_is_stored_from_the_sanitize_documents():
    documents = sorted(SANITIZE.glob("*.xml"))
    assert len(documents) > 700
    articles = 0
    for path in documents:
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=NOW)
        except FeedParseError:
            continue
        for a in parsed.articles:
            articles += 1
            check_article(a, path.name)
    assert articles > 150  # most documents hold only what the sanitiser removes


@needs_corpus
def test_nothing_executable_is_rendered(corpus_run: tuple[Config, Path, dict[str, str]]):
    config, _, _ = corpus_run
    with Store(config.state) as store:
        stored = store.candidate_articles(dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
                                          NOW + dt.timedelta(days=1), "2026-11-25")
    assert len(stored) > 100
    for a in stored:
        check_article(a, a.key)
    env = environment(config.templates)
    # Every stored article of the whole corpus in the site, its feeds and email bodies.
    size = 40
    editions = [
        Edition(NOW.date() - dt.timedelta(days=i), (Section("corpus", "Corpus",
                                                            tuple(stored[start:start + size])),),
                NOW - dt.timedelta(days=i), id=i + 1)
        for i, start in enumerate(range(0, len(stored), size))
    ]
    wide = Config(**{**config.__dict__, "feed_editions": len(editions),
                     "max_per_category": size})
    for edition in editions:
        body = edition_body(wide, edition, env)
        assert not executable(body), edition.date
        email = render_email(wide, edition, env)
        assert not executable(HEAD.sub("", email.html), styles=True), edition.date
    pages = render_site(wide, editions, env)
    for name, page in pages.items():
        assert not executable(HEAD.sub("", page), styles=True), name
    feeds = render_feeds(wide, editions, env)  # feedgen raises on characters XML forbids
    for item in json.loads(feeds["feed.json"])["items"]:
        assert not executable(item["content_html"]), item["id"]


@pytest.mark.parametrize("fragment", [
    "<SCRIPT>x</SCRIPT>", "<img src=x oNeRrOr=alert(1)>", '<a href=" jav&#x61;script:alert(1)">',
    '<a href="DATA:text/html,x">', "<iframe src=https://x.org/>", "<p style=\"w:expression(1)\">",
    "<object data=x>", "<embed src=x>", "<style>p{}</style>", '<a href="vbscript:x">',
])
def test_the_checker_finds_what_it_looks_for(fragment: str):
    assert executable(fragment)
