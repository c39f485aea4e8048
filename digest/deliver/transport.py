"""What every transport promises: hand over one message, say what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from digest.models import DeliveryStatus


class DotSafe(bytes):
    """Message bytes in which no line starts with '.': SMTP can send them unstuffed.

    Made by the message builder, which guarantees it; any other bytes get the
    usual dot-stuffing. Saves a search through every message of a large send.
    """


@dataclass(frozen=True)
class Outcome:
    # "sent", "deferred" (4xx, try again later), "failed" (5xx, never again) or "unknown"
    # (the final reply never came: perhaps delivered; sent again only when asked)
    status: DeliveryStatus
    reply: str | None = None  # the server's words when not sent


class Transport(Protocol):
    def send(self, sender: str, recipient: str, message: bytes,
             following: str | None = None, following_sender: str | None = None) -> Outcome:
        """Deliver one message; raise DeliveryError only when the transport is unusable.

        `following` names the recipient of the next message when it is known, for
        transports that can start on it early (SMTP pipelining), and `following_sender`
        its envelope sender when it is not `sender` (a VERP return path); others ignore
        them.
        """
        ...

    def close(self) -> None: ...
