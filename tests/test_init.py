"""`digest init`: a WordPress site's categories found over real HTTP, a config that loads."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import tomllib
from email.headerregistry import Address
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from feeds import Item, rss
from support.project import DATA
from support.servers import FeedServer, Route

from digest.cli import cli
from digest.config import WordPressSource, load_config
from digest.render.templates import default_templates
from digest.scaffold import render_config
from digest.scaffold.discover import FoundCategory, Site

WORDPRESS = DATA / "wordpress"
ROOT = Path(__file__).resolve().parents[1]


def page(server: FeedServer, name: str) -> bytes:
    return (WORDPRESS / name).read_text(encoding="utf-8").replace(
        "{BASE}", server.base).encode("utf-8")


@pytest.fixture
def wordpress(feed_server: FeedServer) -> FeedServer:
    """A WordPress 6.7 site: home page, REST API index, paged categories, category feeds."""
    html = {"Content-Type": "text/html; charset=UTF-8"}
    api = {"Content-Type": "application/json; charset=UTF-8"}
    feed_server.routes["/"] = Route(200, html, page(feed_server, "home.html"))
    feed_server.routes["/wp-json/"] = Route(200, api, page(feed_server, "index.json"))

    def categories(request: object) -> Route:
        query = parse_qs(urlsplit(getattr(request, "path", "")).query)
        number = query.get("page", ["1"])[0]
        return Route(200, {**api, "X-WP-Total": "5", "X-WP-TotalPages": "2"},
                     page(feed_server, f"categories-{number}.json"))

    feed_server.routes["/wp-json/wp/v2/categories"] = Route(handler=categories)
    feed_server.routes["/wp-json/wp/v2/posts"] = Route(
        200, {**api, "X-WP-Total": "0", "X-WP-TotalPages": "0"}, b"[]")
    # HTTP clients send percent-escapes in capitals, whatever the link had.
    for slug in ("news", "economy", "climate-and-ecology", "m%C9%99d%C9%99niyy%C9%99t",
                 "energy", "culture"):
        feed_server.routes[f"/category/{slug}/feed/"] = Route(
            200, {"Content-Type": "application/rss+xml; charset=UTF-8"},
            rss(slug, [Item(1, f"A story in {slug}", None)]))
    return feed_server


def invoke(*args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.stdout, result.stderr


def test_wordpress_categories_come_from_the_rest_api_and_are_read_through_it(
        wordpress: FeedServer, tmp_path: Path):
    folder = tmp_path / "aze"
    _, err = invoke("init", str(folder), "--url", wordpress.url("/"), "--no-input")
    assert "WordPress site Aze News; 4 categories from its REST API" in err
    assert "the REST API answers, so the categories are read through it" in err

    config = load_config(folder / "config.toml")
    assert config.title == "Aze News Daily Digest"
    assert config.link == wordpress.url("/")
    assert config.public_url == wordpress.url("/digest/")
    assert str(config.timezone) == "Asia/Baku"  # the site's timezone_string
    assert config.description == "Independent news from Baku"
    assert config.email.transport == "file"  # nothing is mailed until the editor says so
    assert config.templates == (folder / "templates").resolve()
    # Both pages of categories, by article count; WordPress's "Uncategorized" left out;
    # names unescaped; a percent-encoded Azerbaijani slug made ASCII for the digest, kept
    # as WordPress knows it for the API.
    assert [(c.slug, c.title) for c in config.categories] == [
        ("news", "News"), ("economy", "Economy"),
        ("climate-and-ecology", "Climate & Ecology"), ("medeniyyet", "Mədəniyyət")]
    assert config.categories[0].feeds == ()
    assert config.categories[0].wordpress == (WordPressSource(wordpress.base, "news"),)
    assert config.categories[3].wordpress == (
        WordPressSource(wordpress.base, "m%c9%99d%c9%99niyy%c9%99t"),)
    asked = [r.path for r in wordpress.requests
             if r.path.startswith("/wp-json/wp/v2/categories")]
    assert len(asked) == 2 and "page=2" in asked[1]
    assert all(r.headers["user-agent"].startswith("digest/") for r in wordpress.requests)

    text = (folder / "config.toml").read_text(encoding="utf-8")
    assert "# 412 articles on the site when `digest init` ran" in text
    assert f'# or its feed: feeds = ["{wordpress.url("/category/news/feed/")}"]' in text
    assert "CHANGE" not in text  # everything came from the site

    # The templates to customise are the built-in ones, byte for byte.
    defaults = sorted(p.name for p in default_templates().iterdir() if p.is_file())
    assert sorted(p.name for p in (folder / "templates").iterdir()) == defaults
    for name in defaults:
        assert (folder / "templates" / name).read_bytes() == \
            (default_templates() / name).read_bytes()

    # The sources really answer: `feeds check` reads every one through the API.
    out, err = invoke("--config", str(folder / "config.toml"), "feeds", "check")
    assert "checked 4 feeds: 4 ok, 0 failed" in err
    assert out.count("\nok ") == 4


def test_where_the_api_lists_no_posts_the_category_feeds_are_used(wordpress: FeedServer,
                                                                  tmp_path: Path):
    wordpress.routes["/wp-json/wp/v2/posts"] = Route(
        401, {"Content-Type": "application/json"}, b'{"code":"rest_forbidden"}')
    _, err = invoke("init", str(tmp_path), "--url", wordpress.url("/"), "--no-input")
    assert "lists categories but not posts; category feeds are used" in err
    config = load_config(tmp_path / "config.toml")
    assert config.categories[0].feeds == (wordpress.url("/category/news/feed/"),)
    assert config.categories[3].feeds == (
        wordpress.url("/category/m%c9%99d%c9%99niyy%c9%99t/feed/"),)
    assert all(not c.wordpress for c in config.categories)
    _, err = invoke("--config", str(tmp_path / "config.toml"), "feeds", "check")
    assert "checked 4 feeds: 4 ok, 0 failed" in err


def test_feeds_asks_for_category_feeds_where_the_api_answers(wordpress: FeedServer,
                                                            tmp_path: Path):
    _, err = invoke("init", str(tmp_path), "--url", wordpress.url("/"), "--no-input",
                    "--feeds")
    assert "read through it" not in err
    config = load_config(tmp_path / "config.toml")
    assert [c.feeds for c in config.categories][:2] == [
        (wordpress.url("/category/news/feed/"),), (wordpress.url("/category/economy/feed/"),)]
    assert all(not c.wordpress for c in config.categories)


def test_the_site_address_as_the_argument_is_never_made_a_folder(
        wordpress: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    _, err = invoke("init", wordpress.url("/"), "--no-input")
    assert "WordPress site Aze News; 4 categories from its REST API" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "templates"]
    config = load_config(tmp_path / "config.toml")
    assert len(config.categories) == 4
    # Given twice, it is a mistake to say out loud, not a folder named "http:".
    _, err = invoke("init", wordpress.url("/"), "--url", wordpress.url("/"), "--no-input",
                    "--force", code=2)
    assert "looks like a site address, not a folder" in err
    assert not (tmp_path / "http:").exists()


def test_an_ip_address_host_gives_a_valid_sender(wordpress: FeedServer, tmp_path: Path):
    invoke("init", str(tmp_path), "--url", wordpress.url("/"), "--no-input")
    config = load_config(tmp_path / "config.toml")
    assert config.email.sender_address == "digest@[127.0.0.1]"
    # A domain literal, as RFC 5322 writes an address at an IP: it parses as one.
    assert Address(addr_spec=config.email.sender_address).domain == "[127.0.0.1]"


def test_a_plain_permalink_site_is_read_through_rest_route(feed_server: FeedServer,
                                                           tmp_path: Path):
    api = {"Content-Type": "application/json; charset=UTF-8"}
    base = feed_server.base

    def home(request: object) -> Route:
        query = parse_qs(urlsplit(getattr(request, "path", "")).query)
        route = query.get("rest_route", [None])[0]
        if route == "/":
            return Route(200, api, json.dumps({"name": "Plain News", "description": "",
                                                "timezone_string": "Asia/Baku"}).encode())
        if route == "/wp/v2/categories":
            return Route(200, {**api, "X-WP-TotalPages": "1"}, json.dumps([
                {"id": 3, "count": 9, "name": "Economy", "slug": "economy",
                 "link": f"{base}/?cat=3"}]).encode())
        if route == "/wp/v2/posts":
            return Route(200, {**api, "X-WP-TotalPages": "0"}, b"[]")
        if query.get("cat") == ["3"] and query.get("feed") == ["rss2"]:
            return Route(200, {"Content-Type": "application/rss+xml"},
                         rss("economy", [Item(1, "Manat", None)]))
        return Route(200, {"Content-Type": "text/html",
                           "Link": f'<{base}/?rest_route=/>; rel="https://api.w.org/"'},
                     b"<html><head><title>Plain News</title></head></html>")

    feed_server.routes["/"] = Route(handler=home)
    _, err = invoke("init", str(tmp_path), "--url", feed_server.url("/"), "--no-input")
    assert "1 categories from its REST API" in err
    config = load_config(tmp_path / "config.toml")
    assert config.categories[0].wordpress == (WordPressSource(base, "economy"),)
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert f'# or its feed: feeds = ["{base}/?cat=3&feed=rss2"]' in text
    _, err = invoke("--config", str(tmp_path / "config.toml"), "feeds", "check")
    assert "checked 1 feeds: 1 ok, 0 failed" in err


def test_without_the_rest_api_the_home_pages_category_links_are_used(
        wordpress: FeedServer, tmp_path: Path):
    wordpress.routes["/wp-json/"] = Route(404, {"Content-Type": "application/json"},
                                          b'{"code":"rest_disabled"}')
    _, err = invoke("init", str(tmp_path), "--url", wordpress.url("/"), "--no-input")
    assert f"the WordPress REST API at {wordpress.url('/wp-json/')} could not be used" in err
    assert "HTTP 404" in err
    config = load_config(tmp_path / "config.toml")
    # Menu, post meta and widget links, in page order, each once; not "Uncategorized",
    # not a category's feed or its page 2.
    assert [(c.slug, c.title) for c in config.categories] == [
        ("news", "News"), ("economy", "Economy"), ("energy", "Energy"),
        ("climate-and-ecology", "Climate & Ecology"), ("politics", "Politics"),
        ("culture", "Culture")]
    assert config.categories[3].feeds == (wordpress.url("/category/climate-and-ecology/feed/"),)
    assert config.title == "Aze News Daily Digest"  # og:site_name
    assert str(config.timezone) == "UTC"
    assert "# CHANGE: the publication's time zone" in (tmp_path / "config.toml").read_text()


def test_a_site_that_cannot_be_read_is_an_error_that_says_what_to_do(
        feed_server: FeedServer, tmp_path: Path):
    _, err = invoke("init", str(tmp_path), "--url", feed_server.url("/"), "--no-input",
                    code=1)
    assert f"error: {feed_server.url('/')} answered HTTP 404" in err
    assert "digest init --no-input" in err
    _, err = invoke("init", str(tmp_path), "--url", "news.example.org", "--no-input", code=1)
    assert "'news.example.org' is not a site address; give one like https://" in err
    assert not (tmp_path / "config.toml").exists()


def test_no_input_writes_a_template_that_loads_and_is_never_overwritten(tmp_path: Path):
    _, err = invoke("init", str(tmp_path), "--no-input")
    assert "(a template to fill in)" in err
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert "# CHANGE: the newsletter's name" in text
    config = load_config(tmp_path / "config.toml")
    assert [c.slug for c in config.categories] == ["news"]

    _, err = invoke("init", str(tmp_path), "--no-input", code=2)
    assert "config.toml already exists; edit it, choose another folder, or pass --force" in err

    # --force replaces the config but never an edited template.
    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    (tmp_path / "templates" / "email.html").write_text("{# mine #}", encoding="utf-8")
    _, err = invoke("init", str(tmp_path), "--no-input", "--force")
    count = sum(1 for p in default_templates().rglob("*") if p.is_file())
    assert f"and 0 templates in {tmp_path / 'templates'}, kept {count} already there" in err
    assert (tmp_path / "templates" / "email.html").read_text() == "{# mine #}"
    assert "# CHANGE" in (tmp_path / "config.toml").read_text()


def test_init_as_a_real_command_in_a_new_folder(wordpress: FeedServer, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "digest", "init", "site", "--url", wordpress.url("/"),
         "--no-input"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # messages only, on stderr
    assert "wrote site/config.toml (4 categories)" in result.stderr
    assert (tmp_path / "site" / "templates" / "email.html").is_file()
    check = subprocess.run([sys.executable, "-m", "digest", "feeds", "check", "--json"],
                           cwd=tmp_path / "site", capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert '"outcome": "ok"' in check.stdout


def test_on_a_terminal_init_asks_for_the_site_title_and_sender(wordpress: FeedServer,
                                                               tmp_path: Path):
    master, slave = pty.openpty()
    # Site, title, a sender without an address (asked again), then the default sender.
    answers = f"{wordpress.url('/')}\nAze Morning Brief\nnobody\n\n".encode()
    os.write(master, answers)  # the terminal keeps typed lines until they are read
    try:
        result = subprocess.run([sys.executable, "-m", "digest", "init", "site"],
                                cwd=tmp_path, stdin=slave, capture_output=True,
                                timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "Site address (empty for a template to fill in):" in err
    assert "Digest title [Aze News Daily Digest]:" in err
    assert "Sender (From) [Aze Morning Brief <digest@[127.0.0.1]>]:" in err
    assert "Error: give an address like 'Aze Daily <digest@example.org>'" in err
    assert "  Climate & Ecology (climate-and-ecology, 37 articles): " in err
    data = tomllib.loads((tmp_path / "site" / "config.toml").read_text(encoding="utf-8"))
    assert data["digest"]["title"] == "Aze Morning Brief"
    assert data["email"]["from"] == "Aze Morning Brief <digest@[127.0.0.1]>"
    assert len(data["categories"]) == 4


def test_a_site_that_is_not_wordpress_gets_its_advertised_feed(feed_server: FeedServer,
                                                               tmp_path: Path):
    feed_server.routes["/"] = Route(200, {"Content-Type": "text/html"}, (
        '<html lang="az"><head><title>Xəbər Portalı</title>'
        '<link rel="alternate" type="application/atom+xml" title="Comments" href="/c.xml">'
        '<link rel="alternate" type="application/atom+xml" title="All" href="/atom.xml">'
        "</head><body><a href='/about/'>About</a></body></html>").encode())
    _, err = invoke("init", str(tmp_path), "--url", feed_server.url("/"), "--no-input")
    assert "site Xəbər Portalı; 0 categories from nowhere" in err
    config = load_config(tmp_path / "config.toml")
    assert [(c.slug, c.feeds) for c in config.categories] == [
        ("news", (feed_server.url("/atom.xml"),))]
    assert config.language == "az" and config.title == "Xəbər Portalı Daily Digest"

    # A page without any feed: an example category, marked to be changed.
    feed_server.routes["/"] = Route(200, {"Content-Type": "text/html"},
                                    b"<html><head><title>Plain</title></head></html>")
    _, err = invoke("init", str(tmp_path), "--url", feed_server.url("/"), "--no-input",
                    "--force")
    assert "no category or feed found at" in err
    config = load_config(tmp_path / "config.toml")
    assert config.categories[0].feeds == (feed_server.url("/category/news/feed/"),)
    assert "# CHANGE: an example; put the site's sections" in \
        (tmp_path / "config.toml").read_text(encoding="utf-8")


def test_a_site_with_many_categories_keeps_the_biggest_and_lists_the_rest(tmp_path: Path):
    found = tuple(FoundCategory(f"c{n}", f"Category {n}", f"https://x.example/category/c{n}/",
                                f"https://x.example/category/c{n}/feed/", 100 - n)
                  for n in range(15))
    site = Site("https://x.example/", "X", None, "en", "Europe/Berlin", True, "rest-api",
                found, (), ())
    path = tmp_path / "config.toml"
    path.write_text(render_config(site), encoding="utf-8")
    (tmp_path / "templates").mkdir()
    config = load_config(path)
    assert [c.slug for c in config.categories] == [f"c{n}" for n in range(12)]
    text = path.read_text(encoding="utf-8")
    assert "# Other categories found on the site; uncomment the ones you want." in text
    assert '# slug = "c14"' in text
    # Uncommented, the rest are valid categories too.
    path.write_text(re.sub(r"(?m)^# (\[\[categories\]\]|slug = |title = |feeds = )", r"\1",
                           text), encoding="utf-8")
    assert len(load_config(path).categories) == 15


def test_plain_permalink_category_links_without_the_api(feed_server: FeedServer,
                                                        tmp_path: Path):
    feed_server.routes["/"] = Route(200, {"Content-Type": "text/html"}, (
        b'<html><head><title>Plain News</title>'
        b'<meta name="generator" content="WordPress 6.4.2"></head><body>'
        b'<a href="/?cat=3">Economy</a> <a href="/?cat=1">Uncategorized</a> '
        b'<a href="/?cat=4">Climate &amp; Ecology</a> <a href="/?p=7">A post</a>'
        b"</body></html>"))
    _, err = invoke("init", str(tmp_path), "--url", feed_server.url("/"), "--no-input")
    assert "2 categories from its home page's links" in err
    config = load_config(tmp_path / "config.toml")
    assert [(c.slug, c.title, c.feeds) for c in config.categories] == [
        ("economy", "Economy", (feed_server.url("/?cat=3&feed=rss2"),)),
        ("climate-ecology", "Climate & Ecology", (feed_server.url("/?cat=4&feed=rss2"),))]
