"""Every config key, declared once: a dataclass field whose metadata is a `Setting`.

The known keys, the defaults, how each value is read and checked (`Setting.kind`, see
digest.config.kinds), the commented template `digest init` writes and the tables of
README.md are all derived from these fields. A new key is one field here (with its help
line), then `python -m digest.config.reference` to rewrite the README tables.
"""

# setting() returns a dataclasses.field(), which RUF009 does not know.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
import os
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from digest.words import Word

NUMBER_CEILING = 1e9  # the largest number any key takes unless it says otherwise
# A VERP envelope sender is RETURN_PATH_LOCAL+TAG: the tag (deliver/tokens.py) takes
# VERP_TAG_CHARS at most, and a local part holds 64 characters (RFC 5321 §4.5.3.1.1).
VERP_TAG_CHARS = 32
RETURN_PATH_LOCAL = 64 - 1 - VERP_TAG_CHARS


class Required:
    """The default of a key that has none: the editor must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = Required()

# How a key is read and checked: each names a reader in digest.config.kinds.READERS;
# "custom" keys are read by their table's own function in digest.config.loading.
Kind = Literal[
    "text", "optional_text", "header_text", "url", "optional_url", "base_url", "language",
    "timezone", "path", "folder", "file", "number", "integer", "rate", "bool", "choice",
    "mailbox", "address", "named_address", "header_url", "list_id", "subject",
    "email_address", "nameserver", "custom"]


@dataclass(frozen=True)
class Setting:
    """One key of config.toml: where it is, how it is read, its default and its help."""

    table: str  # "digest", "email", ...: the TOML table holding it
    key: str  # the TOML key (`from` for EmailConfig.sender)
    kind: Kind  # how it is read and checked
    help: str  # one line of Markdown: the README table and the template's comment
    default: Any = REQUIRED  # the TOML value when the key is absent
    minimum: float | None = None
    maximum: float | None = None  # None: at most NUMBER_CEILING
    choices: tuple[str, ...] = ()
    shown: str | None = None  # the default as the docs show it, when not the TOML value
    example: Any = None  # a value the template shows, commented out, instead of the default

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


# The Python value a field holds when its key is absent, from the key's TOML default.
_NONE_KINDS = {"optional_text", "header_text", "optional_url", "header_url", "address",
               "named_address", "list_id", "email_address", "folder", "file", "rate"}


def _python_default(kind: Kind, default: Any) -> Any:
    if kind in _NONE_KINDS:
        return None
    if kind == "path":
        return Path(default)
    if kind == "timezone":
        return zoneinfo.ZoneInfo(default)
    return default


def setting(table: str, key: str, kind: Kind, help: str, default: Any = REQUIRED,
            **bounds: Any) -> Any:
    """A dataclass field declaring one key; without a default the key is required."""
    declared = Setting(table, key, kind, help, default, **bounds)
    metadata = {"setting": declared}
    if declared.required:
        return field(metadata=metadata)
    return field(default=_python_default(kind, default), metadata=metadata)


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
    """One [[categories]] table; its keys are read by digest.config.loading._categories."""

    slug: str = setting("categories", "slug", "custom",
                        "short name (`economy`), used by subscribers' `--category`")
    title: str = setting("categories", "title", "custom", "section heading (`Economy`)",
                         shown="the slug")
    feeds: tuple[str, ...] = setting(
        "categories", "feeds", "custom",
        "list of feed URLs or local paths (a WordPress category feed is "
        "`https://SITE/category/SLUG/feed/`), or tables `{ wordpress = \"https://SITE\", "
        "category = \"SLUG\" }` to read the category through the WordPress REST API")
    url: str | None = setting(  # the category's page on the site, for "More in …"
        "categories", "url", "custom", "the category's page, for \"More in …\"",
        None, shown="`LINK/category/SLUG/`")
    wordpress: tuple[WordPressSource, ...] = ()  # table-form entries of `feeds`


@dataclass(frozen=True, kw_only=True)
class EmailConfig:
    sender: str = setting(  # "Name <addr>" as written in `from`
        "email", "from", "mailbox",
        "`\"Name <address>\"`; `Message-ID`s use its domain. One address, plain ASCII "
        "before the `@`; a non-ASCII domain is written as IDNA (`xn--…`)")
    sender_address: str  # from `from`, its domain as IDNA
    sender_name: str
    transport: str = setting(
        "email", "transport", "choice",
        "`\"smtp\"` sends; `\"file\"` writes each message to `outbox/<date>/<address>.eml` "
        "(an address that is not a plain file name gets a shortened name with a hash of it)",
        "smtp", choices=("smtp", "file"))
    outbox: Path = setting("email", "outbox", "path", "folder for the file transport",
                           "outbox")
    unsubscribe_url: str | None = setting(
        "email", "unsubscribe_url", "header_url",
        "public https address of the unsubscribe endpoint; a signed token is appended as "
        "`?token=…`. Without it messages carry only a `mailto:` unsubscribe (and `send` "
        "warns when `transport = \"smtp\"`). No spaces, quotes, `<` or `>`; a non-ASCII "
        "host becomes IDNA, other non-ASCII characters are percent-encoded", "")
    unsubscribe_mailto: str | None = setting(
        "email", "unsubscribe_mailto", "address",
        "mailbox for `mailto:` unsubscribes (one bare address)", "",
        shown="the `from` address")
    reply_to: str | None = setting("email", "reply_to", "named_address",
                                   "an optional `Reply-To` header (one address)", "",
                                   example="Editors <editors@example.org>")
    list_id: str | None = setting(
        "email", "list_id", "list_id",
        "an optional `List-Id` header (`\"Name <label.example.org>\"`, RFC 2919)", "",
        example="Daily Digest <daily.example.org>")
    subject: str = setting(
        "email", "subject", "subject",
        "subject line; `{date}` is the edition's local date. Only `{title}` and `{date}`, "
        "without format specs; `{{` and `}}` for literal braces", "{title} — {date}")
    retry_days: int = setting(
        "email", "retry_days", "integer",
        "how many days an unfinished edition's delivery is resumed", 3,
        minimum=0, maximum=365)
    feedback_id: str | None = setting(  # one stable Feedback-ID header value (Gmail FBL)
        "email", "feedback_id", "header_text", "one stable `Feedback-ID` header value", "",
        example="daily:digest")
    return_path: str | None = setting(  # the bounce mailbox: each message's VERP sender
        "email", "return_path", "address",
        "the bounce mailbox (one bare address, at most 31 characters before the `@`): each "
        "message's envelope sender becomes `LOCAL+TAG@DOMAIN`, TAG a signed name of the "
        "edition and subscriber that `digest bounces` reads back. Without it the envelope "
        "sender is the `from` address", "", shown="the `from` address",
        example="bounces@news.example.org")

    @property
    def domain(self) -> str:
        return self.sender_address.rpartition("@")[2]


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    host: str = setting("smtp", "host", "text", "the mail server's host name", "localhost")
    port: int = setting("smtp", "port", "integer", "the mail server's port", 25,
                        minimum=1, maximum=65535)
    security: str = setting("smtp", "security", "choice", "`\"none\"`, `\"starttls\"` or "
                            "`\"tls\"`", "none", choices=("none", "starttls", "tls"))
    username: str = setting("smtp", "username", "text", "log in when set", "")
    password_env: str = setting(
        "smtp", "password_env", "text",
        "the environment variable holding the password (never put it in the file)",
        "DIGEST_SMTP_PASSWORD")
    timeout: float = setting("smtp", "timeout", "number", "seconds per SMTP command", 30,
                             minimum=1, maximum=3600)
    connections: int = setting(  # parallel connections, each reused for many messages
        "smtp", "connections", "integer",
        "parallel connections, each reused for many messages", 4, minimum=1, maximum=64)
    rate: float | None = setting(  # messages per second over all connections; None: no limit
        "smtp", "rate", "rate",
        "messages per second over all connections, for relays that demand it (0: no limit, "
        "else at least 0.001)", 0, minimum=0, shown="none")
    ca_file: Path | None = setting(  # extra CA bundle to trust (a private relay's certificate)
        "smtp", "ca_file", "file",
        "an extra CA bundle to trust (a private relay's certificate)", "",
        example="relay-ca.pem")
    retries: int = setting(  # passes over deferred recipients within one run
        "smtp", "retries", "integer", "passes over deferred recipients within one run", 2,
        minimum=0, maximum=10)
    retry_delay: float = setting(  # seconds before the first retry pass, doubled after each
        "smtp", "retry_delay", "number",
        "seconds before the first retry pass, doubled after each", 30,
        minimum=0, maximum=86400)
    # Seconds to wait for the reply to the message's final dot (RFC 5321 §4.5.3.2.6).
    data_timeout: float = setting(
        "smtp", "data_timeout", "number",
        "seconds to wait for the server's reply to the end of a message (RFC 5321 "
        "§4.5.3.2.6 says 10 minutes). A message whose reply does not come in that time is "
        "recorded as **unknown** (it may have been delivered): not sent again, listed by "
        "`digest status`, sent again by `digest send --retry-unknown`", 600,
        minimum=1, maximum=3600)

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True)
class DkimConfig:
    """One DKIM signature: the d= domain, the s= selector, the PEM private key's path and
    the algorithm ("rsa-sha256" or "ed25519-sha256"); read by loading._dkim_signature."""

    domain: str = setting("dkim", "domain", "custom", "the signing domain (`d=`)")
    selector: str = setting("dkim", "selector", "custom", "the selector (`s=`)")
    private_key: Path = setting("dkim", "private_key", "custom",
                                "path to the PEM private key")
    algorithm: str = setting("dkim", "algorithm", "custom",
                             "`\"rsa-sha256\"` or `\"ed25519-sha256\"`", "rsa-sha256")


@dataclass(frozen=True, kw_only=True)
class FetchConfig:
    connect_timeout: float = setting("fetch", "connect_timeout", "number",
                                     "seconds to connect", 10, minimum=0.1)
    read_timeout: float = setting("fetch", "read_timeout", "number",
                                  "seconds to wait for data", 30, minimum=0.1)
    deadline: float = setting("fetch", "deadline", "number",
                              "seconds for a whole feed", 60, minimum=0.1)
    max_bytes: int = setting("fetch", "max_bytes", "integer", "bytes per feed at most",
                             10 * 1024 * 1024, minimum=1024, shown="10 MiB")
    concurrency: int = setting("fetch", "concurrency", "integer", "feeds fetched at once",
                               8, minimum=1, maximum=64)
    per_host: int = setting("fetch", "per_host", "integer", "connections per host at once",
                            2, minimum=1, maximum=16)
    max_pages: int = setting(  # of a feed, paging back to cover the window
        "fetch", "max_pages", "integer",
        "how far back a feed that carries only its newest items is paged to cover the "
        "window; a gap is reported by `fetch`, `feeds check` and `status`", 10,
        minimum=1, maximum=1000)
    # Where a publisher reads who is fetching: the digest's own public address.
    contact_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """`digest serve`'s limits (waitress settings), so that no client can hold it up."""

    connection_limit: int = setting(
        "serve", "connection_limit", "integer",
        "connections `digest serve` holds open at once; more wait to be accepted", 1000,
        minimum=10, maximum=100000)
    channel_timeout: float = setting(
        "serve", "channel_timeout", "number",
        "seconds a connection may stay silent before it is closed", 30, minimum=1,
        maximum=3600)
    max_request_body: int = setting(
        "serve", "max_request_body", "integer",
        "bytes of a request body at most (a larger one is refused)", 16 * 1024,
        minimum=1024, shown="16 KiB")
    threads: int = setting("serve", "threads", "integer", "requests answered at once", 4,
                           minimum=1, maximum=64)
    trusted_proxy: str | None = setting(
        "serve", "trusted_proxy", "optional_text",
        "the reverse proxy's address (e.g. `\"127.0.0.1\"`), whose `X-Forwarded-For` "
        "and `X-Forwarded-Proto` are believed; empty: none is", "",
        example="127.0.0.1")


