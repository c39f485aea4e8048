"""A real WordPress for the tests: Debian's packages, a private MariaDB, `php -S` on loopback.

Fixtures (tests/conftest.py)
----------------------------
``wordpress_server`` (session scope)
    Starts one site per test session and stops it after: a private ``mariadbd`` (own datadir
    and socket in a temporary folder, no TCP), Debian's ``/usr/share/wordpress`` laid out in the
    same folder with its own ``wp-config.php``, WordPress installed by ``wp_install()`` and seeded
    by PHP scripts (tests/wordpress/*.php), then two ``php -S 127.0.0.1:PORT`` servers on the same
    database: ``site.url`` with pretty permalinks, ``site.plain_url`` with plain ones (more on
    demand: ``site.serve()``).
    Skips, saying which, only when a Debian package it needs is not installed (.ci/run installs
    them: wordpress, mariadb-server, php-cli, php-mysql, php-gd).
``wordpress`` (function scope)
    The same ``WordPressSite``, first reset to the seeded state if an earlier test changed it.

The seeded site (``SEED``, shaped like Aze.Media)
-------------------------------------------------
Time zone ``TIME_ZONE`` (Asia/Baku), 10 posts per feed (WordPress's default), full text in feeds.
Twelve categories (``CATEGORIES``): News with children Economy, Energy and Climate and Ecology
(slug ``climate-and-ecology``), then Opinion, Culture, Gender, Science, Defense, Karabakh,
Diaspora and Logistics-Transport (slug ``logistics-transport``); "Uncategorized" is removed.
Posts, dated relative to ``site.now`` (the moment of seeding, UTC, whole seconds):

- 41 public posts (published, no password) between 12 minutes and 46 hours old, so that they
  stay inside a 48-hour window for two hours after seeding. 23 of them are in News or its
  children (News's feed needs three pages), some only in a child category, five in two
  categories (two News+Economy, Economy+Logistics-Transport, Opinion+Culture,
  Karabakh+Defense).
  One of them (key ``edited``) was edited at seeding: its ``modified_gmt`` is later than its
  date and its title ends with "(updated)". Every third has a featured image (JPEG or PNG,
  1200x800 or 1000x600) with the sizes WordPress makes (thumbnail, medium, medium_large, and
  large when wider than 1024); every sixth also shows it at the top of its text (a block
  editor ``<figure>`` with the medium_large size and a srcset): WordPress's RSS carries no
  featured image, so that is the only picture a feed gives.
- not public: 2 password-protected published posts (password ``secret``), 1 private,
  2 drafts, 1 pending review, 2 scheduled (``future``, 2 and 26 hours ahead);
- 4 published posts 52 to 80 hours old: outside a 48-hour window.

Authors have display names with Azerbaijani letters (``AUTHORS``). Titles are plain text that
WordPress shows unchanged (typographic quotes written as such, ``&`` in some); a password-protected
post's title is shown by WordPress as "Protected: <title>". Content is paragraphs of plain words:
``Post.words`` is its word count.

API
---
``site.url``, ``site.plain_url``
    ``http://127.0.0.1:PORT`` without a trailing slash. Pretty: ``/category/economy/feed/``,
    ``/wp-json/wp/v2/posts``. Plain: ``/?cat=ID&feed=rss2``, ``/?rest_route=/wp/v2/posts``,
    ``/?p=ID``. Both send ``Link: <…>; rel="https://api.w.org/"`` on HTML pages and
    ETag/Last-Modified (304 on a conditional GET) on feeds.
``site.now``
    The UTC moment the seed's ages are counted from.
``site.manifest``
    A ``Manifest``, read back from WordPress after every change: ``.categories``
    (``Category``: id, slug, name, parent slug, count), ``.posts`` (``Post``, oldest first),
    ``.post(key)``, ``.category(slug)``, ``.public()`` (published without a password),
    ``.window(hours=48, now=None)`` (public posts with ``now - hours < date_gmt <= now``),
    ``.in_category(slug, children=True)``. A ``Post`` has id, key, title, slug, link (pretty),
    guid (``URL/?p=ID``, as WordPress's editor makes it; ``plain_link(post)`` on the other
    server), categories (slugs, WordPress's order), status, date_gmt and modified_gmt (aware UTC),
    author (display name), password (bool), content (HTML as stored), excerpt (as stored, often
    empty), words, image (``FeaturedImage`` or None: id, url, width, height, mime_type, alt,
    sizes: name -> ``ImageSize`` with url, width, height), and ``.public``.
    ``site.plain_link(post)`` is its link on the plain-permalink server.
``site.feed_url(slug, plain=False)``, ``site.api_url(route, plain=False)``
    ``/category/SLUG/feed/`` or ``/?cat=ID&feed=rss2``; ``/wp-json/ROUTE`` or
    ``/?rest_route=ROUTE`` (route like ``/wp/v2/posts``). WordPress also answers a child's
    feed at ``/category/news/economy/feed/``, the address its own pages advertise.
``site.add_post(title, categories, *, age=timedelta(0), status="publish", author="leyla",
words=300, image=False, inline_image=False, password="", excerpt="", key=None)``
    Publishes (or drafts, schedules …) a post dated ``age`` before the current time (a negative
    age, or a date after WordPress's clock, makes a scheduled post) and returns its ``Post``:
    a "second day". ``author`` is a login from ``AUTHORS``; ``categories`` are slugs. Mind
    WordPress's rule for feeds' ETag and Last-Modified: they come from the latest date or
    modified date of any post, to the second, so a post dated before the site's last change
    leaves them as they were and a conditional GET of a feed still gets 304 (as on a real
    site); with the default age of 0 they change.
``site.edit_post(post_id, *, title=None, words=None) -> Post``
    Edits a post now (its modified date becomes the current time).
``site.php(code) -> str``
    Runs PHP code inside WordPress (after wp-load.php) and returns what it printed.
``site.serve(*, plain=False, rest=True) -> str``
    The site's URL on a server with these permalinks, started on first use (pretty and plain
    with an open API are ``url`` and ``plain_url``). ``rest=False``: the REST API answers
    401 "rest_not_logged_in" to visitors, as security plugins make it, while pages still
    advertise it in their Link header.
``site.requests(since=None) -> list[ServedRequest]``
    What the servers answered (``server`` "pretty", "plain", "pretty-closed" …, method, path
    with query, status), read from the servers' logs; ``mark = site.mark()`` then
    ``site.requests(since=mark)`` gives those after a point. A PHP script's answer (all of
    WordPress's) is logged before the connection closes, so it is there once a client has
    read the whole answer; a static file's (an image) may lag a moment.
``site.reset()``
    Restores the seeded database (uploaded files added later stay; they are not listed).

What WordPress (6.1 in Debian 12) does that a client must know, seen here:

- a parent category's feed carries its children's posts, naming only the post's own categories
  in ``<category>``; pages advertise a child's feed as ``/category/news/economy/feed/``;
- the REST ``categories=ID`` filter leaves out the children's posts unless asked with
  ``categories[terms]=ID&categories[include_children]=1``;
- a feed's ``atom:link rel="self"`` drops the port (``http://127.0.0.1/category/news/feed/``)
  in this release: not an address to fetch;
- feeds' ETag and Last-Modified are the site's, not the feed's (see ``add_post``); a feed
  page past the last answers 404; RSS has no featured image and no ``rel="next"`` link.

The administrator is ``admin`` (password ``admin-password-for-tests``); wp-admin works, but
tests change the site through the calls above. Nothing leaves the machine: no mail, no cron,
no update checks (``WP_HTTP_BLOCK_EXTERNAL``).
``site.stop()``
    Stops the servers (the fixture and ``start_site`` do it). Should the test run be killed
    before, a watchdog process started with the servers stops them and removes the folder.
``start_site(folder=None) -> WordPressSite`` (a context manager)
    The same outside pytest. ``.venv/bin/python tests/wordpress_site.py`` serves the seeded
    site until interrupted (``--exit``: start, report the start-up time, stop).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.servers import free_port, reaped

HERE = Path(__file__).resolve().parent / "wordpress"
WORDPRESS = Path("/usr/share/wordpress")
PACKAGES = "wordpress mariadb-server php-cli php-mysql php-gd"
TIME_ZONE = "Asia/Baku"  # the site's; WordPress's feeds give GMT dates, its REST API both
UTC = dt.UTC

AUTHORS = (
    ("leyla", "Leyla Məmmədova"),
    ("rashad", "Rəşad Əliyev"),
    ("nigar", "Nigar Hüseynova"),
    ("farid", "Farid Quliyev"),
    ("aysel", "Aysel Şükürova"),
)

CATEGORIES = (  # slug, name, parent slug
    ("news", "News", None),
    ("economy", "Economy", "news"),
    ("energy", "Energy", "news"),
    ("climate-and-ecology", "Climate and Ecology", "news"),
    ("opinion", "Opinion", None),
    ("culture", "Culture", None),
    ("gender", "Gender", None),
    ("science", "Science", None),
    ("defense", "Defense", None),
    ("karabakh", "Karabakh", None),
    ("diaspora", "Diaspora", None),
    ("logistics-transport", "Logistics-Transport", None),
)

# The 41 public posts in the window, oldest first: categories and title.
_PUBLIC = (
    (("news",), "Parliament approves the 2027 state budget in first reading"),
    (("economy",), "Manat steady as the central bank keeps its rate at 7.25%"),
    (("opinion",), "Why the Middle Corridor needs more than rails"),
    (("energy",), "SOCAR signs a solar deal for Absheron"),
    (("karabakh",), "Families return to Lachin’s new quarter"),
    (("news", "economy"), "Tariff talks with Georgia: what changes for traders"),
    (("climate-and-ecology",), "Caspian sea level falls for the fifth year running"),
    (("culture",), "Mugham festival opens in Shusha"),
    (("economy", "logistics-transport"), "Alat port’s cargo up 18% in ten months"),
    (("news",), "Baku metro extension: three stations by 2028"),
    (("science",), "Shamakhi observatory joins a European telescope network"),
    (("defense",), "Joint exercises with Türkiye end in Nakhchivan"),
    (("economy",), "Non-oil exports grow, led by fruit & vegetables"),
    (("gender",), "More women in the Milli Majlis than ever before"),
    (("energy",), "Gas to Europe: the Southern Gas Corridor at full capacity"),
    (("opinion", "culture"), "The “old city” is a living neighbourhood, not a museum"),
    (("news",), "Heavy snow closes mountain roads in Gusar"),
    (("diaspora",), "Azerbaijani students in Berlin found a film club"),
    (("economy",), "Inflation eases to 4.2% in October"),
    (("climate-and-ecology",), "Kura delta wetlands get new protection"),
    (("karabakh", "defense"), "Demining reaches 100,000 hectares"),
    (("news", "economy"), "Budget 2027: where the oil money goes"),
    (("logistics-transport",), "New freight trains link Baku and Xi’an in 11 days"),
    (("energy",), "Wind farm in Khizi reaches first power"),
    (("news",), "Elections to municipal councils set for spring"),
    (("opinion",), "Letters: readers on the price of bread"),
    (("science",), "ADA University launches a quantum computing lab"),
    (("economy",), "Banks’ lending to small firms rises by a third"),
    (("culture",), "Nizami’s manuscripts digitised and online"),
    (("news",), "Water supply restored in Sumgayit after repairs"),
    (("climate-and-ecology",), "Air quality: Baku’s worst days are in January"),
    (("defense",), "Military hospital opens in Fuzuli"),
    (("energy",), "Azeri–Chirag–Gunashli output holds steady"),
    (("diaspora",), "Diaspora congress to meet in Baku in June"),
    (("economy",), "Tourism revenue beats pre-pandemic levels"),
    (("news",), "Weather: a cold week ahead for the whole country"),
    (("karabakh",), "Aghdam’s mosque restored & reopened"),
    (("logistics-transport",), "Heydar Aliyev airport opens a cargo terminal"),
    (("opinion",), "What a digest newsletter owes its readers"),
    (("economy",), "Caspian caviar exports resume under quota"),
    (("news",), "Cabinet reshuffle: two new ministers sworn in"),
)

_TEXT = (
    "the government said on tuesday that new rules would take effect next month while "
    "officials in baku and ganja described the plan as a step toward a more open market "
    "for farmers traders and small firms across the regions of the country experts noted "
    "that prices had risen in the autumn but the central bank expected inflation to ease "
    "as harvests reached the shops and transport costs fell along the middle corridor"
)


@dataclass(frozen=True)
class PostSpec:
    """A post to seed: its age is counted back from the seeding moment (negative: future)."""

    key: str
    title: str
    categories: tuple[str, ...]
    age: dt.timedelta
    status: str = "publish"
    author: str = "leyla"
    words: int = 300
    image: tuple[str, int, int] | None = None  # format ("jpeg"/"png"), width, height
    inline_image: bool = False  # the featured image also at the top of the content
    password: str = ""
    excerpt: str = ""
    edited_title: str = ""  # set: edited at seeding, its title becomes this


def _seed() -> tuple[PostSpec, ...]:
    specs: list[PostSpec] = []
    authors = itertools.cycle(login for login, _ in AUTHORS)
    span = 46 * 60 - 12  # minutes between the oldest and the newest public post
    for number, (categories, title) in enumerate(_PUBLIC):
        minutes = 46 * 60 - number * span // (len(_PUBLIC) - 1)
        image = None
        if number % 3 == 0:
            image = ("png", 1000, 600) if number % 9 == 0 else ("jpeg", 1200, 800)
        key = f"p{number:02d}"
        edited = ""
        if number == 5:  # News+Economy, about 38 hours old
            key, edited = "edited", title + " (updated)"
        specs.append(PostSpec(
            key=key, title=title, categories=categories, age=dt.timedelta(minutes=minutes),
            author=next(authors), words=120 + (number * 137) % 1100, image=image,
            inline_image=number % 6 == 0,
            excerpt="A short summary written by the editor." if number % 7 == 3 else "",
            edited_title=edited))
    hours = dt.timedelta(hours=1)
    specs += [
        PostSpec("protected-economy", "Bank results for subscribers only", ("economy",),
                 6 * hours, password="secret", words=500),
        PostSpec("protected-opinion", "A column behind a password", ("opinion",),
                 20 * hours, password="secret", author="rashad", words=700),
        PostSpec("private", "Editors’ notes on the budget", ("news",), 5 * hours,
                 status="private", author="nigar"),
        PostSpec("draft", "Draft: the week in pictures", ("culture",), 3 * hours,
                 status="draft", author="farid"),
        PostSpec("draft-economy", "Draft: bank rates explained", ("economy",), 9 * hours,
                 status="draft"),
        PostSpec("pending", "Pending review: port statistics", ("logistics-transport",),
                 1 * hours, status="pending", author="aysel"),
        PostSpec("scheduled", "Scheduled: tomorrow’s budget vote", ("news",), -2 * hours,
                 status="future", author="rashad"),
        PostSpec("scheduled-energy", "Scheduled: the wind farm’s first year", ("energy",),
                 -26 * hours, status="future", author="nigar", image=("jpeg", 1200, 800)),
        PostSpec("old-news", "Old news: last week’s storm", ("news",), 52 * hours),
        PostSpec("old-economy", "Old news: the October trade figures", ("economy",),
                 60 * hours, author="farid"),
        PostSpec("old-opinion", "Old column: on patience", ("opinion",), 70 * hours,
                 author="aysel"),
        PostSpec("old-karabakh", "Old news: a road to Kalbajar", ("karabakh",), 80 * hours,
                 author="rashad", image=("jpeg", 1200, 800)),
    ]
    return tuple(specs)


SEED = _seed()


def content(words: int, title: str = "") -> str:
    """Paragraphs of `words` plain words (60 a paragraph)."""
    text = list(itertools.islice(itertools.cycle(_TEXT.split()), words))
    if text:
        text[0] = text[0].capitalize()
    paragraphs = [" ".join(text[i:i + 60]) for i in range(0, len(text), 60)]
    return "\n\n".join(f"<p>{p}.</p>" if i == len(paragraphs) - 1 else f"<p>{p}</p>"
                       for i, p in enumerate(paragraphs))


def word_count(html: str) -> int:
    return len(re.sub(r"<[^>]+>", " ", html).split())


@dataclass(frozen=True)
class Category:
    id: int
    slug: str
    name: str
    parent: str | None  # the parent's slug
    count: int  # published posts, as WordPress counts them


@dataclass(frozen=True)
class ImageSize:
    url: str
    width: int
    height: int


@dataclass(frozen=True)
class FeaturedImage:
    id: int
    url: str  # the original upload
    width: int
    height: int
    mime_type: str
    alt: str
    sizes: Mapping[str, ImageSize]  # thumbnail, medium, medium_large, large …


@dataclass(frozen=True)
class Post:
    id: int
    key: str
    title: str  # as stored: what WordPress shows (but "Protected: …" for a password)
    slug: str
    link: str  # pretty permalink
    guid: str  # http://127.0.0.1:PORT/?p=ID (the plain server's: site.plain_link(post))
    categories: tuple[str, ...]  # slugs
    status: str  # publish, future, draft, pending, private
    date_gmt: dt.datetime | None  # aware UTC; None for an undated draft
    modified_gmt: dt.datetime
    author: str  # display name
    password: bool
    content: str
    excerpt: str
    words: int
    image: FeaturedImage | None

    @property
    def public(self) -> bool:
        """Anyone may read it: published, without a password."""
        return self.status == "publish" and not self.password


@dataclass(frozen=True)
class Manifest:
    """The site as WordPress saw it after the last change."""

    now: dt.datetime  # the moment ages are counted from (the seeding)
    categories: tuple[Category, ...]
    posts: tuple[Post, ...]  # oldest first

    def post(self, key: str) -> Post:
        for post in self.posts:
            if post.key == key:
                return post
        raise KeyError(key)

    def category(self, slug: str) -> Category:
        for category in self.categories:
            if category.slug == slug:
                return category
        raise KeyError(slug)

    def public(self) -> tuple[Post, ...]:
        return tuple(p for p in self.posts if p.public)

    def window(self, hours: float = 48, now: dt.datetime | None = None) -> tuple[Post, ...]:
        """Public posts dated within `hours` before `now` (default: the seeding moment)."""
        end = now or self.now
        start = end - dt.timedelta(hours=hours)
        return tuple(p for p in self.public()
                     if p.date_gmt is not None and start < p.date_gmt <= end)

    def in_category(self, slug: str, children: bool = True) -> tuple[Post, ...]:
        """Posts (any status) in a category, or, with `children`, in one of its children."""
        slugs = {slug}
        if children:
            slugs |= {c.slug for c in self.categories if c.parent == slug}
        return tuple(p for p in self.posts if slugs & set(p.categories))


@dataclass(frozen=True)
class ServedRequest:
    server: str  # "pretty" or "plain"
    method: str
    path: str  # with the query string
    status: int


class WordPressUnavailable(Exception):
    """A Debian package the site needs is not installed."""


def missing_packages() -> str:
    """What is missing to run the site, or "" when everything is there."""
    missing = []
    for program in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump", "php"):
        if shutil.which(program) is None and shutil.which(program, path="/usr/sbin") is None:
            missing.append(program)
    if not (WORDPRESS / "wp-settings.php").is_file():
        missing.append(str(WORDPRESS))
    if shutil.which("php"):
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True).stdout.split()
        missing += [f"php module {m}" for m in ("mysqli", "gd") if m not in modules]
    return ", ".join(missing)


def _program(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin") or name



def _date(value: str) -> dt.datetime | None:
    if value.startswith("0000"):
        return None
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _manifest(now: dt.datetime, answer: dict[str, Any]) -> Manifest:
    categories = tuple(Category(int(c["id"]), c["slug"], c["name"], c["parent"], int(c["count"]))
                       for c in answer["categories"])
    posts = []
    for p in answer["posts"]:
        image = None
        if p["image"]:
            i = p["image"]
            image = FeaturedImage(
                int(i["id"]), i["url"], int(i["width"]), int(i["height"]), i["mime_type"],
                i["alt"], {name: ImageSize(s["url"], int(s["width"]), int(s["height"]))
                           for name, s in i["sizes"].items()})
        modified = _date(p["modified_gmt"])
        assert modified is not None
        posts.append(Post(
            id=int(p["id"]), key=p["key"], title=p["title"], slug=p["slug"], link=p["link"],
            guid=p["guid"],
            categories=tuple(p["categories"]), status=p["status"],
            date_gmt=_date(p["date_gmt"]), modified_gmt=modified, author=p["author"],
            password=bool(p["password"]), content=p["content"], excerpt=p["excerpt"],
            words=word_count(p["content"]), image=image))
    return Manifest(now, categories, tuple(posts))


# Started beside the servers: when its input closes without their being taken off its list
# (the test run was killed), it stops the process groups of the servers it was given and
# removes the site's folder (its first argument, if any) once they are gone.
_WATCHDOG = """
import os, shutil, signal, sys, time
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        pass
deadline = time.monotonic() + 60
while groups and time.monotonic() < deadline:
    time.sleep(0.2)
    for group in list(groups):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            groups.discard(group)
