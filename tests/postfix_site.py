"""A real Postfix for the tests: Debian's ``postfix``, a private instance on a loopback port.

Fixtures (tests/conftest.py)
----------------------------
``postfix_server`` (session scope)
    Starts one private Postfix per test session and stops it after. Its own
    ``config_directory``, ``queue_directory`` and ``data_directory`` in a temporary folder
    (never the system's instance, never ``/etc/postfix``), started with ``postfix -c DIR
    start`` as root, chroot off, its SMTP server on ``127.0.0.1:PORT`` only, its log in
    ``maillog`` in the folder (there is no syslog here). Nothing leaves it: mail for any
    other domain is bounced by the ``error`` transport, and it relays for nobody.
    If the package is missing the fixture FAILS (it does not skip): ``.ci/run`` installs it.
``postfix`` (function scope)
    The same ``PostfixSite``.

The domain ``mail.example.net`` (``DOMAIN``)
------------------------------------
Recipients are virtual mailboxes chosen by the local part, so that each test takes its own
addresses without reconfiguring the server (``recipient_delimiter = +``: an ``ADDRESS+TAG``
lands where ``ADDRESS`` does, as a VERP return path must):

``box-000@mail.example.net`` … ``box-199@mail.example.net`` (``POOL``)
    Accepted and delivered by virtual(8) to the Maildir ``site.maildir("box-NNN")``
    (``new/ cur/ tmp/``, made on first delivery, owned by ``nobody``). ``site.new_mailbox()``
    hands out one no test used yet: a bounce mailbox is one of these, and the DSNs for the
    envelope sender ``box-NNN+TAG@mail.example.net`` land in it.
``gone-ANYTHING@mail.example.net``
    Accepted at RCPT (250), then relayed by Postfix's smtp(8) client to a second smtpd(8) of
    the same instance ("the server behind", ``inner.mail.example.net`` on another loopback port),
    which refuses it: ``550 5.1.1 … User unknown``. The front bounces it: a DSN (RFC 3464,
    ``multipart/report; report-type=delivery-status``, ``Status: 5.1.1``, from
    ``MAILER-DAEMON@mail.example.net`` with the null sender, the message attached) goes to the
    envelope sender. A server that accepts and bounces later, as a backup MX does.
``full-ANYTHING@mail.example.net``
    The same, refused behind with ``552 5.2.2 Mailbox full``: ``Status: 5.2.2``.
``slow-ANYTHING@mail.example.net``
    The same, put off behind with ``450 4.2.0 … Greylisted``: the front defers it. Here that
    bounces at once (one attempt); an instance started with ``settings={"maximal_queue_lifetime":
    "1h", "delay_warning_time": "1s"}`` keeps trying, and warns the sender of the delay (a DSN
    with ``Action: delayed``) at its second attempt, a second or two later.
anything else ``@mail.example.net``
    Refused at RCPT: ``550 5.1.1 <…>: Recipient address rejected: User unknown in virtual
    mailbox table``. Other domains: ``554 5.7.1 … Relay access denied``.
``postmaster@`` and ``MAILER-DAEMON@mail.example.net`` are aliases of ``box-postmaster``.
One delivery attempt only (``maximal_queue_lifetime = 0``): a deferral bounces at once.
``start_postfix(settings=…)`` changes any of main.cf's parameters for an instance of its own.

API
---
``site.port``, ``site.host`` (127.0.0.1), ``site.folder``, ``site.version`` (``mail_version``)
``site.new_mailbox() -> str``
    The address of a Maildir no test used yet, made empty.
``site.maildir(local) -> Path``
    The Maildir of ``box-NNN`` (the address works too); it exists after the first delivery.
``site.messages(local) -> list[Path]``
    The message files in its ``new/`` and ``cur/``, oldest first.
``site.wait_for(local, count, timeout=30) -> list[Path]``
    Flushes the queue (``postqueue -c DIR -f``) and polls until the Maildir holds at least
    ``count`` messages; on timeout raises with the queue and the end of the log.
``site.wait_idle(timeout=30)``
    Until the queue is empty (every message delivered or bounced, bounces delivered).
``site.send(mail_from, recipients, message) -> dict``
    Submits over SMTP (smtplib) and returns the refused recipients as smtplib does.
``site.log() -> str``, ``site.queue() -> str`` (``postqueue -p``)
``start_postfix(folder=None, settings=None)`` (a context manager)
    The same outside pytest: ``.venv/bin/python tests/postfix_site.py`` runs one until
    interrupted (``--exit``: start and stop).
Should the test run be killed, a watchdog process stops the instance and removes the folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from support.servers import free_port, group_gone, watchdog_stood_down

DOMAIN = "mail.example.net"
PACKAGE = "postfix"
POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
MAIL_USER = "nobody"  # owns the Maildirs: virtual(8) will not deliver as root

# Stops the instance if the test process dies without doing it: waits for EOF on stdin.
_WATCHDOG = """
import os, shutil, signal, subprocess, sys
config, folder, stop = sys.argv[1], sys.argv[2], sys.stdin.read()
if stop.strip() != "stopped":
    subprocess.run([sys.argv[3], "-c", config, "stop"], capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)
