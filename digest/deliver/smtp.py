"""The SMTP transport: one connection, reused for many messages, pipelined when it can be.

smtplib opens the connection (EHLO, STARTTLS or TLS, AUTH). Each message then
goes out as one transaction: when the server advertises PIPELINING (RFC 2920)
MAIL, RCPT and DATA leave in one write and their three replies are read
together, then the already dot-stuffed message follows in a second write; that
is two round trips per message instead of smtplib's four, and no regex over
the body. Without PIPELINING the same commands go one by one.

After a refused transaction the connection is RSET and reused. A connection
that drops before the message's final dot was written (while connecting, in
MAIL, RCPT or DATA, or part way through the message) is opened again and the
message sent once more, since the server cannot have taken it; if it drops
again the recipient is deferred to a later pass. Once the final dot is written,
the server may take up to `[smtp] data_timeout` (RFC 5321 §4.5.3.2.6: 10
minutes) to answer; whatever keeps its reply from being read (no reply in that
time, a connection closed or reset, a TLS error, a line that is not a reply)
leaves the message "unknown": it may well have been delivered (RFC 1047), and
it is not sent again without `digest send --retry-unknown`. With PIPELINING
only the next message's envelope rides behind a final dot, never its text, so
at most one message per connection can be unknown; the next is sent again on
a new connection. Only a server that cannot be reached or logged into at all
raises DeliveryError.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from digest.config import SmtpConfig
from digest.deliver.policy import classify_reply
from digest.deliver.transport import DotSafe, Outcome
from digest.errors import DeliveryError

# Replies that mean the server is about to close the connection (RFC 5321 §3.8).
CLOSING = 421


class _Unconfirmed(Exception):
    """The message's final dot went out but its reply never came: delivered or not."""


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


def _outcome(code: int, text: bytes | str) -> Outcome:
    return Outcome(classify_reply(code), _reply(code, text))


def data_payload(message: bytes) -> bytes:
    """The message as it goes after DATA: CRLF lines, dot-stuffed, ended by CRLF.CRLF.

    One C-level replace per message instead of smtplib's regex (RFC 5321 §4.5.2),
    and none for DotSafe bytes, whose lines never start with a dot.
    """
    if isinstance(message, DotSafe) and message.endswith(b"\r\n"):
        return message + b".\r\n"
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


def tls_context(settings: SmtpConfig) -> ssl.SSLContext:
    """The system's trusted CAs, plus `[smtp] ca_file` for a relay with a private CA."""
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    return context


