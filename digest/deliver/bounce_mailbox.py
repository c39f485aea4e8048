"""The bounce mailbox: read its messages one at a time, and put away those handled.

Three kinds, named by `[bounces] mailbox`: a Maildir (handled messages move to its
Maildir++ folder `.processed`), an mbox file (left as it is: the handled messages'
ids are remembered in the state file, through the callbacks given) and IMAP (handled
messages are flagged \\Seen and moved to the folder `processed`). Each message is read
at most READ_AT_MOST bytes, so memory stays flat whatever arrives.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import imaplib
import mailbox
import os
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from digest.deliver.bounce_reports import READ_AT_MOST
from digest.errors import DigestError

PROCESSED = "processed"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class MailboxError(DigestError):
    """The bounce mailbox cannot be read (missing, refused, wrong password)."""

    exit_code = 1


@dataclass(frozen=True)
class Incoming:
    """One message of the mailbox: its handle there, its id and its first bytes."""

    key: str
    message_id: str  # its Message-ID, else "sha256:…" of the bytes read
    data: bytes


class BounceMailbox(Protocol):
    where: str
    # Messages passed over (one that cannot be read or put away): said, and the run
    # goes on with the others.
    problems: list[str]

    def messages(self) -> Iterator[Incoming]:
        """The messages not handled yet, one at a time."""
        ...

    def handled(self, message: Incoming) -> None:
        """Put a handled message away, so that a later run does not read it again."""
        ...

    def close(self) -> None: ...


def message_id_of(data: bytes) -> str:
    """A message's Message-ID, or a hash of its bytes when it has none."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    parsed = email.parser.BytesHeaderParser().parsebytes(head)
    found = str(parsed.get("message-id", "") or "").strip()
    return found or "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def open_mailbox(where: str, *, password: str | None = None,
                 password_env: str = "DIGEST_IMAP_PASSWORD",
                 handled: Callable[[str], bool] | None = None,
                 remember: Callable[[str], None] | None = None,
                 timeout: float = 30) -> BounceMailbox:
    """The mailbox `[bounces] mailbox` names; raises MailboxError when it cannot be read.
    `handled` and `remember` keep the mbox's handled message ids (in the state file)."""
    scheme, sep, rest = where.partition(":")
    if sep and scheme in ("imap", "imaps"):
        return ImapMailbox(where, password, password_env, timeout=timeout)
    if sep and scheme == "maildir":
        return MaildirMailbox(Path(rest))
    if sep and scheme == "mbox":
        return MboxMailbox(Path(rest), handled, remember)
    path = Path(where)
    if path.is_dir():
        return MaildirMailbox(path)
    if path.is_file():
        return MboxMailbox(path, handled, remember)
    raise MailboxError(f"the bounce mailbox {where} does not exist. Check [bounces] mailbox "
                       "(a Maildir folder, an mbox file, or imaps://USER@HOST/FOLDER).")


