"""One run at a time per state file: an advisory lock beside it."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import DigestError, LockedError


@contextmanager
def run_lock(state: Path) -> Iterator[None]:
    """Hold the state file's lock for the duration; raise LockedError if another run has it."""
    path = state.with_name(state.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Never through a symbolic link: a root cron job would truncate its target.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise DigestError(
            f"the lock file {path} is a symbolic link; the digest refuses to write through "
            "it. Remove it (`rm` the link, not its target) and run again."
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(
                f"another digest run (pid {holder}) is working on {state}; "
                "wait for it to finish, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
