"""The file transport: each message written as an .eml file, for previews and the demo."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from digest.deliver.transport import Outcome
from digest.errors import DeliveryError


class OutboxTransport:
    def __init__(self, folder: Path, edition: str) -> None:
        self.folder = folder / edition
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(
                f"cannot create the outbox folder {self.folder}: {exc.strerror or exc}. "
                "Check [email] outbox."
            ) from None

    def send(self, sender: str, recipient: str, message: bytes,
             following: str | None = None) -> Outcome:
        name = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient) + ".eml"
        target = self.folder / name
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as f:
                f.write(message)
            os.replace(tmp, target)
        except OSError as exc:
            raise DeliveryError(f"cannot write {target}: {exc.strerror or exc}") from None
        return Outcome("sent")

    def close(self) -> None:
        pass
