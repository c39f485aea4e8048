"""The one clock: what time it is, read in one place so that it can be injected.

Code that needs the time takes a `Clock` (or a `now` read from one) instead of asking
the system itself; tests and replays pass a clock of their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time: an aware UTC datetime."""

    def __call__(self) -> dt.datetime: ...


def utcnow() -> dt.datetime:
    """The system's time, aware UTC, to the second (as the state file keeps it)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
