"""What a localised date must hold, read from Babel's own data at test time.

CLDR changes the order and punctuation of its date patterns between releases
(Babel 2.19 moved the Azerbaijani weekday to the front), so tests check the
parts the reader needs, in the locale's own words, not one release's pattern.
"""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, get_day_names, get_month_names


def date_parts(day: dt.date, locale: str, *, weekday: bool = True) -> list[str]:
    """The words a reader must find in a localised date: day, month name, year, weekday."""
    months = get_month_names("wide", context="format", locale=locale)
    parts = [str(day.day), str(months[day.month]), str(day.year)]
    if weekday:
        parts.append(str(get_day_names("wide", context="format", locale=locale)[day.weekday()]))
    return parts


def has_date(text: str, day: dt.date, locale: str, *, weekday: bool = True) -> bool:
    """True when `text` names `day` in `locale`'s words (case-insensitive, any order)."""
    folded = text.casefold()
    return all(part.casefold() in folded for part in date_parts(day, locale, weekday=weekday))


def full_date(day: dt.date, locale: str) -> str:
    """The full date as this Babel release writes it: the dateline and subject use it."""
    return str(format_date(day, format="full", locale=locale))