if not groups and sys.argv[1:]:
    shutil.rmtree(sys.argv[1], ignore_errors=True)
"""

_LOG_LINE = re.compile(r"\[(\d{3})\]: (\S+) (\S+)")


@dataclass
class WordPressSite:
    """A running site; see the module's docstring."""

    folder: Path
    url: str
    plain_url: str
    now: dt.datetime
    manifest: Manifest
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own: bool = field(default=False, repr=False)  # the folder is removed after
    _servers: dict[str, str] = field(default_factory=dict, repr=False)  # name -> URL
    _changed: bool = field(default=False, repr=False)
    _added: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def docroot(self) -> Path:
        return self.folder / "www"

    @property
    def socket(self) -> Path:
        return self.folder / "db.sock"

    def plain_link(self, post: Post) -> str:
        return f"{self.plain_url}/?p={post.id}"

    def feed_url(self, slug: str, *, plain: bool = False) -> str:
        """A category's RSS feed: /category/SLUG/feed/, or ?cat=ID&feed=rss2 when plain."""
        if plain:
            return f"{self.plain_url}/?cat={self.manifest.category(slug).id}&feed=rss2"
        return f"{self.url}/category/{slug}/feed/"

    def api_url(self, route: str, *, plain: bool = False) -> str:
        """A REST route such as "/wp/v2/posts": under /wp-json/, or ?rest_route= when plain."""
        if plain:
            return f"{self.plain_url}/?rest_route={route}"
        return f"{self.url}/wp-json{route}"

    # Changing the site -------------------------------------------------------------------

    def _seed(self, commands: dict[str, Any]) -> dict[str, Any]:
        answer = _run_php(self, "seed.php", commands)
        self.manifest = _manifest(self.now, answer)
        return answer

    def add_post(self, title: str, categories: tuple[str, ...] | list[str], *,
                 age: dt.timedelta = dt.timedelta(0), status: str = "publish",
                 author: str = "leyla", words: int = 300, image: bool = False,
                 inline_image: bool = False, password: str = "", excerpt: str = "",
                 key: str | None = None) -> Post:
        """Adds a post dated `age` before the current time; returns it as WordPress has it."""
        self._changed = True
        key = key or f"added-{next(self._added)}"
        date = dt.datetime.now(UTC).replace(microsecond=0) - age
        spec = {"key": key, "title": title, "content": content(words),
                "excerpt": excerpt, "categories": list(categories), "status": status,
                "date_gmt": date.strftime("%Y-%m-%d %H:%M:%S"), "author": author,
                "password": password, "edit": None,
                "image": {"format": "jpeg", "width": 1200, "height": 800,
                          "inline": inline_image} if image else None}
        self._seed({"posts": [spec]})
        return self.manifest.post(key)

    def edit_post(self, post_id: int, *, title: str | None = None,
                  words: int | None = None) -> Post:
        """Edits a post now; returns it as WordPress has it."""
        self._changed = True
        edit: dict[str, Any] = {"id": post_id}
        if title is not None:
            edit["title"] = title
        if words is not None:
            edit["content"] = content(words)
        self._seed({"edits": [edit]})
        return next(p for p in self.manifest.posts if p.id == post_id)

    def php(self, code: str) -> str:
        """Runs PHP code inside WordPress; returns what it printed. Counts as a change."""
        self._changed = True
        return str(self._seed({"php": code})["php_output"])

    def reset(self) -> None:
        """Back to the seeded database."""
        dump = (self.folder / "seed.sql").read_bytes()
        subprocess.run([_program("mariadb"), "--no-defaults", f"--socket={self.socket}",
                        "--user=root"], input=dump, check=True, capture_output=True)
        self._seed({})
        self._changed = False

    def reset_if_changed(self) -> None:
        if self._changed:
            self.reset()

    # What the servers saw ----------------------------------------------------------------

    def mark(self) -> dict[str, int]:
        """A point in the servers' logs, for `requests(since=…)`."""
        return {log.stem.removeprefix("php-"): log.stat().st_size
                for log in self.folder.glob("php-*.log")}

    def requests(self, since: Mapping[str, int] | None = None) -> list[ServedRequest]:
        """Requests the servers answered (since a mark), each server's in the order they
        finished; "pretty" first, then "plain", then others by name."""
        served = []
        logs = sorted(self.folder.glob("php-*.log"),
                      key=lambda log: (log.name != "php-pretty.log", log.name))
        for log in logs:
            server = log.stem.removeprefix("php-")
            with log.open("rb") as lines:
                lines.seek((since or {}).get(server, 0))
                for line in lines.read().decode("utf-8", errors="replace").splitlines():
                    match = _LOG_LINE.search(line)
                    if match:
                        served.append(ServedRequest(server, match[2], match[3], int(match[1])))
        return served

    def serve(self, *, plain: bool = False, rest: bool = True) -> str:
        """The site's address on a server with these permalinks whose REST API is open
        (or answers 401 to visitors: ``rest=False``), started on first use."""
        name = ("plain" if plain else "pretty") + ("" if rest else "-closed")
        if name not in self._servers:
            self._servers[name] = _serve(self, free_port(), name, plain=plain, rest=rest)
        return self._servers[name]

    # Life cycle ----------------------------------------------------------------------------

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        """Stopped by stop(), or by the watchdog if this Python process dies first."""
        self._processes.append(process)
        if self._watchdog is None:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, *([str(self.folder)] if self._own else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, start_new_session=True)
        assert self._watchdog.stdin is not None
        self._watchdog.stdin.write(f"+{process.pid}\n".encode())
        self._watchdog.stdin.flush()

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes:
            reaped(process)
        if self._watchdog is not None and self._watchdog.stdin is not None:
            self._watchdog.stdin.write(b"".join(f"-{p.pid}\n".encode() for p in self._processes))
            self._watchdog.stdin.close()
            self._watchdog.wait()
            self._watchdog = None
        self._processes.clear()


