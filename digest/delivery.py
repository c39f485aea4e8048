"""Pure decisions about delivery: what each subscriber gets, and when a list is done."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.models import Edition, Subscriber

BOUNCE_AFTER = 3  # permanent failures in a row before an address is marked bounced


def sections_for(subscriber: Subscriber, edition: Edition) -> frozenset[str]:
    """The edition's sections this subscriber receives; empty means nothing to send.

    A subscriber without categories gets every section; one with categories gets
    only those (categories the edition lacks are ignored).
    """
    present = frozenset(s.slug for s in edition.sections)
    if not subscriber.categories:
        return present
    return present & subscriber.categories


def should_bounce(failures_in_a_row: int) -> bool:
    return failures_in_a_row >= BOUNCE_AFTER


@dataclass
class DeliveryReport:
    """Counts for one edition's delivery run, and the failures worth telling."""

    date: str
    articles: int
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    nothing_for: int = 0  # subscribers whose categories had no article this time
    bounced: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why delivery stopped early (mail server unusable)
    dry_run: bool = False

    @property
    def left(self) -> int:
        return self.deferred + self.failed + (1 if self.stopped else 0)

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        text = (f"edition {self.date}: {self.articles} articles; {verb} {self.sent}, "
                f"deferred {self.deferred}, failed {self.failed}")
        if self.nothing_for:
            text += f"; {self.nothing_for} subscriber(s) had nothing in their categories"
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text
