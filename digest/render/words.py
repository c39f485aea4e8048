"""The few fixed words of the digest, per language, and dates and numbers formatted with Babel.

A word is a str.format pattern, or a table of patterns by CLDR plural category
("one", "few", "many", "other", ...) when it counts something: Babel says which
category a number falls in for the language, so "5 новых статей" and "2 новые
статьи" both come out right. Editors override any word with a [words] table in
the config (see docs/email.md).
"""

from __future__ import annotations

import datetime as dt
import string
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

Word = str | Mapping[str, str]

# The locale's own date formats, by name; any other format is a CLDR pattern.
NAMED_FORMATS: dict[str, Literal["full", "long", "medium", "short"]] = {
    "full": "full", "long": "long", "medium": "medium", "short": "short"}

WORDS: dict[str, dict[str, Word]] = {
    "en": {
        "new_articles": "New articles",
        "min_read": "{n} min read",
        "more_in": "More in {category}",
        "by": "By {author}",
        "web_version": "Read this edition on the web",
        "unsubscribe": "Unsubscribe",
        "unsubscribe_note": "You receive this because {email} subscribed to {title}.",
        "unsubscribe_text": "To stop receiving this digest, unsubscribe: {url}",
        "earlier_editions": "Earlier editions",
        "archive": "Archive",
        "subscribe_feed": "Follow by RSS",
        "articles": {"one": "{n} article", "other": "{n} articles"},
        "privacy": "Privacy",
        "terms": "Terms",
        "contact": "Contact",
        "edition_of": "Edition of {date}",
        "no_editions": "No editions yet.",
        "latest_edition": "Latest edition",
        "edition_count": {"one": "{n} new article", "other": "{n} new articles"},
        "web_version_short": "View in your browser",
    },
    "az": {
        "new_articles": "Yeni məqalələr",
        "min_read": "{n} dəq oxuma",
        "more_in": "{category} bölməsində daha çox",
        "by": "Müəllif: {author}",
        "web_version": "Bu buraxılışı saytda oxuyun",
        "unsubscribe": "Abunəlikdən çıxın",
        "unsubscribe_note": "Bu məktubu {email} ünvanı {title} bülleteninə abunə olduğu "
                            "üçün alırsınız.",
        "unsubscribe_text": "Abunəlikdən çıxmaq üçün: {url}",
        "earlier_editions": "Əvvəlki buraxılışlar",
        "archive": "Arxiv",
        "subscribe_feed": "RSS ilə izləyin",
        "articles": "{n} məqalə",
        "privacy": "Məxfilik",
        "terms": "Şərtlər",
        "contact": "Əlaqə",
        "edition_of": "{date} buraxılışı",
        "no_editions": "Hələ buraxılış yoxdur.",
        "latest_edition": "Son buraxılış",
        "edition_count": {"one": "{n} yeni məqalə", "other": "{n} yeni məqalə"},
        "web_version_short": "Brauzerdə baxın",
    },
    "ru": {
        "new_articles": "Новые статьи",
        "min_read": "{n} мин чтения",
        "more_in": "Ещё в рубрике «{category}»",
        "by": "Автор: {author}",
        "web_version": "Читать этот выпуск на сайте",
        "unsubscribe": "Отписаться",
        "unsubscribe_note": "Вы получили это письмо, потому что адрес {email} подписан на "
                            "«{title}».",
        "unsubscribe_text": "Чтобы отписаться от рассылки: {url}",
        "earlier_editions": "Предыдущие выпуски",
        "archive": "Архив",
        "subscribe_feed": "Подписаться через RSS",
        "articles": {"one": "{n} статья", "few": "{n} статьи", "many": "{n} статей",
                     "other": "{n} статьи"},
        "privacy": "Конфиденциальность",
        "terms": "Условия",
        "contact": "Контакты",
        "edition_of": "Выпуск от {date}",
        "no_editions": "Выпусков пока нет.",
        "latest_edition": "Последний выпуск",
        "edition_count": {"one": "{n} новая статья", "few": "{n} новые статьи",
                          "many": "{n} новых статей", "other": "{n} новой статьи"},
        "web_version_short": "Открыть в браузере",
    },
}


def fields(pattern: str) -> set[str]:
    """The {names} a pattern uses."""
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name}


def word_fields(word: Word) -> set[str]:
    patterns = [word] if isinstance(word, str) else list(word.values())
    return set().union(*(fields(p) for p in patterns))


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