class MaildirMailbox:
    """A Maildir (new/ and cur/); handled messages move to its `.processed` folder."""

    def __init__(self, path: Path) -> None:
        self.where = f"maildir:{path}"
        if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise MailboxError(f"the bounce mailbox {path} is not a Maildir (no cur/, new/ "
                               "and tmp/ in it). Check [bounces] mailbox.")
        self.path = path
        self.problems: list[str] = []
        self.processed = path / f".{PROCESSED}"  # Maildir++, as mailbox.Maildir names it
        try:
            self.box = mailbox.Maildir(path, factory=None, create=False)
            # Made when the first message is put away: a dry run changes nothing.
            self.folder_made = PROCESSED in self.box.list_folders()
        except OSError as exc:
            raise MailboxError(f"cannot open the bounce mailbox {path}: "
                               f"{exc.strerror or exc}. Check its permissions.") from None

    def messages(self) -> Iterator[Incoming]:
        """The messages of new/ and cur/ (as mailbox.Maildir lists them: a file's name up
        to its ':' info is its key), each read at most READ_AT_MOST bytes."""
        for sub in ("new", "cur"):
            try:
                names = sorted(entry.name for entry in os.scandir(self.path / sub)
                               if not entry.name.startswith("."))
            except OSError as exc:
                raise MailboxError(f"cannot read {self.path / sub}: "
                                   f"{exc.strerror or exc}") from None
            for name in names:
                try:
                    with open(self.path / sub / name, "rb") as f:
                        data = f.read(READ_AT_MOST)
                except FileNotFoundError:
                    continue  # taken away meanwhile
                except OSError as exc:  # this one only: the others are read all the same
                    self.problems.append(f"cannot read {self.path / sub / name}: "
                                         f"{exc.strerror or exc}; left where it is "
                                         "(check its permissions)")
                    continue
                yield Incoming(f"{sub}/{name}", message_id_of(data), data)

    def handled(self, message: Incoming) -> None:
        """Move the file into .processed/cur, marked seen (a rename: never copied)."""
        source = self.path / message.key
        name = source.name if ":2," in source.name else source.name.partition(":")[0] + ":2,S"
        try:
            if not self.folder_made:
                self.box.add_folder(PROCESSED)
                self.folder_made = True
            source.rename(self.processed / "cur" / name)
        except FileNotFoundError:
            return
        except OSError as exc:  # what it said was done; a rerun does not count it twice
            self.problems.append(f"cannot move {source} to {self.processed}: "
                                 f"{exc.strerror or exc}; it was handled and stays where "
                                 "it is (a rerun reads it again and changes nothing)")

    def close(self) -> None:
        self.box.close()


class MboxMailbox:
    """An mbox file, read and never changed: the ids of handled messages are remembered."""

    def __init__(self, path: Path, handled: Callable[[str], bool] | None,
                 remember: Callable[[str], None] | None) -> None:
        self.where = f"mbox:{path}"
        self.problems: list[str] = []
        if not path.is_file():
            raise MailboxError(f"the bounce mailbox {path} is not a file. Check [bounces] "
                               "mailbox.")
        self.seen = handled or (lambda _id: False)
        self.remember = remember or (lambda _id: None)
        try:
            self.box = mailbox.mbox(path, factory=None, create=False)
        except OSError as exc:
            raise MailboxError(f"cannot open the bounce mailbox {path}: "
                               f"{exc.strerror or exc}") from None

    def messages(self) -> Iterator[Incoming]:
        try:
            keys = list(self.box.iterkeys())
        except OSError as exc:
            raise MailboxError(f"cannot read {self.where}: {exc.strerror or exc}") from None
        for key in keys:
            with self.box.get_file(key) as f:
                data = f.read(READ_AT_MOST)
            message_id = message_id_of(data)
            if not self.seen(message_id):
                yield Incoming(str(key), message_id, data)

    def handled(self, message: Incoming) -> None:
        self.remember(message.message_id)

    def close(self) -> None:
        self.box.close()


@dataclass(frozen=True)
class ImapAddress:
    secure: bool
    user: str
    host: str
    port: int
    folder: str


def imap_address(where: str) -> ImapAddress:
    """imaps://USER@HOST[:PORT]/FOLDER (imap:// only to this machine)."""
    parts = urlsplit(where)
    if parts.scheme not in ("imap", "imaps") or not parts.username or not parts.hostname:
        raise MailboxError(f"{where}: an IMAP mailbox is written imaps://USER@HOST/FOLDER")
    secure = parts.scheme == "imaps"
    if not secure and parts.hostname not in LOOPBACK:
        raise MailboxError(f"{where}: plain imap:// is only for a server on this machine; "
                           "use imaps://")
    try:
        port = parts.port or (993 if secure else 143)
    except ValueError:
        raise MailboxError(f"{where}: the port is not a number") from None
    return ImapAddress(secure, unquote(parts.username), parts.hostname, port,
                       unquote(parts.path.lstrip("/")) or "INBOX")


