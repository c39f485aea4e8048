"""A real IMAP server for the tests: Debian's ``dovecot-imapd``, private, on a loopback port.

Fixtures (tests/conftest.py)
----------------------------
``dovecot_server`` (session scope)
    Starts one private Dovecot per test session (``dovecot -F -c FILE``: its own config file,
    ``base_dir``, ``state_dir``, log file and Maildirs in a temporary folder; never the
    system's service) listening for IMAP on ``127.0.0.1:PORT``, plain passwords allowed
    without TLS (``disable_plaintext_auth = no``, ``auth_mechanisms = plain login``), and
    for IMAP over TLS on ``127.0.0.1:TLS_PORT`` with a self-signed certificate for
    127.0.0.1 and localhost (``site.certificate``: a client trusts it with
    ``SSL_CERT_FILE``). Users come from a passwd-file; their mail is
    ``maildir:FOLDER/mail/USER`` (owned by ``nobody``). Dovecot speaks IMAP4rev1 with MOVE
    (announced after login), UIDPLUS and the rest.
    Wrong passwords cost no delay (``auth_failure_delay = 0``, no auth penalty), so a test
    of one does not slow the others' logins.
    If the package is missing the fixture FAILS (it does not skip): ``.ci/run`` installs it.
``dovecot`` (function scope)
    The same ``DovecotSite``.

API
---
``site.host`` (127.0.0.1), ``site.port``, ``site.tls_port``, ``site.certificate``,
``site.folder``, ``site.version``
``site.new_user() -> ImapUser``
    A user no test used yet (``user``, ``password``), with an empty INBOX: tests that share
    the session's server do not see each other's mail.
``site.connect(user) -> imaplib.IMAP4`` (logged in; a context manager)
``site.append(user, raw, mailbox="INBOX", flags="")``
    Puts a message (bytes) in a mailbox with IMAP APPEND, creating the mailbox if needed.
``site.mailbox(user, mailbox="INBOX") -> list[ImapMessage]``
    What a mailbox holds: uid, flags and the raw message, read with FETCH (BODY.PEEK[],
    which leaves \\Seen as it was); ``[]`` when the mailbox does not exist.
``site.log() -> str``
``start_dovecot(folder=None)`` (a context manager)
    The same outside pytest: ``.venv/bin/python tests/dovecot_site.py`` runs one until
    interrupted (``--exit``: start and stop).
Should the test run be killed, a watchdog process stops the server and removes the folder.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mailservers import self_signed
from support.servers import free_port, group_gone, reaped, watchdog_stood_down

PACKAGE = "dovecot-imapd"
DOVECOT = "/usr/sbin/dovecot"
IMAP = "/usr/lib/dovecot/imap"
MAIL_USER = "nobody"
POOL = 50  # users reader00 … reader49, handed out by new_user()

_WATCHDOG = """
import os, shutil, signal, sys, time
group, folder, stop = int(sys.argv[1]), sys.argv[2], sys.stdin.read()
if stop.strip() != "stopped":
    try:
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.killpg(group, 0)
            time.sleep(0.2)
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
"""


class DovecotUnavailable(Exception):
    """Debian's dovecot-imapd is not installed."""


@dataclass(frozen=True)
class ImapUser:
    user: str
    password: str


@dataclass(frozen=True)
class ImapMessage:
    uid: int
    flags: tuple[str, ...]
    raw: bytes


def missing_packages() -> str:
    return ", ".join(p for p in (DOVECOT, IMAP) if not os.access(p, os.X_OK))



