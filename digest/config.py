"""config.toml -> a typed, validated Config; every problem is reported at once."""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.utils import formataddr, getaddresses, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from digest.errors import ConfigError
from digest.words import WORDS, Word, word_fields

DEFAULT_CONFIG = "config.toml"
NUMBER_CEILING = 1e9  # the largest number any key takes unless it says otherwise
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class WordPressSource:
    """A WordPress site's category read through its REST API (`{ wordpress = URL, category =
    SLUG }` in `feeds`), for sites whose feeds carry only excerpts or no images."""

    site: str  # the site's root URL, without the trailing slash
    category: str  # the category's slug on that site

    @property
    def location(self) -> str:
        """The name the store and reports know this source by."""
        return f"wordpress:{self.site}/category/{self.category}"


@dataclass(frozen=True)
class CategoryConfig:
    slug: str
    title: str
    feeds: tuple[str, ...]
    url: str | None = None  # the category's page on the site, for "More in …"
    wordpress: tuple[WordPressSource, ...] = ()  # table-form entries of `feeds`


@dataclass(frozen=True)
class EmailConfig:
    sender: str  # "Name <addr>" as written in `from`
    sender_address: str
    sender_name: str
    transport: str = "file"
    outbox: Path = Path("outbox")
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    reply_to: str | None = None
    list_id: str | None = None
    subject: str = "{title} — {date}"
    retry_days: int = 3
    feedback_id: str | None = None  # one stable Feedback-ID header value (Gmail FBL)

    @property
    def domain(self) -> str:
        return self.sender_address.rpartition("@")[2]


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout: float = 30.0
    connections: int = 4  # parallel connections, each reused for many messages
    rate: float | None = None  # messages per second over all connections; None: no limit
    ca_file: Path | None = None  # extra CA bundle to trust (a private relay's certificate)
    retries: int = 2  # passes over deferred recipients within one run
    retry_delay: float = 30.0  # seconds before the first retry pass, doubled after each
    # Seconds to wait for the reply to the message's final dot (RFC 5321 §4.5.3.2.6).
    data_timeout: float = 600.0

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True)
class DkimConfig:
    """One DKIM signature: the d= domain, the s= selector, the PEM private key's path and
    the algorithm ("rsa-sha256" or "ed25519-sha256")."""

    domain: str
    selector: str
    private_key: Path
    algorithm: str = "rsa-sha256"


@dataclass(frozen=True)
class FetchConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    per_host: int = 2
    max_pages: int = 10  # of a feed, paging back to cover the window
    # Where a publisher reads who is fetching: the digest's own public address.
    contact_url: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    title: str
    link: str
    public_url: str
    description: str
    language: str
    timezone: zoneinfo.ZoneInfo
    state: Path
    output: Path
    lookback_hours: float
    categories: tuple[CategoryConfig, ...]
    email: EmailConfig
    smtp: SmtpConfig
    fetch: FetchConfig = field(default_factory=FetchConfig)
    max_per_category: int = 10
    feed_editions: int = 30
    feed_articles: int = 50  # per category feed
    templates: Path | None = None
    about: str = ""
    contact: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None
    words: dict[str, Word] = field(default_factory=dict)  # [words]: the editor's fixed words
    thumbnails: bool = True  # show article images in the email when their size is known
    dkim: tuple[DkimConfig, ...] = ()  # one per signature; empty: messages go unsigned

    def category(self, slug: str) -> CategoryConfig | None:
        return next((c for c in self.categories if c.slug == slug), None)

    @property
    def category_slugs(self) -> tuple[str, ...]:
        return tuple(c.slug for c in self.categories)


# The keys each table accepts: used to flag unknown keys with the nearest known one.
KNOWN_KEYS: dict[str, set[str]] = {
    "": {"digest", "categories", "email", "smtp", "fetch", "feeds", "words"},
    "digest": {
        "title", "link", "public_url", "description", "language", "timezone", "state",
        "output", "lookback_hours", "max_per_category", "templates", "about", "contact",
        "privacy_url", "terms_url", "thumbnails",
    },
    "categories": {"slug", "title", "feeds", "url"},
    "email": {
        "from", "transport", "outbox", "unsubscribe_url", "unsubscribe_mailto", "reply_to",
        "list_id", "subject", "retry_days",
    },
    "smtp": {"host", "port", "security", "username", "password_env", "timeout"},
    "fetch": {
        "connect_timeout", "read_timeout", "deadline", "max_bytes", "concurrency", "per_host",
        "max_pages",
    },
    "feeds": {"editions", "articles"},
}


