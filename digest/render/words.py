"""The few fixed words of the digest, per language, and dates formatted with Babel."""

from __future__ import annotations

import datetime as dt

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime

WORDS: dict[str, dict[str, str]] = {
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
        "articles": "{n} articles",
        "privacy": "Privacy",
        "terms": "Terms",
        "contact": "Contact",
        "edition_of": "Edition of {date}",
        "no_editions": "No editions yet.",
        "latest_edition": "Latest edition",
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
        "articles": "Статей: {n}",
        "privacy": "Конфиденциальность",
        "terms": "Условия",
        "contact": "Контакты",
        "edition_of": "Выпуск от {date}",
        "no_editions": "Выпусков пока нет.",
        "latest_edition": "Последний выпуск",
    },
}


class Words:
    """Fixed words and date formats for one language (English where a word is missing)."""

    def __init__(self, language: str, tz: dt.tzinfo) -> None:
        self.language = language
        base = language.replace("-", "_").split("_")[0].lower()
        self.words = {**WORDS["en"], **WORDS.get(base, {})}
        self.tz = tz
        try:
            self.locale = Locale.parse(language.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            self.locale = Locale.parse("en")

    def __call__(self, key: str, **values: object) -> str:
        return self.words[key].format(**values)

    def date(self, value: dt.date, fmt: str = "long") -> str:
        return str(format_date(value, format=fmt, locale=self.locale))

    def datetime(self, value: dt.datetime, fmt: str = "medium") -> str:
        return str(format_datetime(value, format=fmt, tzinfo=self.tz, locale=self.locale))

    def local_date(self, value: dt.datetime, fmt: str = "medium") -> str:
        return str(format_date(value.astimezone(self.tz).date(), format=fmt, locale=self.locale))