def _config(folder: Path, port: int, tls_port: int, uid: int, gid: int) -> str:
    return f"""\
# Written by tests/dovecot_site.py: a private IMAP server on loopback, no TLS.
protocols = imap
listen = 127.0.0.1
instance_name = digest-test-{port}
base_dir = {folder / "run"}
state_dir = {folder / "state"}
log_path = {folder / "dovecot.log"}
info_log_path = {folder / "dovecot.log"}
ssl = yes
ssl_cert = <{folder / "relay.crt"}
ssl_key = <{folder / "relay.key"}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:{folder / "mail"}/%n
mail_privileged_group =
default_login_user = dovenull
default_internal_user = dovecot
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {folder / "users"}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder / "mail"}/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
# No auth penalty: it would delay every login from 127.0.0.1 after a wrong password.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


@dataclass
class DovecotSite:
    """A running server; see the module's docstring."""

    folder: Path
    port: int
    tls_port: int
    certificate: Path  # the server's self-signed certificate: its own CA
    version: str = ""
    host: str = "127.0.0.1"
    users: tuple[ImapUser, ...] = ()
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _handed: int = field(default=0, repr=False)

    def new_user(self) -> ImapUser:
        if self._handed >= len(self.users):
            raise RuntimeError(f"all {len(self.users)} users are taken: raise POOL")
        self._handed += 1
        return self.users[self._handed - 1]

    @contextlib.contextmanager
    def connect(self, user: ImapUser) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            imap.login(user.user, user.password)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def append(self, user: ImapUser, raw: bytes, mailbox: str = "INBOX",
               flags: str = "") -> None:
        with self.connect(user) as imap:
            if mailbox != "INBOX":
                imap.create(mailbox)  # "NO [ALREADYEXISTS]" when it is there: fine
            status, answer = imap.append(mailbox, flags or None, None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {answer!r}")

    def mailbox(self, user: ImapUser, mailbox: str = "INBOX") -> list[ImapMessage]:
        with self.connect(user) as imap:
            status, _ = imap.select(f'"{mailbox}"', readonly=True)
            if status != "OK":
                return []
            status, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            messages = []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = re.search(r"UID (\d+)", head)
                flags = re.search(r"FLAGS \(([^)]*)\)", head)
                if uid is None or flags is None:
                    raise RuntimeError(f"unexpected FETCH answer: {head}")
                kept = tuple(f for f in flags[1].split() if f != "\\Recent")  # per session
                messages.append(ImapMessage(int(uid[1]), kept, item[1]))
            return sorted(messages, key=lambda m: m.uid)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            reaped(process)
        # Its children (auth, imap) leave with the master; wait for the group to be gone.
        group_gone(process.pid, 10)
        watchdog_stood_down(self._watchdog)
        self._watchdog = None


def _lay_out(folder: Path, port: int, tls_port: int) -> tuple[ImapUser, ...]:
    mail_user = pwd.getpwnam(MAIL_USER)
    mail = folder / "mail"
    mail.mkdir()
    os.chown(mail, mail_user.pw_uid, mail_user.pw_gid)  # Dovecot makes the Maildirs as them
    users = tuple(ImapUser(f"reader{n:02d}", f"password-{n:02d}-for-tests")
                  for n in range(POOL))
    (folder / "users").write_text(
        "".join(f"{u.user}:{{PLAIN}}{u.password}::::::\n" for u in users), encoding="utf-8")
    (folder / "dovecot.conf").write_text(
        _config(folder, port, tls_port, mail_user.pw_uid, mail_user.pw_gid), encoding="utf-8")
    return users


@contextlib.contextmanager
def start_dovecot(folder: Path | None = None) -> Iterator[DovecotSite]:
    """Starts a private server; stops it and removes its folder after."""
    missing = missing_packages()
    if missing:
        raise DovecotUnavailable(f"a real IMAP server needs the Debian package {PACKAGE} "
                                 f"(.ci/run installs it); missing: {missing}")
    own = folder is None
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-")) if folder is None else folder
    root.chmod(0o755)  # the mail user reaches its Maildirs
    port = free_port()
    while (tls_port := free_port()) == port:
        pass
    site = DovecotSite(root, port, tls_port, root / "relay.crt")
    config = str(root / "dovecot.conf")
    try:
        self_signed(root)  # relay.crt and relay.key, for 127.0.0.1 and localhost
        site.users = _lay_out(root, port, tls_port)
        site.version = subprocess.run([DOVECOT, "--version"], capture_output=True,
                                      text=True, check=True).stdout.split()[0]
        with (root / "dovecot.out").open("wb") as out:
            site._process = subprocess.Popen([DOVECOT, "-F", "-c", config],
                                             stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        site._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(site._process.pid), str(root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        _wait_listening(site)
        yield site
    finally:
        site.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _wait_listening(site: DovecotSite, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process = site._process
        try:
            with socket.create_connection((site.host, site.port), timeout=5) as s:
                if s.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if (process is not None and process.poll() is not None) or \
                time.monotonic() > deadline:
            output = (site.folder / "dovecot.out").read_text(errors="replace")
            raise RuntimeError(f"Dovecot did not start on {site.port}:\n{output}\n"
                               f"{site.log()[-3000:]}")
        time.sleep(0.05)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # run one by hand: python tests/dovecot_site.py
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    with start_dovecot() as running:
        first = running.users[0]
        print(f"Dovecot {running.version} ready in {time.monotonic() - began:.1f} s on "
              f"{running.host}:{running.port} (user {first.user}, password {first.password}); "
              f"folder {running.folder}", flush=True)
        if "--exit" not in sys.argv:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
