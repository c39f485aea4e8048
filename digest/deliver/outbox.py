"""The file transport: each message written as an .eml file, for previews and the demo."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path

from digest.deliver.transport import Outcome
from digest.errors import DeliveryError

TMP_PREFIX = ".tmp-"  # a message being written; one left by a killed run is removed
NAME_CHARS = 100  # of the address kept in a file name, well under any file system's limit
# Errors that concern the outbox folder, not one message: nobody else can be written either.
FOLDER_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.ENOENT, errno.EIO}


def outbox_name(recipient: str) -> str:
    """A file name for the recipient's message, safe and distinct whatever the address.

    Plain addresses keep their own name; any other (characters replaced, too long, a
    leading dot) gets part of it and a hash of the whole, so two never share a file.
    """
    safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
    if safe == recipient and len(safe) <= NAME_CHARS and not safe.startswith("."):
        return safe + ".eml"
    digest = hashlib.sha256(recipient.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe.lstrip('.')[:NAME_CHARS]}.{digest}.eml"


class OutboxTransport:
    def __init__(self, folder: Path, edition: str, *, return_path: bool = False) -> None:
        self.folder = folder / edition
        self.return_path = return_path  # write the envelope sender as Return-Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for leftover in self.folder.glob(f"{TMP_PREFIX}*.eml"):  # from a killed run
                leftover.unlink(missing_ok=True)
        except OSError as exc:
            raise DeliveryError(
                f"cannot create the outbox folder {self.folder}: {exc.strerror or exc}. "
                "Check [email] outbox."
            ) from None

    def send(self, sender: str, recipient: str, message: bytes,
             following: str | None = None, following_sender: str | None = None) -> Outcome:
        target = self.folder / outbox_name(recipient)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=TMP_PREFIX, suffix=".eml")
            with os.fdopen(fd, "wb") as f:
                if self.return_path:  # as the delivering server would add it
                    f.write(f"Return-Path: <{sender}>\r\n".encode())
                f.write(message)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if exc.errno in FOLDER_ERRORS:
                raise DeliveryError(f"cannot write {target}: {exc.strerror or exc}") from None
            # This recipient's problem alone: the others are still written.
            return Outcome("failed", f"cannot write {target.name}: {exc.strerror or exc}")
        return Outcome("sent")

    def close(self) -> None:
        pass


def erase_messages(outbox: Path, address: str) -> int:
    """Delete every .eml file under `outbox` (the file transport's folder, every
    edition's and the sign-up form's) addressed to `address` or naming it anywhere, for
    a privacy request; how many were deleted."""
    if not outbox.is_dir():
        return 0
    wanted = address.lower().encode("utf-8", "surrogatepass")
    erased = 0
    for file in outbox.rglob("*.eml"):
        try:
            if file.name == outbox_name(address) or wanted in file.read_bytes().lower():
                file.unlink()
                erased += 1
        except OSError as exc:
            raise DeliveryError(f"cannot erase {file}: {exc.strerror or exc}; delete it "
                                "by hand, it holds the forgotten address") from None
    return erased
