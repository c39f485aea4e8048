"""What every transport promises: hand over one message, say what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DotSafe(bytes):
    """Message bytes in which no line starts with '.': SMTP can send them unstuffed.

    Made by the message builder, which guarantees it; any other bytes get the
    usual dot-stuffing. Saves a search through every message of a large send.
    """


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "deferred" (4xx, try again later) or "failed" (5xx, never again)
    reply: str | None = None  # the server's words when not sent


class Transport(Protocol):
    def send(self, sender: str, recipient: str, message: bytes,
             following: str | None = None) -> Outcome:
        """Deliver one message; raise DeliveryError only when the transport is unusable.

        `following` names the recipient of the next message when it is known, for
        transports that can start on it early (SMTP pipelining); others ignore it.
        """
        ...

    def close(self) -> None: ...