@dataclass(frozen=True, kw_only=True)
class SubscribeConfig:
    """The sign-up form of `digest serve`: double opt-in, consent, abuse limits."""

    confirm_days: int = setting(
        "subscribe", "confirm_days", "integer",
        "days a confirmation link stays valid", 7, minimum=1, maximum=90)
    store_ip: bool = setting(
        "subscribe", "store_ip", "bool",
        "keep the address a subscriber confirmed from; false: only its salted hash", True)
    rate: int = setting(
        "subscribe", "rate", "integer",
        "sign-ups a minute from one IP address; more get the same answer and send nothing",
        5, minimum=1, maximum=10000)
    check_domain: bool = setting(
        "subscribe", "check_domain", "bool",
        "sign up only addresses whose domain has an MX record (or, failing that, an A or "
        "AAAA one): a DNS lookup in the request; others get the same answer, and nothing "
        "is stored or sent. Off by default (no lookup, works offline)", False)
    nameserver: str | None = setting(
        "subscribe", "nameserver", "nameserver",
        "the DNS server `check_domain` asks: an IP address, with `:port` if not 53 "
        "(`[::1]:5353` for IPv6); empty: the system's (`/etc/resolv.conf`)", "",
        example="127.0.0.1")


@dataclass(frozen=True, kw_only=True)
class BouncesConfig:
    """`digest bounces`: where bounce notices, complaints and mailed unsubscribes arrive."""

    mailbox: str | None = setting(
        "bounces", "mailbox", "optional_text",
        "where bounces, complaints and mailed unsubscribes arrive: a Maildir "
        "(`\"maildir:/var/mail/digest\"` or a folder holding `cur/ new/ tmp/`), an mbox file "
        "(`\"mbox:/var/mail/bounces\"` or its path), or IMAP "
        "(`\"imaps://user@imap.example.org/INBOX\"`; `imap://` only to a server on this "
        "machine). Empty: `digest bounces` has nothing to read and `send` does not run it",
        "", example="maildir:/var/mail/digest-bounces")
    password_env: str = setting(
        "bounces", "password_env", "text",
        "the environment variable holding the IMAP password", "DIGEST_IMAP_PASSWORD")
    soft_limit: int = setting(
        "bounces", "soft_limit", "integer",
        "soft bounces (mailbox full, 4.x.x) in that many editions in a row make an address "
        "bounced", 5, minimum=1, maximum=100)

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path
    title: str = setting("digest", "title", "text",
                         "the digest's name: masthead, subject, feeds")
    link: str = setting("digest", "link", "url", "the publication's site")
    public_url: str = setting(
        "digest", "public_url", "base_url",
        "where the `output` folder is published (links in emails and feeds)")
    description: str = setting("digest", "description", "text",
                               "tagline under the masthead and feed description", "")
    language: str = setting(
        "digest", "language", "language",
        "language of dates and fixed words (`en`, `az`, `ru`); a code Babel does not know "
        "is an error", "en")
    timezone: zoneinfo.ZoneInfo = setting(
        "digest", "timezone", "timezone",
        "edition dates are local dates here, e.g. `\"Asia/Baku\"`", "UTC")
    state: Path = setting("digest", "state", "path", "the SQLite state file",
                          "digest.sqlite3")
    output: Path = setting("digest", "output", "path", "the folder of published files",
                           "public")
    lookback_hours: float = setting("digest", "lookback_hours", "number",
                                    "how far back an edition looks for articles", 48,
                                    minimum=1, maximum=24 * 366)
    categories: tuple[CategoryConfig, ...]
    email: EmailConfig
    smtp: SmtpConfig
    fetch: FetchConfig = field(default_factory=FetchConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    subscribe: SubscribeConfig = field(default_factory=SubscribeConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    max_per_category: int = setting(
        "digest", "max_per_category", "integer",
        "articles per section in the email; the rest behind \"More in …\"", 10, minimum=1)
    feed_editions: int = setting("feeds", "editions", "integer",
                                 "editions in the digest's own feeds", 30, minimum=1)
    feed_articles: int = setting("feeds", "articles", "integer",  # per category feed
                                 "articles in each category's feeds", 50, minimum=1)
    templates: Path | None = setting(
        "digest", "templates", "folder",
        "a folder of your own templates, used before the defaults", "")
    about: str = setting("digest", "about", "text",
                         "a sentence about the publication, in the footer", "",
                         example="One sentence about the publication, shown in the footer.")
    contact: str | None = setting("digest", "contact", "email_address",
                                  "the editors' address, in the footer", "",
                                  example="editors@example.org")
    privacy_url: str | None = setting("digest", "privacy_url", "optional_url",
                                      "the privacy page, in the footer", "",
                                      example="https://example.org/privacy/")
    terms_url: str | None = setting("digest", "terms_url", "optional_url",
                                    "the terms page, in the footer", "",
                                    example="https://example.org/terms/")
    words: dict[str, Word] = field(default_factory=dict)  # [words]: the editor's fixed words
    thumbnails: bool = setting(  # show article images in the email when their size is known
        "digest", "thumbnails", "bool",
        "show article pictures in the email when their size is known", True)
    dkim: tuple[DkimConfig, ...] = ()  # one per signature; empty: messages go unsigned

    def category(self, slug: str) -> CategoryConfig | None:
        return next((c for c in self.categories if c.slug == slug), None)

    @property
    def category_slugs(self) -> tuple[str, ...]:
        return tuple(c.slug for c in self.categories)


# The classes that declare keys, in the order the README and the template show them.
DECLARING = (Config, CategoryConfig, EmailConfig, SmtpConfig, DkimConfig, FetchConfig,
             ServeConfig, SubscribeConfig, BouncesConfig)
# Tables of config.toml that are not made of declared keys: [words] takes the word list.
FREE_TABLES = ("words",)


def declared(cls: type) -> Iterator[tuple[str, Setting]]:
    """(field name, Setting) of each key a dataclass declares, in field order."""
    for item in dataclasses.fields(cls):
        found = item.metadata.get("setting")
        if isinstance(found, Setting):
            yield item.name, found


def settings(table: str) -> list[Setting]:
    """The keys of one table, in declaration order."""
    return [s for cls in DECLARING for _, s in declared(cls) if s.table == table]


def tables() -> list[str]:
    """Every table config.toml may hold, in declaration order."""
    names = dict.fromkeys(s.table for cls in DECLARING for _, s in declared(cls))
    return [*names, *FREE_TABLES]


# The keys each table accepts: used to flag unknown keys with the nearest known one.
KNOWN_KEYS: dict[str, set[str]] = {
    "": set(tables()),
    **{name: {s.key for s in settings(name)} for name in tables() if name not in FREE_TABLES},
}
