"""The state file itself: opening (made whole, mode 0600, migrated), transactions,
the secret, and what to say when SQLite fails."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from digest.clock import Clock, utcnow
from digest.errors import DigestError
from digest.store import schema


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class StorageError(DigestError):
    """SQLite could not read or write the state file: disk full, damaged, read-only."""

    def __init__(self, path: Path, exc: sqlite3.Error) -> None:
        self.path = path
        super().__init__(storage_problem(path, exc))


def storage_problem(path: Path | None, exc: sqlite3.Error) -> str:
    """What went wrong with the state file, in words, and what to do about it."""
    where = f"the state file {path}" if path else "the state file"
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered or ("i/o" in lowered and path is not None and _nearly_full(path)):
        return (f"the disk holding {where} is full ({text}); what was not recorded was "
                "not done. Free some space and run the command again.")
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return (f"{where} is damaged ({text}). Restore it from a backup; failing that, "
                f"`sqlite3 {path or 'STATE'} .recover > recovered.sql` saves what can be "
                "read.")
    if "readonly" in lowered or "read-only" in lowered:
        return f"{where} cannot be written ({text}); check its and its folder's permissions."
    if "locked" in lowered or "busy" in lowered:
        return (f"{where} is held by another process ({text}); wait for it to finish, then "
                "run the command again.")
    return (f"{where} could not be read or written ({text}); check the disk and the file, "
            "then run the command again.")


def _nearly_full(path: Path) -> bool:
    """Whether the disk holding `path` is (all but) full: SQLite then often says only
    "disk I/O error", when it cannot grow its shared-memory or log file."""
    try:
        return shutil.disk_usage(path.parent).free < 256 * 1024
    except OSError:
        return False


def _create_state_file(path: Path) -> None:
    """A new, empty SQLite file (WAL mode, mode 0600) moved into place whole."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # writes the header: never 0 bytes
        finally:
            db.close()
        try:
            os.link(tmp, path)  # never over a file another process made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.rename(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"),
                         tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


class StoreCore:
    """The connection every part of the store works on."""

    def __init__(self, path: Path, *, shared: bool = False, clock: Clock = utcnow) -> None:
        """Open the state file; `shared` lets other threads use it (the caller serialises).

        A new state file is made whole beside it, readable by its owner only (it
        holds the token secret and every subscriber), then moved into place; an
        existing one that is empty is refused, never silently started afresh.
        `warnings` says what the caller should tell (a file others can read).
        `clock` tells the time recorded with subscribers and deliveries.
        """
        self.path = path
        self.clock = clock
        self.warnings: list[str] = []
        self.log_kept = False  # the last erase could not empty the write-ahead log
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(path):
                _create_state_file(path)
            self._check_file()
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                      check_same_thread=not shared)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StorageError(path, exc) from None
        except (OSError, sqlite3.Error) as exc:
            self._close_quietly()
            raise DigestError(
                f"cannot open the state file {path}: {exc}. "
                "Check that its folder exists and is writable ([digest] state)."
            ) from None

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def _check_file(self) -> None:
        info = os.stat(self.path)
        if info.st_size == 0:
            raise DigestError(
                f"the state file {self.path} is empty (0 bytes): it was truncated or "
                "replaced. Restore it from a backup. Only if there is none, delete it and "
                "run again: a new state file has a new secret, so every unsubscribe link "
                "already sent stops working."
            )
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.warnings.append(
                f"the state file {self.path} can be read by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}) and holds the unsubscribe secret and "
                f"every subscriber: run `chmod 600 {self.path}*`"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return schema.schema_version(self.db)

    def migrate(self) -> None:
        for number in schema.pending(self.db, self.path):
            with self.transaction() as db:
                schema.apply(db, schema.MIGRATIONS[number])
                db.execute(f"PRAGMA user_version = {number + 1}")

    def secret(self) -> bytes:
        """A random secret made on first use and kept here (for unsubscribe tokens)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
        if row:
            return bytes.fromhex(row[0])
        value = secrets.token_bytes(32)
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret', ?)", (value.hex(),)
        )
        row = self.db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
        return bytes.fromhex(row[0])