"""


class PostfixUnavailable(Exception):
    """Debian's postfix is not installed."""


def missing_packages() -> str:
    """What is missing to run the instance, or "" when everything is there."""
    missing = [program for program in (POSTFIX, POSTQUEUE, POSTCONF)
               if not os.access(program, os.X_OK)]
    return ", ".join(missing)



def _main_cf(folder: Path, uid: int, gid: int, settings: dict[str, str] | None = None) -> str:
    text = _main_cf_defaults(folder, uid, gid)
    for name, value in (settings or {}).items():
        line = next((x for x in text.splitlines() if x.startswith(f"{name} = ")), None)
        if line is None:
            raise ValueError(f"{name} is not among the test server's main.cf parameters")
        text = text.replace(line + "\n", f"{name} = {value}\n")
    return text


def _main_cf_defaults(folder: Path, uid: int, gid: int) -> str:
    etc = folder / "etc"
    return f"""\
# Written by tests/postfix_site.py: a private instance on loopback; nothing leaves it.
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {folder / "queue"}
data_directory = {folder / "data"}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {folder / "maillog"}
maillog_file_prefixes = {folder}
myhostname = {DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP Postfix (digest tests)
biff = no
relayhost =
default_transport = error:5.7.1 no mail leaves the test server
relay_transport = error:5.7.1 no mail leaves the test server
recipient_delimiter = +
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {folder / "mail"}
virtual_mailbox_maps = texthash:{etc / "mailboxes"}, regexp:{etc / "accepted"}
virtual_alias_maps = regexp:{etc / "aliases"}
transport_maps = regexp:{etc / "transport"}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
2bounce_notice_recipient = box-postmaster@{DOMAIN}
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
delay_warning_time = 0h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtputf8_enable = no
# The server behind (master.cf): gone-… is no user there, full-… a full mailbox, slow-…
# greylisted.
inner_mailbox_maps = texthash:{etc / "mailboxes"}
inner_recipient_restrictions = check_recipient_access regexp:{etc / "full"},
    reject_unlisted_recipient, reject_unauth_destination
"""


def _master_cf(port: int, inner: int) -> str:
    services = [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        # The server behind: what the front relays gone-… and full-… to, refusing them.
        f"127.0.0.1:{inner} inet n - n - - smtpd -o myhostname=inner.{DOMAIN}"
        " -o smtpd_recipient_restrictions=$inner_recipient_restrictions"
        " -o virtual_mailbox_maps=$inner_mailbox_maps",
        "smtp unix - - n - - smtp",
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "virtual unix - n n - - virtual",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ]
    return "# Written by tests/postfix_site.py: chroot off (column 5), loopback only.\n" + \
        "\n".join(services) + "\n"


