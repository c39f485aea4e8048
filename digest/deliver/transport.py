"""What every transport promises: hand over one message, say what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "deferred" (4xx, try again later) or "failed" (5xx, never again)
    reply: str | None = None  # the server's words when not sent


class Transport(Protocol):
    def send(self, sender: str, recipient: str, message: bytes) -> Outcome:
        """Deliver one message; raise DeliveryError only when the transport is unusable."""
        ...

    def close(self) -> None: ...
