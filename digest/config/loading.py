"""config.toml -> a typed, validated Config; every problem is reported at once.

The keys and how each is checked are declared in digest.config.declaration; this module
reads the tables in order and builds the frozen Config from what they hold.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.config.addresses import mailbox
from digest.config.declaration import (
    RETURN_PATH_LOCAL,
    VERP_TAG_CHARS,
    BouncesConfig,
    CategoryConfig,
    Config,
    DkimConfig,
    EmailConfig,
    FetchConfig,
    ServeConfig,
    SmtpConfig,
    SubscribeConfig,
    WordPressSource,
    declared,
)
from digest.config.kinds import READERS
from digest.config.reader import Reader, parse
from digest.words import WORDS, Word, word_fields

DEFAULT_CONFIG = "config.toml"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def config_path(option: str | None) -> Path:
    """Where the config is: --config, else $DIGEST_CONFIG, else ./config.toml."""
    return Path(option or os.environ.get("DIGEST_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    """Read and validate the config at `path`; raise ConfigError listing every problem."""
    text, root = parse(path)
    r = Reader(path, text)
    r.unknown("", root)
    digest = _table(r, root, "digest", required=True)
    categories = _categories(r, root)
    email = _email(r, _table(r, root, "email", required=True))
    smtp = _smtp(r, _table(r, root, "smtp", required=email.transport == "smtp"))
    dkim = _dkim(r, root)
    settings = read(r, Config, "digest", digest)
    fetch = FetchConfig(**read(r, FetchConfig, "fetch", _table(r, root, "fetch")),
                        contact_url=settings["public_url"] or None)
    settings |= read(r, Config, "feeds", _table(r, root, "feeds"))
    serve = ServeConfig(**read(r, ServeConfig, "serve", _table(r, root, "serve")))
    subscribe = SubscribeConfig(**read(r, SubscribeConfig, "subscribe",
                                       _table(r, root, "subscribe")))
    bounces = _bounces(r, _table(r, root, "bounces"))
    words = _words(r, root)
    r.raise_problems()
    return Config(path=path.resolve(), categories=categories, email=email, smtp=smtp,
                  fetch=fetch, serve=serve, subscribe=subscribe, bounces=bounces, words=words,
                  dkim=dkim, **settings)


def read(r: Reader, cls: type, table: str, data: dict[str, Any],
         index: int | None = None) -> dict[str, Any]:
    """The values of the keys `cls` declares in `table`, by field name, each checked."""
    return {name: READERS[s.kind](r, s, data, index)
            for name, s in declared(cls) if s.table == table}


def _table(r: Reader, root: dict[str, Any], name: str, *,
           required: bool = False) -> dict[str, Any]:
    """A table of declared keys, its unknown keys reported."""
    data = r.table(root, name, required=required)
    r.unknown(name, data)
    return data


def _email(r: Reader, e: dict[str, Any]) -> EmailConfig:
    values = read(r, EmailConfig, "email", e)
    sender = values["sender"]
    name, address = mailbox(r, "email", "from", sender) if sender else ("", "")
    return_path = values["return_path"]
    if return_path and len(return_path.rpartition("@")[0]) > RETURN_PATH_LOCAL:
        r.problem("email", "return_path",
                  f"at most {RETURN_PATH_LOCAL} characters before the @: a signed tag of "
                  f"{VERP_TAG_CHARS} more follows it, and a local part holds at most 64")
    return EmailConfig(sender_name=name, sender_address=address, **values)


def _bounces(r: Reader, b: dict[str, Any]) -> BouncesConfig:
    if "password" in b:
        r.problem("bounces", "password", "passwords never go in the file: put it in the "
                  "environment variable named by password_env (default DIGEST_IMAP_PASSWORD)")
    values = read(r, BouncesConfig, "bounces", b)
    where = values["mailbox"]
    if where and mailbox_problem(where):
        r.problem("bounces", "mailbox", mailbox_problem(where) or "")
    return BouncesConfig(**values)


def mailbox_problem(where: str) -> str | None:
    """What is wrong with a `[bounces] mailbox` value, or None."""
    scheme, sep, rest = where.partition(":")
    if not sep or scheme not in ("maildir", "mbox", "imap", "imaps"):
        return None if "://" not in where else (
            "an IMAP mailbox is written imaps://USER@HOST[:PORT]/FOLDER")
    if scheme in ("imap", "imaps"):
        if not rest.startswith("//") or "@" not in rest or not rest[2:].split("@", 1)[1]:
            return "an IMAP mailbox is written imaps://USER@HOST[:PORT]/FOLDER"
        return None
    return None if rest else f"{scheme}: needs a path after it"


def _smtp(r: Reader, s: dict[str, Any]) -> SmtpConfig:
    if "password" in s:
        r.problem("smtp", "password", "passwords never go in the file: put it in the "
                  "environment variable named by password_env (default DIGEST_SMTP_PASSWORD)")
    return SmtpConfig(**read(r, SmtpConfig, "smtp", s))


PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})


def _words(r: Reader, root: dict[str, Any]) -> dict[str, Word]:
    """[words]: each key a built-in word; a string, or a table of plural forms with "other"."""
    table = r.table(root, "words")
    result: dict[str, Word] = {}
    known = WORDS["en"]
    for key, value in table.items():
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            r.problem("words", key, f"unknown word{hint} (see docs/email.md for the list)")
            continue
        word: Word
        if isinstance(value, str):
            word = value
        elif (isinstance(value, dict) and "other" in value and set(value) <= PLURAL_FORMS
              and all(isinstance(v, str) for v in value.values())):
            word = {str(k): str(v) for k, v in value.items()}
        else:
            r.problem("words", key, "must be a string, or a table of plural forms "
                      "(zero, one, two, few, many) that includes 'other'")
            continue
        try:
            used = word_fields(word)
        except ValueError as exc:
            r.problem("words", key, f"is not a valid pattern: {exc}")
            continue
        allowed = word_fields(known[key])
        if not used <= allowed:
            extra = ", ".join("{" + f + "}" for f in sorted(used - allowed))
            may = ", ".join("{" + f + "}" for f in sorted(allowed)) or "no {fields}"
            r.problem("words", key, f"uses {extra}; this word may use {may}")
            continue
        result[key] = word
    return result


def _categories(r: Reader, root: dict[str, Any]) -> tuple[CategoryConfig, ...]:
    raw = root.get("categories")
    if not isinstance(raw, list) or not raw:
        r.problems.append("[[categories]]: at least one category is required "
                          "(slug, title and feeds)")
        return ()
    result = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            r.problems.append(f"[[categories]] #{index + 1}: must be a table")
            continue
        r.unknown("categories", item, index)
        slug = r.text("categories", item, "slug", required=True, index=index)
        if slug and not SLUG_RE.match(slug):
            r.problem("categories", "slug", f"must be lowercase letters, digits, '-' or '_', "
                      f"got {slug!r}", index)
        if slug in seen:
            r.problem("categories", "slug", f"{slug!r} is used by another category", index)
        seen.add(slug)
        title = r.text("categories", item, "title", slug, index=index)
        feeds = item.get("feeds")
        if not isinstance(feeds, list) or not feeds or not all(
            (isinstance(x, str) and x.strip()) or isinstance(x, dict) for x in feeds
        ):
            r.problem("categories", "feeds", "must be a non-empty list of feed URLs or paths "
                      "(or WordPress tables: { wordpress = URL, category = SLUG })", index)
            feeds = []
        wordpress = tuple(_wordpress_source(r, x, index) for x in feeds if isinstance(x, dict))
        resolved = tuple(_feed_location(r.file, x) for x in feeds if isinstance(x, str))
        url = item.get("url")
        if url is not None and (not isinstance(url, str)
                                or urlsplit(url).scheme not in ("http", "https")):
            r.problem("categories", "url", f"must be an absolute http(s) URL, got {url!r}", index)
            url = None
        result.append(CategoryConfig(slug=slug, title=title or slug, feeds=resolved, url=url,
                                     wordpress=tuple(w for w in wordpress if w is not None)))
    return tuple(result)


def _wordpress_source(r: Reader, item: dict[str, Any], index: int) -> WordPressSource | None:
    """`{ wordpress = "https://site", category = "slug" }` from a category's `feeds`."""
    example = '{ wordpress = "https://news.example.org", category = "economy" }'
    unknown = sorted(set(item) - {"wordpress", "category"})
    site, slug = item.get("wordpress"), item.get("category")
    problems = []
    if unknown:
        problems.append(f"unknown key {unknown[0]!r}")
    if not isinstance(site, str) or urlsplit(site).scheme not in ("http", "https") \
            or not urlsplit(site).netloc:
        problems.append(f"wordpress must be the site's http(s) URL, got {site!r}")
    if not isinstance(slug, str) or not slug.strip() or "/" in slug:
        problems.append(f"category must be the category's slug on the site, got {slug!r}")
    if problems:
        r.problem("categories", "feeds", "; ".join(problems) + f" (write it as {example})",
                  index)
        return None
    assert isinstance(site, str) and isinstance(slug, str)
    return WordPressSource(site=site.rstrip("/"), category=slug.strip())