MAILDIR = ("new", "cur", "tmp")
POOL = 200  # box-000 … box-199: Maildirs handed out by site.new_mailbox()
_DOMAIN_RE = DOMAIN.replace(".", r"\.")
_LOCAL = r"[a-z0-9][a-z0-9._-]*(\+[^@]*)?"
_MAPS = {
    # virtual(8) takes no $1 from a regexp table (a Maildir named by the sender of mail
    # would be a hole), so the Maildirs are listed: a trailing slash means Maildir.
    "mailboxes": "".join(f"box-{n:03d}@{DOMAIN} box-{n:03d}/\n" for n in range(POOL))
                 + f"box-postmaster@{DOMAIN} box-postmaster/\n",
    # Accepted at RCPT (the value is no Maildir: transport_maps relays them behind).
    "accepted": f"/^(gone|full|slow)-{_LOCAL}@{_DOMAIN_RE}$/ relayed-behind\n",
    "aliases": f"/^(postmaster|mailer-daemon)@{_DOMAIN_RE}$/ box-postmaster@{DOMAIN}\n",
    "transport": f"/^(gone|full|slow)-{_LOCAL}@{_DOMAIN_RE}$/ smtp:[127.0.0.1]:{{inner}}\n",
    "full": f"/^full-{_LOCAL}@{_DOMAIN_RE}$/ 552 5.2.2 Mailbox full\n"
            f"/^slow-{_LOCAL}@{_DOMAIN_RE}$/ 450 4.2.0 Greylisted, try again later\n",
}


