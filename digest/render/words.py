"""The fixed words of the digest (digest.words) with dates and numbers formatted with Babel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import (
    DateTimePattern,
    format_date,
    get_date_format,
    parse_pattern,
)
from babel.numbers import format_decimal

from digest.words import WORDS, Word

# The locale's own date formats, by name; any other format is a CLDR pattern.
NAMED_FORMATS: dict[str, Literal["full", "long", "medium", "short"]] = {
    "full": "full", "long": "long", "medium": "medium", "short": "short"}


class Words:
    """Fixed words, numbers and dates for one language (English where a word is missing).

    `overrides` (the config's [words] table) wins over the built-in words.
    """

    def __init__(self, language: str, tz: dt.tzinfo,
                 overrides: Mapping[str, Word] | None = None) -> None:
        self.language = language
        base = language.replace("-", "_").split("_")[0].lower()
        self.words: dict[str, Word] = {**WORDS["en"], **WORDS.get(base, {}), **(overrides or {})}
        self.tz = tz
        self._date_patterns: dict[str, DateTimePattern] = {}
        try:
            self.locale = Locale.parse(language.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            self.locale = Locale.parse("en")

    def __call__(self, key: str, **values: object) -> str:
        word = self.words[key]
        if not isinstance(word, str):
            count = values.get("n")
            form = self.locale.plural_form(count) if isinstance(count, int) else "other"
            word = word.get(form) or word.get("other") or next(iter(word.values()))
        shown = {k: self.number(v) if isinstance(v, int) and not isinstance(v, bool) else v
                 for k, v in values.items()}
        return word.format(**shown)

    def number(self, value: int | float) -> str:
        return str(format_decimal(value, locale=self.locale))

    def date(self, value: dt.date, fmt: str = "long") -> str:
        # As format_date, with the pattern parsed once: an archive formats a thousand dates.
        pattern = self._date_patterns.get(fmt)
        if pattern is None:
            named = NAMED_FORMATS.get(fmt)
            pattern = parse_pattern(get_date_format(named, locale=self.locale) if named else fmt)
            self._date_patterns[fmt] = pattern
        return str(pattern.apply(value, self.locale))

    def local_date(self, value: dt.datetime, fmt: str = "medium") -> str:
        return str(format_date(value.astimezone(self.tz).date(), format=fmt, locale=self.locale))
