"""The SMTP transport: one connection reused for the run, STARTTLS/TLS and AUTH."""

from __future__ import annotations

import smtplib
import ssl

from digest.config import SmtpConfig
from digest.deliver.transport import Outcome
from digest.errors import DeliveryError


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


def _outcome(code: int, text: bytes | str) -> Outcome:
    return Outcome("failed" if 500 <= code < 600 else "deferred", _reply(code, text))


class SmtpTransport:
    def __init__(self, settings: SmtpConfig, local_hostname: str | None = None) -> None:
        self.settings = settings
        self.local_hostname = local_hostname
        self.connection: smtplib.SMTP | None = None

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            conn: smtplib.SMTP
            if s.security == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context,
                                        local_hostname=self.local_hostname)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout,
                                    local_hostname=self.local_hostname)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.username:
                password = s.password()
                if password is None:
                    conn.close()
                    raise DeliveryError(
                        f"[smtp] username is set but the password variable {s.password_env} "
                        "is empty: export it before running"
                    )
                conn.login(s.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"the mail server {self._where()} refused the login for {s.username!r}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}. Check [smtp] username and "
                f"${s.password_env}."
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"the mail server {self._where()} does not support what [smtp] asks: {exc}. "
                "Check [smtp] security."
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot use the mail server {self._where()}: {exc or type(exc).__name__}. "
                "Check [smtp] host, port and security, and that the server is running; "
                "undelivered messages go out on the next run."
            ) from None
        self.connection = conn
        return conn

    def send(self, sender: str, recipient: str, message: bytes) -> Outcome:
        for attempt in (1, 2):
            conn = self.connection or self.connect()
            try:
                refused = conn.sendmail(sender, [recipient], message)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = exc.recipients.get(recipient, (550, b"recipient refused"))
                self._reset()
                return _outcome(code, text)
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                self._reset()
                return _outcome(exc.smtp_code, exc.smtp_error)
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self.connection = None
                if attempt == 2:
                    raise DeliveryError(
                        f"the mail server {self._where()} dropped the connection twice "
                        f"({exc}); undelivered messages go out on the next run"
                    ) from None
                continue
            except smtplib.SMTPResponseException as exc:
                self._reset()
                return _outcome(exc.smtp_code, exc.smtp_error)
            if refused:
                code, text = refused[recipient]
                return _outcome(code, text)
            return Outcome("sent")
        raise AssertionError("unreachable")

    def _reset(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None