# What a missing required table must hold at least, for the message that reports it.
REQUIRED_KEYS = {
    "digest": "title, link and public_url",
    "email": 'from = "Name <digest@example.org>"',
    "smtp": "host and port (or set [email] transport = \"file\")",
}
KNOWN_KEYS[""] |= {"dkim"}
KNOWN_KEYS["smtp"] |= {"connections", "rate", "ca_file", "retries", "retry_delay"}
KNOWN_KEYS["smtp"] |= {"data_timeout"}
KNOWN_KEYS["email"] |= {"feedback_id"}
KNOWN_KEYS["dkim"] = {"domain", "selector", "private_key", "algorithm"}


def config_path(option: str | None) -> Path:
    """Where the config is: --config, else $DIGEST_CONFIG, else ./config.toml."""
    return Path(option or os.environ.get("DIGEST_CONFIG") or DEFAULT_CONFIG)


class _Reader:
    """Pulls typed values out of the parsed TOML and collects problems with line numbers."""

    def __init__(self, path: Path, text: str) -> None:
        self.file = path
        self.lines = text.splitlines()
        self.problems: list[str] = []
        self.missing: set[str] = set()  # required tables that are absent

    def line_of(self, table: str, key: str, index: int | None = None) -> int | None:
        """The line of `key` inside `[table]` (the index-th `[[table]]`), best effort."""
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?$")
        keyre = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        seen = -1
        inside = table == ""
        for number, line in enumerate(self.lines, start=1):
            if line.lstrip().startswith("["):
                if header.match(line):
                    seen += 1
                    inside = index is None or seen == index
                else:
                    inside = False
                continue
            if inside and keyre.match(line):
                return number
        return None

    def problem(self, table: str, key: str, message: str, index: int | None = None) -> None:
        if table in self.missing:
            return  # "the table is missing" already says it, and what it needs
        line = self.line_of(table, key, index) if key else None
        if line is None:  # a key that is missing: point at its table's header instead
            line = self.header_line(table, index or 0)
        where = f"line {line}: " if line else ""
        name = f"[{table}]" if index is None else f"[[{table}]] #{(index or 0) + 1}"
        label = f"{name} {key}" if key else name
        self.problems.append(f"{where}{label}: {message}")

    def header_line(self, name: str, index: int = 0) -> int | None:
        """The line of the index-th `[name]`, `[[name]]` or `[name.…]` header."""
        if not name:
            return None
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(name) + r"\s*[\].]")
        found = [n for n, line in enumerate(self.lines, start=1) if header.match(line)]
        return found[index] if index < len(found) else None

    def unknown_tables(self, root: dict[str, Any]) -> None:
        """Top-level names the digest does not know: usually a misspelt table."""
        known = sorted(KNOWN_KEYS[""])
        for name, value in root.items():
            if name in known:
                continue
            is_table = isinstance(value, dict) or (
                isinstance(value, list) and bool(value) and isinstance(value[0], dict))
            line = self.header_line(name) if is_table else self.line_of("", name)
            where = f"line {line}: " if line else ""
            near = difflib.get_close_matches(name, known, n=1)
            if is_table:
                brackets = "[[{}]]" if isinstance(value, list) else "[{}]"
                hint = f"; did you mean {brackets.format(near[0])}?" if near else ""
                self.problems.append(f"{where}{brackets.format(name)}: unknown table{hint}")
            else:
                hint = f"; did you mean [{near[0]}]?" if near else ""
                self.problems.append(f"{where}{name}: unknown key outside any table{hint}")

    def unknown(self, table: str, data: dict[str, Any], index: int | None = None) -> None:
        if not table:
            self.unknown_tables(data)
            return
        known = KNOWN_KEYS[table]
        for key in data:
            if table == "smtp" and key == "password":
                continue  # reported on its own, with what to do instead
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                self.problem(table, key, f"unknown key{hint}", index)

    def text(self, table: str, data: dict[str, Any], key: str, default: str | None = None,
             *, required: bool = False, index: int | None = None) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(table, key, "is required", index)
            return default or ""
        if not isinstance(value, str):
            self.problem(table, key, f"must be a string, got {value!r}", index)
            return default or ""
        if required and not value.strip():
            self.problem(table, key, "must not be empty", index)
        return value

    def optional_text(self, table: str, data: dict[str, Any], key: str) -> str | None:
        value = self.text(table, data, key)
        return value or None

    def number(self, table: str, data: dict[str, Any], key: str, default: float,
               *, minimum: float, maximum: float | None = None, integer: bool = False) -> float:
        value = data.get(key, default)
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            kind = "an integer" if integer else "a number"
            self.problem(table, key, f"must be {kind}, got {value!r}")
            return default
        if not math.isfinite(value):
            self.problem(table, key, f"must be a finite number, got {value!r}")
            return default
        # No setting means anything past a billion (seconds: 31 years); larger values only
        # overflow later, far from the file.
        if maximum is None:
            if value < minimum or value > NUMBER_CEILING:
                relation = "at least" if value < minimum else "at most"
                bound = minimum if value < minimum else NUMBER_CEILING
                self.problem(table, key, f"must be {relation} {bound:g}, got {value!r}")
                return default
        elif value < minimum or value > maximum:
            self.problem(table, key, f"must be between {minimum:g} and {maximum:g}, "
                         f"got {value!r}")
            return default
        return float(value)

    def url(self, table: str, data: dict[str, Any], key: str, *, required: bool = False,
            https_only: bool = False) -> str:
        value = self.text(table, data, key, required=required)
        if value:
            parts = urlsplit(value)
            schemes = {"https"} if https_only else {"http", "https"}
            if parts.scheme not in schemes or not parts.netloc:
                allowed = " or ".join(sorted(schemes))
                self.problem(table, key, f"must be an absolute {allowed} URL, got {value!r}")
        return value

    def path(self, table: str, data: dict[str, Any], key: str, default: str) -> Path:
        value = self.text(table, data, key, default)
        return (self.file.parent / value).resolve()

    def table(self, root: dict[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
        value = root.get(name)
        if value is None:
            if required:
                needs = REQUIRED_KEYS.get(name)
                what = f"; add it with at least {needs}" if needs else ""
                self.problems.append(f"[{name}]: the table is missing{what}")
                self.missing.add(name)
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"[{name}]: must be a table")
            return {}
        return value


def load_config(path: Path) -> Config:
    """Read and validate the config at `path`; raise ConfigError listing every problem."""
    if not path.is_file():
        raise ConfigError(
            str(path),
            [
                "the file does not exist; pass --config PATH, set DIGEST_CONFIG, "
                "or run from the folder holding config.toml (`digest init` writes one)"
            ],
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), [
            f"line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as "
            "UTF-8 (in most editors: 'Save with encoding')"]) from None
    try:
        root = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [_toml_problem(text, exc)]) from None
    except RecursionError:
        raise ConfigError(str(path), [
            "not valid TOML: values are nested too deeply; the digest's keys need at most "
            "two levels"]) from None
    r = _Reader(path, text)
    r.unknown("", root)

    d = r.table(root, "digest", required=True)
    r.unknown("digest", d)
    title = r.text("digest", d, "title", required=True)
    link = r.url("digest", d, "link", required=True)
    public_url = r.url("digest", d, "public_url", required=True)
    if public_url and not public_url.endswith("/"):
        public_url += "/"
    language = r.text("digest", d, "language", "en")
    if language and not _known_language(language):
        r.problem("digest", "language", f"unknown language {language!r}; use a code like "
                  "'en', 'az', 'ru' or 'pt-BR'")
        language = "en"
    tz_name = r.text("digest", d, "timezone", "UTC")
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        r.problem("digest", "timezone", f"unknown time zone {tz_name!r} (try 'Asia/Baku' or 'UTC')")
        tz = zoneinfo.ZoneInfo("UTC")
    templates_value = r.text("digest", d, "templates")
    contact = r.optional_text("digest", d, "contact")

    categories = _categories(r, root)

    e = r.table(root, "email", required=True)
    r.unknown("email", e)
    sender = r.text("email", e, "from", required=True)
    name, address = _mailbox(r, "email", "from", sender) if sender else ("", "")
    transport = r.text("email", e, "transport", "smtp")
    if transport not in ("smtp", "file"):
        r.problem("email", "transport", f"must be 'smtp' or 'file', got {transport!r}")
    unsubscribe_url = _header_url(r, "email", "unsubscribe_url", r.url("email", e,
                                                                         "unsubscribe_url"))
    mailto = r.optional_text("email", e, "unsubscribe_mailto")
    if mailto:
        mailto = _mailbox(r, "email", "unsubscribe_mailto", mailto, named=False)[1] or None
    reply_to = r.optional_text("email", e, "reply_to")
    if reply_to:
        reply_name, reply_address = _mailbox(r, "email", "reply_to", reply_to)
        reply_to = _display(reply_name, reply_address) if reply_address else None
    list_id = r.optional_text("email", e, "list_id")
    if list_id:
        list_id = _list_id(r, list_id)
    subject = r.text("email", e, "subject", "{title} — {date}")
    if not _subject_fields_ok(subject):
        r.problem("email", "subject", "may only use the fields {title} and {date}, "
                  "without format specs (write a literal brace as {{ or }})")
        subject = "{title} — {date}"
    email = EmailConfig(
        sender=sender,
        sender_address=address,
        sender_name=name,
        transport=transport,
        outbox=r.path("email", e, "outbox", "outbox"),
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=mailto,
        reply_to=reply_to,
        list_id=list_id,
        subject=subject,
        retry_days=int(r.number("email", e, "retry_days", 3, minimum=0, maximum=365,
                                integer=True)),
        feedback_id=r.optional_text("email", e, "feedback_id"),
    )
    feedback_id = e.get("feedback_id")
    if isinstance(feedback_id, str) and _CONTROL.search(feedback_id):
        r.problem("email", "feedback_id", "must be one line without control characters")

    s = r.table(root, "smtp", required=transport == "smtp")
    r.unknown("smtp", s)
    security = r.text("smtp", s, "security", "none")
    if security not in ("none", "starttls", "tls"):
        r.problem("smtp", "security", f"must be 'none', 'starttls' or 'tls', got {security!r}")
    if "password" in s:
        r.problem("smtp", "password", "passwords never go in the file: put it in the "
                  "environment variable named by password_env (default DIGEST_SMTP_PASSWORD)")
    smtp = SmtpConfig(
        host=r.text("smtp", s, "host", "localhost"),
        port=int(r.number("smtp", s, "port", 25, minimum=1, maximum=65535, integer=True)),
        security=security,
        username=r.text("smtp", s, "username", ""),
        password_env=r.text("smtp", s, "password_env", "DIGEST_SMTP_PASSWORD"),
        timeout=r.number("smtp", s, "timeout", 30, minimum=1, maximum=3600),
        data_timeout=r.number("smtp", s, "data_timeout", 600, minimum=1, maximum=3600),
        **_smtp_delivery(r, s),
    )
    dkim = _dkim(r, root)

    f = r.table(root, "fetch")
    r.unknown("fetch", f)
    fetch = FetchConfig(
        contact_url=public_url or None,
        connect_timeout=r.number("fetch", f, "connect_timeout", 10, minimum=0.1),
        read_timeout=r.number("fetch", f, "read_timeout", 30, minimum=0.1),
        deadline=r.number("fetch", f, "deadline", 60, minimum=0.1),
        max_bytes=int(r.number("fetch", f, "max_bytes", 10 * 1024 * 1024, minimum=1024,
                               integer=True)),
        concurrency=int(r.number("fetch", f, "concurrency", 8, minimum=1, maximum=64,
                                 integer=True)),
        per_host=int(r.number("fetch", f, "per_host", 2, minimum=1, maximum=16, integer=True)),
        max_pages=int(r.number("fetch", f, "max_pages", 10, minimum=1, maximum=1000,
                               integer=True)),
    )
    fd = r.table(root, "feeds")
    r.unknown("feeds", fd)

    config = Config(
        path=path.resolve(),
        title=title,
        link=link,
        public_url=public_url,
        description=r.text("digest", d, "description", ""),
        language=language,
        timezone=tz,
        state=r.path("digest", d, "state", "digest.sqlite3"),
        output=r.path("digest", d, "output", "public"),
        lookback_hours=r.number("digest", d, "lookback_hours", 48, minimum=1,
                                maximum=24 * 366),
        categories=categories,
        email=email,
        smtp=smtp,
        fetch=fetch,
        max_per_category=int(r.number("digest", d, "max_per_category", 10, minimum=1,
                                      integer=True)),
        feed_editions=int(r.number("feeds", fd, "editions", 30, minimum=1, integer=True)),
        feed_articles=int(r.number("feeds", fd, "articles", 50, minimum=1, integer=True)),
        templates=(path.parent / templates_value).resolve() if templates_value else None,
        about=r.text("digest", d, "about", ""),
        contact=contact,
        privacy_url=r.url("digest", d, "privacy_url") or None,
        terms_url=r.url("digest", d, "terms_url") or None,
        dkim=dkim,
    )
    thumbnails = d.get("thumbnails", True)
    if not isinstance(thumbnails, bool):
        r.problem("digest", "thumbnails", f"must be true or false, got {thumbnails!r}")
        thumbnails = True
    config = replace(config, words=_words(r, root), thumbnails=thumbnails)
    if config.templates is not None and not config.templates.is_dir():
        r.problem("digest", "templates", f"folder {str(config.templates)!r} does not exist")
    if contact:
        try:
            Address(addr_spec=contact)
        except (ValueError, IndexError):
            r.problem("digest", "contact", f"must be an email address, got {contact!r}")
    if r.problems:
        raise ConfigError(str(path), sorted(r.problems, key=_line_number))
    return config


PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})


def _words(r: _Reader, root: dict[str, Any]) -> dict[str, Word]:
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


MIN_RATE = 0.001  # messages per second: one every 17 minutes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 5322 atext: what a local part or a List-Id label may hold without quoting.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
                   r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")


def _toml_problem(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The TOML error, naming the key when it is one defined twice (tomllib does not)."""
    reason = str(exc)
    if "overwrite" in reason or "twice" in reason:
        duplicate = _duplicate_key(text)
        if duplicate is not None:
            return duplicate
    match = re.search(r"at line (\d+)", reason)
    if match:
        number = int(match.group(1))
        lines = text.splitlines()
        line = lines[number - 1] if 0 < number <= len(lines) else ""
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if key:
            return f"line {number}: {key.group(1)}: not valid TOML: {reason}"
    return f"not valid TOML: {reason}"


def _duplicate_key(text: str) -> str | None:
    """The first key (or table) defined twice, as a problem line, or None."""
    table = ""
    seen: dict[tuple[str, str], int] = {}
    tables: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if header:
            table = header.group(1)
            if table in tables:
                return (f"line {number}: [{table}]: the table is defined twice (first on "
                        f"line {tables[table]}); merge the two")
            tables[table] = number
            continue
        if re.match(r"\s*\[\[", line):
            table = f"[{line.strip()}]#{number}"  # each [[array]] entry is its own table
            continue
        key = re.match(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=", line)
        if key:
            name = key.group(1).strip('"')
            if (table, name) in seen:
                where = f"[{table}] " if table and not table.startswith("[") else ""
                return (f"line {number}: {where}{name}: defined twice (first on line "
                        f"{seen[table, name]}); keep one")
            seen[table, name] = number
    return None


def _known_language(code: str) -> bool:
    """Whether Babel knows the language (its words and dates come from there)."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def _subject_fields_ok(subject: str) -> bool:
    """Only {title} and {date}, plain: no attributes, indexes, conversions or specs."""
    import string

    try:
        parsed = list(string.Formatter().parse(subject))
    except ValueError:
        return False
    return all(field is None or (field in ("title", "date") and not spec and not conversion)
               for _text, field, spec, conversion in parsed)


def _address_literal(domain: str) -> bool:
    """`[127.0.0.1]` or `[IPv6:::1]`: RFC 5321 address literals, for a host with no name."""
    import ipaddress

    if not (domain.startswith("[") and domain.endswith("]")):
        return False
    inner = domain[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inner[5:])
        else:
            ipaddress.IPv4Address(inner)
    except ValueError:
        return False
    return True


def ascii_domain(domain: str) -> str | None:
    """The domain as it goes into a header: IDNA 2008 (UTS 46) A-labels; None if invalid."""
    if _address_literal(domain):
        return domain
    if domain.isascii():
        return domain if _HOST.fullmatch(domain) else None
    import idna  # only for the rare non-ASCII domain

    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return encoded if _HOST.fullmatch(encoded) else None


def _mailbox(r: _Reader, table: str, key: str, value: str, *,
             named: bool = True) -> tuple[str, str]:
    """("Name", "local@ascii-domain") from a header-bound address; ("", "") when invalid."""
    example = "'Name <digest@example.org>'" if named else "'digest@example.org'"
    if _CONTROL.search(value):
        r.problem(table, key, "must be one line without control characters")
        return "", ""
    found = getaddresses([value])
    name, address = found[0] if len(found) == 1 else ("", "")
    local, _, domain = address.rpartition("@")
    problem = None
    if not local or not domain or (not named and name):
        problem = f"must be an address like {example}, got {value!r}"
    elif not local.isascii() or not _DOT_ATOM.fullmatch(local):
        problem = (f"the part before @ must be plain ASCII letters, digits and "
                   f"!#$%&'*+/=?^_`{{|}}~.- , got {local!r}")
    elif parseaddr(value)[1] != address or address not in value:  # "a@exa mple.org"
        problem = f"must be an address like {example}, got {value!r}"
    if problem is None:
        encoded = ascii_domain(domain)
        if encoded is None:
            problem = f"{domain!r} is not a valid domain name"
        else:
            return name, f"{local}@{encoded}"
    r.problem(table, key, problem)
    return "", ""


def _display(name: str, address: str) -> str:
    """`Name <address>` again, quoted as parseaddr reads it back."""
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def _header_url(r: _Reader, table: str, key: str, value: str) -> str | None:
    """A URL bound for a header between <…>: one line, no <>", spaces; IDNA host."""
    if not value:
        return None
    if _CONTROL.search(value) or any(c in value for c in ' <>"'):
        r.problem(table, key, "must be one URL without spaces, quotes, < or > "
                  "(percent-encode them)")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # r.url has said what is wrong
    found = re.fullmatch(r"(?P<user>[^@]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:]*)(?P<port>:\d*)?",
                         parts.netloc)
    host = found.group("host") if found else ""
    encoded = host if host.startswith("[") else ascii_domain(host) if host else None
    if found is None or encoded is None:
        r.problem(table, key, f"{parts.netloc!r} is not a valid host name (and port)")
        return None
    netloc: str = (found.group("user") or "") + encoded + (found.group("port") or "")
    rest = [re.sub(r"[^\x00-\x7f]+", lambda m: quote(m.group()), x)
            for x in (parts.path, parts.query, parts.fragment)]
    return urlunsplit((parts.scheme, netloc, *rest))


def _list_id(r: _Reader, value: str) -> str | None:
    """`Name <label.domain>` or `label.domain` (RFC 2919), its domain as IDNA."""
    example = "'Aze Daily <daily.news.example.org>'"
    if _CONTROL.search(value):
        r.problem("email", "list_id", "must be one line without control characters")
        return None
    name, identifier = parseaddr(value)
    if not identifier and "<" not in value:
        identifier = value.strip()
    if identifier and not identifier.isascii():
        identifier = ascii_domain(identifier) or identifier
    if not _DOT_ATOM.fullmatch(identifier) or "." not in identifier or "@" in identifier \
            or value.count("<") > 1 or value.count(">") > 1:
        r.problem("email", "list_id", f"must be a list identifier like {example}, "
                  f"got {value!r}")
        return None
    return f"{_display(name, identifier)}" if name else f"<{identifier}>"


def _line_number(problem: str) -> int:
    """Problems in file order; those without a line (missing things) last."""
    match = re.match(r"line (\d+):", problem)
    return int(match.group(1)) if match else sys.maxsize


def _categories(r: _Reader, root: dict[str, Any]) -> tuple[CategoryConfig, ...]:
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


def _wordpress_source(r: _Reader, item: dict[str, Any], index: int) -> WordPressSource | None:
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


def _smtp_delivery(r: _Reader, s: dict[str, Any]) -> dict[str, Any]:
    """The [smtp] keys that shape a large send: pool size, rate, retries, a private CA."""
    rate = r.number("smtp", s, "rate", 0, minimum=0)
    if 0 < rate < MIN_RATE:
        r.problem("smtp", "rate", f"must be 0 (no limit) or at least {MIN_RATE:g} messages "
                  f"per second, got {rate!r}")
        rate = 0
    ca_file = r.optional_text("smtp", s, "ca_file")
    ca_path = (r.file.parent / ca_file).resolve() if ca_file else None
    if ca_path is not None and not ca_path.is_file():
        r.problem("smtp", "ca_file", f"file {str(ca_path)!r} does not exist")
    return {
        "connections": int(r.number("smtp", s, "connections", 4, minimum=1, maximum=64,
                                    integer=True)),
        "rate": rate or None,
        "ca_file": ca_path,
        "retries": int(r.number("smtp", s, "retries", 2, minimum=0, maximum=10, integer=True)),
        "retry_delay": r.number("smtp", s, "retry_delay", 30, minimum=0, maximum=86400),
    }


def _dkim(r: _Reader, root: dict[str, Any]) -> tuple[DkimConfig, ...]:
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


def _dkim_signature(r: _Reader, k: dict[str, Any], index: int | None) -> DkimConfig:
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