def _feed_location(config_file: Path, value: str) -> str:
    """URLs stay as they are; local paths become absolute, relative to the config file."""
    scheme = urlsplit(value).scheme
    if scheme in ("http", "https"):
        return value
    if scheme == "file":
        return value
    return str((config_file.parent / value).resolve())


def _dkim(r: Reader, root: dict[str, Any]) -> tuple[DkimConfig, ...]:
    """[dkim] (one signature) or [[dkim]] (several, say RSA and Ed25519) is optional."""
    value = root.get("dkim")
    if value is None:
        return ()
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        signatures = tuple(_dkim_signature(r, v, n) for n, v in enumerate(value))
        algorithms = [s.algorithm for s in signatures]
        for algorithm in sorted(set(algorithms)):
            if algorithms.count(algorithm) > 1:
                r.problem("dkim", "algorithm", f"{algorithm!r} is given more than once: "
                          "give each algorithm one [[dkim]] table")
        return signatures
    k = r.table(root, "dkim")
    return (_dkim_signature(r, k, None),) if k else ()


def _dkim_signature(r: Reader, k: dict[str, Any], index: int | None) -> DkimConfig:
    """One signature: domain, selector and private_key are needed, the key must be PEM."""
    r.unknown("dkim", k, index)
    domain = r.text("dkim", k, "domain", required=True, index=index).strip().lower()
    selector = r.text("dkim", k, "selector", required=True, index=index).strip()
    key_text = r.text("dkim", k, "private_key", required=True, index=index)
    algorithm = r.text("dkim", k, "algorithm", "rsa-sha256", index=index)
    key = (r.file.parent / key_text).resolve()
    if domain and not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", domain):
        r.problem("dkim", "domain", f"must be a domain like example.org, got {domain!r}",
                  index)
    if selector and not re.fullmatch(r"[A-Za-z0-9._-]+", selector):
        r.problem("dkim", "selector", f"must be letters, digits, '.', '-' or '_', "
                  f"got {selector!r}", index)
    if algorithm not in ("rsa-sha256", "ed25519-sha256"):
        r.problem("dkim", "algorithm", 'must be "rsa-sha256" or "ed25519-sha256", '
                  f"got {algorithm!r}", index)
    if key_text:
        try:
            head = key.read_bytes()[:100]
        except OSError as exc:
            r.problem("dkim", "private_key", f"cannot read {str(key)!r}: "
                      f"{exc.strerror or exc}", index)
        else:
            if b"-----BEGIN" not in head or b"PRIVATE KEY-----" not in head:
                make = ("openssl genpkey -algorithm ed25519 -out dkim-ed25519.pem"
                        if algorithm == "ed25519-sha256" else "openssl genrsa -out dkim.pem 2048")
                r.problem("dkim", "private_key", f"{str(key)!r} is not a PEM private key "
                          f"(make one with `{make}`)", index)
    return DkimConfig(domain=domain, selector=selector, private_key=key, algorithm=algorithm)


def pages_url(config: Config) -> str:
    """Where `digest serve`'s pages (subscribe, confirm, manage) are reached, ending in
    `/`: beside its unsubscribe endpoint (`[email] unsubscribe_url` up to its last `/`),
    which says where serve is mounted; without one, `public_url`."""
    url = config.email.unsubscribe_url
    if not url:
        return config.public_url.rstrip("/") + "/"
    return url.split("?")[0].rsplit("/", 1)[0] + "/"