def _env(site: WordPressSite, *, home: str, plain: bool = False) -> dict[str, str]:
    env = dict(os.environ, WP_FIXTURE_HOME=home, WP_FIXTURE_TIME_ZONE=TIME_ZONE)
    if plain:
        env["WP_FIXTURE_PERMALINKS"] = "plain"
    return env


def _run_php(site: WordPressSite, script: str, commands: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    result = subprocess.run(
        ["php", "-d", "memory_limit=512M", "-d", "display_errors=stderr",
         str(HERE / script), str(site.docroot)],
        input=json.dumps(commands or {}).encode(), capture_output=True,
        env=_env(site, home=site.url), cwd=site.folder)
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed ({result.returncode}):\n"
                           f"{result.stderr.decode(errors='replace')}"
                           f"{result.stdout.decode(errors='replace')[-2000:]}")
    if script != "seed.php":
        return {}
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path,
          timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            detail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start (exit {process.poll()}):\n{detail}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    """WordPress answers: read to the end, so the answer is in the log when this returns."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status) < 500
    except urllib.error.HTTPError as error:
        error.read()
        return error.code < 500
    except OSError:
        return False


def _lay_out(docroot: Path, socket_path: Path) -> None:
    """Debian's WordPress in `docroot`: the scripts of the top folder and of wp-admin/
    copied (they find wp-config.php from their own folder), wp-includes/ and wp-admin's
    subfolders linked, an own wp-content/ with the packaged theme, an uploads folder and
    the fixture's plugin."""
    docroot.mkdir(parents=True)
    for entry in WORDPRESS.iterdir():
        if entry.name in ("wp-config.php", "wp-content", ".htaccess"):
            continue
        if entry.name == "wp-admin":  # its scripts load ../wp-load.php from their own folder
            (docroot / entry.name).mkdir()
            for admin in entry.iterdir():
                if admin.is_dir():
                    (docroot / entry.name / admin.name).symlink_to(admin)
                else:
                    shutil.copy(admin, docroot / entry.name / admin.name)
        elif entry.is_dir():
            (docroot / entry.name).symlink_to(entry)
        else:
            shutil.copy(entry, docroot / entry.name)
    content_dir = docroot / "wp-content"
    (content_dir / "plugins").mkdir(parents=True)
    (content_dir / "uploads").mkdir()
    (content_dir / "mu-plugins").mkdir()
    (content_dir / "themes").symlink_to(WORDPRESS / "wp-content" / "themes")
    shutil.copy(HERE / "fixture-plugin.php", content_dir / "mu-plugins" / "fixture.php")
    salts = "\n".join(f"define('{name}', 'digest-test-{name.lower()}');" for name in (
        "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
        "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
    (docroot / "wp-config.php").write_text(f"""<?php
/* Written by tests/wordpress_site.py: a private database, no mail, no cron, no network. */
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:{socket_path}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
define('WP_HOME', getenv('WP_FIXTURE_HOME'));
define('WP_SITEURL', getenv('WP_FIXTURE_HOME'));
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISALLOW_FILE_MODS', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('WP_DEBUG', false);
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
""", encoding="utf-8")


def _start_database(site: WordPressSite) -> None:
    datadir = site.folder / "db"
    user = ["--user=" + getpass.getuser()]
    install = subprocess.run(
        [_program("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", *user,
         "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
        capture_output=True, text=True)
    if install.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed:\n{install.stdout}{install.stderr}")
    log = site.folder / "db.err"
    process = subprocess.Popen(
        [_program("mariadbd"), "--no-defaults", f"--datadir={datadir}",
         f"--socket={site.socket}", f"--pid-file={site.folder / 'db.pid'}", *user,
         "--skip-networking", f"--log-error={log}", "--skip-log-bin",
         "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0",
         "--innodb-doublewrite=0", "--character-set-server=utf8mb4"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    site._started(process)
    _wait("mariadbd", site.socket.exists, process, log)
    subprocess.run([_program("mariadb"), "--no-defaults", f"--socket={site.socket}",
                    "--user=root", "-e", "CREATE DATABASE wordpress CHARACTER SET utf8mb4"],
                   check=True, capture_output=True)


def _serve(site: WordPressSite, port: int, name: str, *, plain: bool, rest: bool) -> str:
    log = site.folder / f"php-{name}.log"
    home = f"http://127.0.0.1:{port}"
    env = _env(site, home=home, plain=plain)
    if home != site.url:
        env["WP_FIXTURE_SEED_HOME"] = site.url
    if not rest:
        env["WP_FIXTURE_REST"] = "closed"
    env["PHP_CLI_SERVER_WORKERS"] = "3"  # a few requests at once, like a real server
    env["WP_FIXTURE_ACCESS_LOG"] = str(log)  # router.php appends WordPress's answers
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["php", "-d", "opcache.enable_cli=1", "-d", "memory_limit=256M",
             "-d", "display_errors=0", "-d", "log_errors=1",
             "-S", f"127.0.0.1:{port}", "-t", str(site.docroot), str(HERE / "router.php")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=site.docroot, start_new_session=True)
    site._started(process)
    _wait(f"php -S ({name})", lambda: _answers(home + "/wp-login.php"), process, log)
    return home


@contextlib.contextmanager
def start_site(folder: Path | None = None) -> Iterator[WordPressSite]:
    """Starts, installs and seeds a site; stops it and removes its folder after."""
    missing = missing_packages()
    if missing:
        raise WordPressUnavailable(
            f"a real WordPress needs the Debian packages {PACKAGES} (.ci/run installs them); "
            f"missing: {missing}")
    # A short path: a Unix socket's path is limited to about 100 bytes.
    own = folder is None
    root = Path(tempfile.mkdtemp(prefix="digest-wp-")) if folder is None else folder
    port, plain_port = free_port(), free_port()
    while plain_port == port:
        plain_port = free_port()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    site = WordPressSite(root, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{plain_port}",
                         now, Manifest(now, (), ()), _own=own)
    try:
        _start_database(site)
        _lay_out(site.docroot, site.socket)
        _run_php(site, "install.php")
        site._seed(_seed_commands(now))
        with (root / "seed.sql").open("wb") as dump:
            subprocess.run([_program("mariadb-dump"), "--no-defaults", f"--socket={site.socket}",
                            "--user=root", "--add-drop-database", "--databases", "wordpress"],
                           stdout=dump, check=True)
        site._servers["pretty"] = _serve(site, port, "pretty", plain=False, rest=True)
        site._servers["plain"] = _serve(site, plain_port, "plain", plain=True, rest=True)
        yield site
    finally:
        site.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _seed_commands(now: dt.datetime) -> dict[str, Any]:
    posts = []
    for spec in SEED:
        image = None
        if spec.image:
            image = {"format": spec.image[0], "width": spec.image[1], "height": spec.image[2],
                     "inline": spec.inline_image}
        edit = None
        if spec.edited_title:
            edit = {"title": spec.edited_title, "content": content(spec.words + 40)}
        posts.append({
            "key": spec.key, "title": spec.title, "content": content(spec.words),
            "excerpt": spec.excerpt, "categories": list(spec.categories), "status": spec.status,
            "date_gmt": (now - spec.age).strftime("%Y-%m-%d %H:%M:%S"), "author": spec.author,
            "password": spec.password, "image": image, "edit": edit})
    posts.sort(key=lambda p: str(p["date_gmt"]))
    return {
        "users": [{"login": login, "display_name": name} for login, name in AUTHORS],
        "categories": [{"slug": slug, "name": name, "parent": parent}
                       for slug, name, parent in CATEGORIES],
        "posts": posts,
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # serve the seeded site by hand: python tests/wordpress_site.py
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the servers too
    started = time.monotonic()
    with start_site() as running:
        print(f"ready in {time.monotonic() - started:.1f} s: {running.url} "
              f"(plain permalinks: {running.plain_url}); folder {running.folder}", flush=True)
        if "--exit" not in sys.argv:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