@dataclass
class PostfixSite:
    """A running instance; see the module's docstring."""

    folder: Path
    port: int
    version: str = ""
    host: str = "127.0.0.1"
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own: bool = field(default=False, repr=False)
    _started: bool = field(default=False, repr=False)
    _handed: int = field(default=0, repr=False)

    @property
    def config_directory(self) -> Path:
        return self.folder / "etc"

    def new_mailbox(self) -> str:
        """The address of a Maildir no one used yet (``box-NNN@mail.example.net``), made empty
        (``new/ cur/ tmp/``, owned by the mail user) so that a reader finds it at once."""
        if self._handed >= POOL:
            raise RuntimeError(f"all {POOL} mailboxes are taken: raise POOL")
        self._handed += 1
        local = f"box-{self._handed - 1:03d}"
        user = pwd.getpwnam(MAIL_USER)
        for folder in (self.maildir(local), *(self.maildir(local) / s for s in MAILDIR)):
            folder.mkdir(mode=0o700)
            os.chown(folder, user.pw_uid, user.pw_gid)
        return f"{local}@{DOMAIN}"

    def maildir(self, local: str) -> Path:
        return self.folder / "mail" / local.partition("@")[0]

    def messages(self, local: str) -> list[Path]:
        """Files in the Maildir's new/ and cur/ (``local`` may be the whole address)."""
        box = self.maildir(local)
        files = [f for sub in ("new", "cur") if (box / sub).is_dir()
                 for f in (box / sub).iterdir() if f.is_file()]
        return sorted(files, key=lambda f: (f.stat().st_mtime, f.name))

    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def queue(self) -> str:
        return self._postqueue("-p").stdout

    def flush(self) -> None:
        self._postqueue("-f")

    def send(self, mail_from: str, recipients: list[str],
             message: EmailMessage | bytes) -> dict[str, tuple[int, bytes]]:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            return smtp.sendmail(mail_from, recipients, raw)

    def wait_for(self, local: str, count: int = 1, timeout: float = 30) -> list[Path]:
        """At least `count` messages in `local`'s Maildir; the queue is flushed first."""
        self.flush()
        deadline = time.monotonic() + timeout
        while len(found := self.messages(local)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} messages reached {self.maildir(local)} "
                    f"in {timeout} s; queue:\n{self.queue()}\nlog:\n{self.log()[-4000:]}")
            time.sleep(0.05)
        return found

    def wait_idle(self, timeout: float = 30) -> None:
        """Until every message was delivered or bounced and the bounces delivered."""
        self.flush()
        deadline = time.monotonic() + timeout
        while "Mail queue is empty" not in (queue := self.queue()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the queue is not empty after {timeout} s:\n{queue}\n"
                                     f"log:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def _postqueue(self, option: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POSTQUEUE, "-c", str(self.config_directory), option],
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        # As `postfix stop` does (SIGTERM to the master, which stops its children), without
        # its one-second sleeps; then wait for the whole process group to be gone.
        try:
            pid = int((self.folder / "queue" / "pid" / "master.pid").read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            subprocess.run([POSTFIX, "-c", str(self.config_directory), "stop"],
                           capture_output=True, timeout=60)
        else:
            group_gone(pid, 30)
        watchdog_stood_down(self._watchdog)
        self._watchdog = None


def _write_config(folder: Path, port: int, inner: int,
                  settings: dict[str, str] | None = None) -> None:
    user = pwd.getpwnam(MAIL_USER)
    etc = folder / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(_main_cf(folder, user.pw_uid, user.pw_gid, settings),
                                 encoding="utf-8")
    (etc / "master.cf").write_text(_master_cf(port, inner), encoding="utf-8")
    for name, text in _MAPS.items():
        (etc / name).write_text(text.replace("{inner}", str(inner)), encoding="utf-8")
    # Postfix's programs wait until a file they read is more than a moment old (it might
    # still be being written): a minute older, they start at once.
    written = time.time() - 60
    for path in etc.iterdir():
        os.utime(path, (written, written))
    (folder / "queue").mkdir(mode=0o755)  # `postfix check` makes what goes inside
    data = folder / "data"
    data.mkdir(mode=0o700)
    postfix = pwd.getpwnam("postfix")
    os.chown(data, postfix.pw_uid, postfix.pw_gid)
    mail = folder / "mail"
    mail.mkdir()
    os.chown(mail, user.pw_uid, user.pw_gid)  # virtual(8) makes the Maildirs as that user


@contextlib.contextmanager
def start_postfix(folder: Path | None = None, settings: dict[str, str] | None = None
                  ) -> Iterator[PostfixSite]:
    """Starts a private instance (main.cf's `settings` changed); stops it and removes its
    folder after."""
    missing = missing_packages()
    if missing:
        raise PostfixUnavailable(f"a real Postfix needs the Debian package {PACKAGE} "
                                 f"(.ci/run installs it); missing: {missing}")
    if os.geteuid() != 0:
        raise PostfixUnavailable("a private Postfix instance must be started as root")
    own = folder is None
    root = Path(tempfile.mkdtemp(prefix="digest-postfix-")) if folder is None else folder
    root.chmod(0o755)  # the mail user reaches its Maildirs, postfix its queue
    site = PostfixSite(root, free_port(), _own=own)
    config = str(site.config_directory)
    try:
        inner = free_port()
        while inner == site.port:
            inner = free_port()
        _write_config(root, site.port, inner, settings)
        site.version = subprocess.run([POSTCONF, "-c", config, "-h", "mail_version"],
                                      capture_output=True, text=True, check=True).stdout.strip()
        check = subprocess.run([POSTFIX, "-c", config, "check"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"postfix check failed:\n{check.stderr}{site.log()[-3000:]}")
        site._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, config, str(root), POSTFIX],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        site._started = True
        (root / "queue" / "quick-start").touch()  # checked just now: `start` need not again
        started = subprocess.run([POSTFIX, "-c", config, "start"], capture_output=True,
                                 text=True, timeout=120)
        if started.returncode != 0:
            raise RuntimeError(f"postfix start failed:\n{started.stderr}\n{site.log()[-3000:]}")
        _wait_listening(site)
        yield site
    finally:
        site.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _wait_listening(site: PostfixSite, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with smtplib.SMTP(site.host, site.port, timeout=5) as smtp:
                smtp.noop()
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Postfix does not answer on {site.port}: {error}\n"
                                   f"{site.log()[-3000:]}") from error
            time.sleep(0.05)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # run one by hand: python tests/postfix_site.py
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    with start_postfix() as running:
        print(f"Postfix {running.version} ready in {time.monotonic() - began:.1f} s on "
              f"{running.host}:{running.port}; folder {running.folder}", flush=True)
        if "--exit" not in sys.argv:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