class SmtpTransport:
    """One connection to the relay; not thread-safe (the pool gives each worker its own)."""

    def __init__(self, settings: SmtpConfig, local_hostname: str | None = None) -> None:
        self.settings = settings
        self.local_hostname = local_hostname
        self.connection: smtplib.SMTP | None = None
        self.pipelining = False
        self.presented: tuple[str, str] | None = None  # envelope written, replies unread

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            context = tls_context(s)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"cannot read the CA file {s.ca_file}: {exc}. "
                                "Check [smtp] ca_file.") from None
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context,
                                        local_hostname=self.local_hostname)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout,
                                    local_hostname=self.local_hostname)
            _ehlo(conn)
            if s.security == "starttls":
                conn.starttls(context=context)
                _ehlo(conn)
            if s.username:
                password = s.password()
                if password is None:
                    raise DeliveryError(
                        f"[smtp] username is set but the password variable {s.password_env} "
                        "is empty: export it before running"
                    )
                conn.login(s.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            _close(conn)
            raise DeliveryError(
                f"the mail server {self._where()} refused the login for {s.username!r}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}. Check [smtp] username and "
                f"${s.password_env}."
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(conn)
            raise DeliveryError(
                f"the mail server {self._where()} does not support what [smtp] asks: {exc}. "
                "Check [smtp] security."
            ) from None
        except ssl.SSLError as exc:
            _close(conn)
            raise DeliveryError(
                f"TLS with the mail server {self._where()} failed: {exc}. Check [smtp] "
                "security and host (the certificate must name it), or set [smtp] ca_file "
                "to the CA that signed the server's certificate."
            ) from None
        except DeliveryError:
            _close(conn)
            raise
        except smtplib.SMTPResponseException as exc:  # a refused greeting or EHLO
            _close(conn)
            raise DeliveryError(
                f"the mail server {self._where()} refused the connection: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}; undelivered messages go out on "
                "the next run."
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(conn)
            raise DeliveryError(
                f"cannot use the mail server {self._where()}: {exc or type(exc).__name__}. "
                "Check [smtp] host, port and security, and that the server is running; "
                "undelivered messages go out on the next run."
            ) from None
        self.connection = conn
        self.pipelining = conn.has_extn("pipelining")
        return conn

    def send(self, sender: str, recipient: str, message: bytes,
             following: str | None = None, following_sender: str | None = None) -> Outcome:
        """Send one message; with PIPELINING, `following` (the next recipient, whose
        envelope sender is `following_sender` or else `sender`) has its envelope written
        right behind this message, so the next send starts with the replies already on
        their way (one round trip per message instead of two).
        """
        if not _valid(recipient):
            return Outcome("failed", f"invalid recipient address {recipient!r} (only ASCII "
                                     "addresses can be sent: SMTPUTF8 is not used)")
        if self.presented is not None and self.presented != (sender, recipient):
            self._drop()  # an envelope for someone else is pending: start clean
        payload = data_payload(message)
        ahead = None
        if following is not None and _valid(following) and _valid(following_sender or sender):
            ahead = (following_sender or sender, following)
        lost = ""
        for _attempt in (1, 2):
            conn = self.connection or self.connect()
            try:
                return self._transaction(conn, sender, recipient, payload, ahead)
            except _Unconfirmed as exc:
                # Never sent twice on a guess: recorded as unknown for the editor to decide.
                self._drop()
                return Outcome("unknown", f"no reply from {self._where()} to the end of the "
                                          f"message ({exc}); it may have been delivered")
            except (OSError, smtplib.SMTPException) as exc:
                # Lost before the final dot was written: the server cannot have taken
                # the message, so a fresh connection tries once more.
                lost = str(exc) or type(exc).__name__
                self._drop()
        return Outcome("deferred", f"connection to {self._where()} lost twice ({lost})")

    def _transaction(self, conn: smtplib.SMTP, sender: str, recipient: str,
                     payload: bytes, ahead: tuple[str, str] | None) -> Outcome:
        commands = _envelope(sender, recipient)
        replies: list[tuple[int, bytes]] = []
        if self.presented == (sender, recipient):
            self.presented = None  # written behind the previous message already
            replies = [conn.getreply() for _ in commands]
        elif self.pipelining:
            conn.send("".join(commands))
            replies = [conn.getreply() for _ in commands]
        else:
            for command in commands:
                conn.send(command)
                replies.append(conn.getreply())
                if replies[-1][0] >= 400:
                    break
        mail, rcpt, data = (replies + [(0, b"")] * 3)[:3]
        if data[0] == 354:
            if mail[0] == 250 and rcpt[0] in (250, 251):
                if self.pipelining and ahead is not None:
                    # RFC 2920: the next MAIL may follow the end of data in one write.
                    _write(conn, payload + "".join(_envelope(*ahead)).encode(),
                           len(payload))
                    self.presented = ahead
                else:
                    _write(conn, payload, len(payload))
                code, text = self._final_reply(conn)
                if code == 250:
                    return Outcome("sent")
                # The reply ends the transaction: no RSET (the next envelope may be
                # on its way already); a 421 means the server is closing.
                if code == CLOSING:
                    self._drop()
                return _outcome(code, text)
            # DATA accepted although the envelope was refused: end it empty (RFC 2920 §3.1).
            conn.send(b".\r\n")
            conn.getreply()
        if mail[0] >= 500:
            # The envelope sender refused for good: the same for every recipient, and
            # nobody's address is at fault. The transport is unusable for this run; the
            # pool stops and everyone not yet sent stays owed (nothing is recorded).
            self._drop()
            words = " ".join(mail[1].decode("utf-8", "replace").split())[:300]
            raise DeliveryError(
                f"the mail server refused the envelope sender <{sender}> ({mail[0]} "
                f"{words}); nothing more was sent and every reader not sent yet is still "
                "owed the edition. Check [email] from and return_path (the server may "
                "need the sender's domain to exist, or to be allowed to send as it) and "
                "[smtp] security and username, then run `digest send` again.")
        first_bad = next(r for r in (mail, rcpt, data) if r[0] not in (250, 251, 354))
        return self._refused(*first_bad)

    def _final_reply(self, conn: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the final dot, waited for up to `data_timeout` seconds.

        The message is out: anything but a reply read in full is _Unconfirmed, since
        the server may have taken it (RFC 1047) and sending it again could double it.
        """
        wait = self.settings.data_timeout
        try:
            if conn.sock is not None:
                conn.sock.settimeout(wait)
            code, text = conn.getreply()
            if conn.sock is not None:
                conn.sock.settimeout(self.settings.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                raise _Unconfirmed(f"waited {wait:g} s") from None
            if isinstance(exc.__context__, OSError):  # reset, TLS error
                raise _Unconfirmed(f"the connection failed: {exc.__context__}") from None
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise _Unconfirmed("the server closed the connection") from None
            raise _Unconfirmed(f"the connection failed: {exc or type(exc).__name__}") \
                from None
        if not 200 <= code < 600:  # smtplib's -1: a line that is not a reply
            line = " ".join((text.decode("utf-8", "replace") if isinstance(text, bytes)
                             else str(text)).split())[:200]
            # (smtplib keeps the line after its first four characters: hence the "…")
            raise _Unconfirmed("the server answered with a line that is not an SMTP "
                               f"reply: '…{line}'")
        return code, text

    def _refused(self, code: int, text: bytes) -> Outcome:
        outcome = _outcome(code, text)
        if code == CLOSING or code == 0:
            self._drop()
        else:
            self._reset()
        return outcome

    def _reset(self) -> None:
        """RSET after a refused transaction, so the connection serves the next one."""
        if self.connection is None:
            return
        try:
            code, _ = self.connection.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()
            return
        if code != 250:
            self._drop()

    def _drop(self) -> None:
        _close(self.connection)
        self.connection = None
        self.presented = None

    def close(self) -> None:
        if self.presented is not None:
            # The server waits in DATA for a message that will not come: QUIT would be
            # read as its text. Closing aborts the transaction; nothing is delivered.
            self._drop()
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None


def _ehlo(conn: smtplib.SMTP) -> None:
    """EHLO, refusing the connection when the server does not answer 250 (say, 421 busy)."""
    code, text = conn.ehlo()
    if code != 250:
        raise smtplib.SMTPHeloError(code, text)


def _write(conn: smtplib.SMTP, data: bytes, message_end: int) -> None:
    """Write `data`, whose first `message_end` bytes end with the message's final dot.

    Counts what the socket took (smtplib's sendall cannot tell): a failure before
    the final dot was handed over leaves the message undelivered for sure and is
    raised as it is (sent again); one after it is _Unconfirmed (the server may have
    the whole message).
    """
    sock = conn.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("not connected")
    view = memoryview(data)
    done = 0
    try:
        while done < len(data):
            done += sock.send(view[done:])
    except OSError as exc:
        _close(conn)
        if done >= message_end:
            raise _Unconfirmed(f"the connection failed: {exc or type(exc).__name__}") \
                from None
        raise


def _valid(address: str) -> bool:
    # ASCII only: SMTPUTF8 is not used, and smtplib would fail on the whole connection.
    return bool(address) and address.isascii() and not any(c in address for c in "\r\n<>")


def _envelope(sender: str, recipient: str) -> tuple[str, str, str]:
    return (f"MAIL FROM:<{sender}>\r\n", f"RCPT TO:<{recipient}>\r\n", "DATA\r\n")


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()