class ImapMailbox:
    """A folder on an IMAP server: handled messages flagged \\Seen and moved to
    `processed` (MOVE, RFC 6851, when offered; else COPY, \\Deleted and EXPUNGE)."""

    def __init__(self, where: str, password: str | None, password_env: str, *,
                 timeout: float = 30) -> None:
        self.where = where
        self.problems: list[str] = []
        self.address = address = imap_address(where)
        if not password:
            raise MailboxError(f"the IMAP password for {where} is not set: export "
                               f"{password_env} before running")
        self.expunge = False
        self.move = False
        try:
            if address.secure:
                self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    address.host, address.port, ssl_context=ssl.create_default_context(),
                    timeout=timeout)
            else:
                self.imap = imaplib.IMAP4(address.host, address.port, timeout=timeout)
            self.imap.login(address.user, password)
            # What the server offers once logged in (imaplib keeps the greeting's list).
            offered = _text(self._ok(self.imap.capability(), "capability")).upper().split()
            self.move = "MOVE" in offered or "MOVE" in self.imap.capabilities
            self.folder_made = False  # made when the first message is put away
            self._ok(self.imap.select(_quoted(address.folder)), f"select {address.folder}")
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            self._give_up()
            raise MailboxError(f"cannot use the IMAP mailbox {where}: {_reason(exc)}. Check "
                               f"[bounces] mailbox and ${password_env}.") from None

    def _give_up(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()

    def _ok(self, answer: tuple[str, list[Any]], what: str) -> list[Any]:
        status, data = answer
        if status != "OK":
            raise imaplib.IMAP4.error(f"{what}: {status} {_text(data)}")
        return data

    def _ensure_folder(self) -> None:
        status, data = self.imap.list('""', _quoted(PROCESSED))
        if status == "OK" and any(item for item in data if item):
            return
        self._ok(self.imap.create(_quoted(PROCESSED)), f"create {PROCESSED}")

    def messages(self) -> Iterator[Incoming]:
        try:
            found = self._ok(self.imap.uid("SEARCH", "UNDELETED"), "search")
            uids = b" ".join(x for x in found if isinstance(x, bytes)).split()
            for uid in uids:
                data = self._fetch(uid.decode())
                if data is not None:
                    yield Incoming(uid.decode(), message_id_of(data), data)
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            raise MailboxError(f"reading the IMAP mailbox {self.where} failed: {_reason(exc)}") \
                from None

    def _fetch(self, uid: str) -> bytes | None:
        """The message's first READ_AT_MOST bytes (a partial fetch: not the whole of a
        large one), without setting \\Seen."""
        answer = self._ok(self.imap.uid("FETCH", uid, f"(BODY.PEEK[]<0.{READ_AT_MOST}>)"),
                          f"fetch {uid}")
        for item in answer:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def handled(self, message: Incoming) -> None:
        try:
            if not self.folder_made:
                self._ensure_folder()
                self.folder_made = True
            self._ok(self.imap.uid("STORE", message.key, "+FLAGS", r"(\Seen)"), "store")
            if self.move:
                self._ok(self.imap.uid("MOVE", message.key, _quoted(PROCESSED)), "move")
                return
            self._ok(self.imap.uid("COPY", message.key, _quoted(PROCESSED)), "copy")
            self._ok(self.imap.uid("STORE", message.key, "+FLAGS", r"(\Deleted)"), "store")
            self.expunge = True
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            raise MailboxError(f"moving a message in {self.where} failed: {_reason(exc)}") \
                from None

    def close(self) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError, ssl.SSLError):
            if self.expunge:
                self.imap.expunge()
            self.imap.close()
        self._give_up()


def _quoted(name: str) -> str:
    return '"' + re.sub(r'(["\\])', r"\\\1", name) + '"'


def _reason(exc: BaseException) -> str:
    """An error's words: imaplib raises the server's answer as bytes
    (`b'[AUTHENTICATIONFAILED] …'`); those are decoded."""
    if len(exc.args) == 1 and isinstance(exc.args[0], bytes):
        return exc.args[0].decode("utf-8", "replace")
    return str(exc)


def _text(data: list[object]) -> str:
    return " ".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                    for x in data)
