"""How each kind of key is read and checked: `Setting.kind` names one of READERS.

A reader takes the problem collector, the key's Setting, the table's data and (for an
array of tables) the table's index, and returns the value the dataclass field holds; a
bad value is reported and replaced by something harmless, so that every problem is found
in one pass.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from email.headerregistry import Address
from pathlib import Path
from typing import Any, get_args

from digest.config.addresses import (
    CONTROL,
    display,
    header_url,
    list_id,
    mailbox,
    nameserver,
)
from digest.config.declaration import REQUIRED, Kind, Setting
from digest.config.reader import Reader

MIN_RATE = 0.001  # messages per second: one every 17 minutes
Data = dict[str, Any]
ValueReader = Callable[[Reader, Setting, Data, "int | None"], Any]


def _default(s: Setting) -> Any:
    return None if s.default is REQUIRED else s.default


def text(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    return r.text(s.table, d, s.key, _default(s), required=s.required, index=index)


def optional_text(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    return r.optional_text(s.table, d, s.key)


def header_text(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    value = r.optional_text(s.table, d, s.key)
    if value and CONTROL.search(value):
        r.problem(s.table, s.key, "must be one line without control characters")
    return value


def url(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    return r.url(s.table, d, s.key, required=s.required)


def optional_url(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    return r.url(s.table, d, s.key) or None


def base_url(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    """A URL other addresses are relative to: it ends with a slash."""
    value = r.url(s.table, d, s.key, required=s.required)
    return value if not value or value.endswith("/") else value + "/"


def language(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    value = r.text(s.table, d, s.key, s.default)
    if value and not _known_language(value):
        r.problem(s.table, s.key, f"unknown language {value!r}; use a code like "
                  "'en', 'az', 'ru' or 'pt-BR'")
        return str(s.default)
    return value


def timezone(r: Reader, s: Setting, d: Data, index: int | None = None) -> zoneinfo.ZoneInfo:
    name = r.text(s.table, d, s.key, s.default)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        r.problem(s.table, s.key, f"unknown time zone {name!r} (try 'Asia/Baku' or 'UTC')")
        return zoneinfo.ZoneInfo(s.default)


def path(r: Reader, s: Setting, d: Data, index: int | None = None) -> Path:
    return r.path(s.table, d, s.key, s.default)


def folder(r: Reader, s: Setting, d: Data, index: int | None = None) -> Path | None:
    """An optional folder, relative to the config file; it must exist."""
    value = r.text(s.table, d, s.key)
    if not value:
        return None
    found = (r.file.parent / value).resolve()
    if not found.is_dir():
        r.problem(s.table, s.key, f"folder {str(found)!r} does not exist")
    return found


def file(r: Reader, s: Setting, d: Data, index: int | None = None) -> Path | None:
    """An optional file, relative to the config file; it must exist."""
    value = r.optional_text(s.table, d, s.key)
    if not value:
        return None
    found = (r.file.parent / value).resolve()
    if not found.is_file():
        r.problem(s.table, s.key, f"file {str(found)!r} does not exist")
    return found


def number(r: Reader, s: Setting, d: Data, index: int | None = None) -> float:
    assert s.minimum is not None, f"{s.key} declares no minimum"
    return r.number(s.table, d, s.key, s.default, minimum=s.minimum, maximum=s.maximum)


def integer(r: Reader, s: Setting, d: Data, index: int | None = None) -> int:
    assert s.minimum is not None, f"{s.key} declares no minimum"
    return int(r.number(s.table, d, s.key, s.default, minimum=s.minimum, maximum=s.maximum,
                        integer=True))


def rate(r: Reader, s: Setting, d: Data, index: int | None = None) -> float | None:
    """0: no limit; else at least MIN_RATE (a smaller rate is a typo, not a plan)."""
    value = number(r, s, d)
    if 0 < value < MIN_RATE:
        r.problem(s.table, s.key, f"must be 0 (no limit) or at least {MIN_RATE:g} messages "
                  f"per second, got {value!r}")
        return None
    return value or None


def boolean(r: Reader, s: Setting, d: Data, index: int | None = None) -> bool:
    value = d.get(s.key, s.default)
    if not isinstance(value, bool):
        r.problem(s.table, s.key, f"must be true or false, got {value!r}")
        return bool(s.default)
    return value


def choice(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    value = r.text(s.table, d, s.key, s.default)
    if value not in s.choices:
        quoted = [repr(c) for c in s.choices]
        allowed = ", ".join(quoted[:-1]) + " or " + quoted[-1]
        r.problem(s.table, s.key, f"must be {allowed}, got {value!r}")
    return value


def address(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    """One bare address, as it goes into a header."""
    value = r.optional_text(s.table, d, s.key)
    return (mailbox(r, s.table, s.key, value, named=False)[1] or None) if value else None


def named_address(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    """One address with an optional name, as it goes into a header."""
    value = r.optional_text(s.table, d, s.key)
    if not value:
        return None
    name, found = mailbox(r, s.table, s.key, value)
    return display(name, found) if found else None


def header_url_kind(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    return header_url(r, s.table, s.key, r.url(s.table, d, s.key))


def list_id_kind(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    value = r.optional_text(s.table, d, s.key)
    return list_id(r, s.table, s.key, value) if value else None


def subject(r: Reader, s: Setting, d: Data, index: int | None = None) -> str:
    value = r.text(s.table, d, s.key, s.default)
    if not _subject_fields_ok(value):
        r.problem(s.table, s.key, "may only use the fields {title} and {date}, "
                  "without format specs (write a literal brace as {{ or }})")
        return str(s.default)
    return value


def email_address(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    value = r.optional_text(s.table, d, s.key)
    if value:
        try:
            Address(addr_spec=value)
        except (ValueError, IndexError):
            r.problem(s.table, s.key, f"must be an email address, got {value!r}")
    return value


def nameserver_kind(r: Reader, s: Setting, d: Data, index: int | None = None) -> str | None:
    value = r.optional_text(s.table, d, s.key)
    if value:
        try:
            nameserver(value)
        except ValueError:
            r.problem(s.table, s.key, "must be an IP address, with `:port` if not 53 "
                      f"(`[::1]:5353` for IPv6), got {value!r}")
            return None
    return value


READERS: dict[Kind, ValueReader] = {
    "text": text, "optional_text": optional_text, "header_text": header_text, "url": url,
    "optional_url": optional_url, "base_url": base_url, "language": language,
    "timezone": timezone, "path": path, "folder": folder, "file": file, "number": number,
    "integer": integer, "rate": rate, "bool": boolean, "choice": choice,
    "mailbox": text,  # the whole `Name <address>`; loading splits it with addresses.mailbox
    "address": address, "named_address": named_address, "header_url": header_url_kind,
    "list_id": list_id_kind, "subject": subject, "email_address": email_address,
    "nameserver": nameserver_kind,
}
assert set(READERS) | {"custom"} == set(get_args(Kind)), "a Kind without its reader"


def _known_language(code: str) -> bool:
    """Whether Babel knows the language (its words and dates come from there)."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def _subject_fields_ok(value: str) -> bool:
    """Only {title} and {date}, plain: no attributes, indexes, conversions or specs."""
    import string

    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError:
        return False
    return all(field is None or (field in ("title", "date") and not spec and not conversion)
               for _text, field, spec, conversion in parsed)
