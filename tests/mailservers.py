"""aiosmtpd servers that misbehave on purpose, and a self-signed TLS certificate for them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from support.servers import free_port


@dataclass
class Sink:
    """Accepts mail like a relay; tests script refusals and dropped connections.

    `rcpt` and `data` map a recipient to a list of replies handed out one per
    attempt (the last one repeats): "250" accepts, "drop" closes the connection.
    """

    pipelining: bool = True
    rcpt: dict[str, list[str]] = field(default_factory=dict)
    data: dict[str, list[str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering DATA (a slow relay)
    max_sessions: int | None = None  # EHLO of any further session gets 421
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    commands: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self, table: dict[str, list[str]], address: str) -> str:
        replies = table.get(address)
        if not replies:
            return "250"
        return replies.pop(0) if len(replies) > 1 else replies[0]

    async def handle_EHLO(self, server: SMTPServer, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.max_sessions is not None and id(session) not in self.sessions \
                and len(self.sessions) >= self.max_sessions:
            return ["421 4.7.0 too many connections"]
        self.sessions.add(id(session))
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RSET(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        self.commands.append("RSET")
        return "250 OK"

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        reply = self._next(self.rcpt, address)
        if reply == "drop":
            server.transport.close()
            return "421 closing"
        if not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        if self.delay:
            time.sleep(self.delay)  # blocks this server's loop: a relay that takes its time
        reply = "250"
        for address in envelope.rcpt_tos:
            reply = self._next(self.data, address)
        if reply == "drop":
            server.transport.close()
            return "421 closing"
        if not reply.startswith("250"):
            return reply
        with self.lock:
            self.received.append((envelope.mail_from or "", list(envelope.rcpt_tos),
                                  envelope.original_content or b""))
        return "250 Message accepted"

    def recipients(self) -> list[str]:
        return [r for _, rcpts, _ in self.received for r in rcpts]

    def raw_for(self, address: str) -> list[bytes]:
        return [raw for _, rcpts, raw in self.received if address in rcpts]


@contextmanager
def running(handler: Any, **kwargs: Any) -> Iterator[int]:
    """Run `handler` in aiosmtpd on 127.0.0.1; yield the port."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, signed by itself (it is its own CA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digest test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.crt", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return Certificate(cert_path, key_path)


def password_check(user: str, password: str) -> Callable[..., AuthResult]:
    def authenticator(server: SMTPServer, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return authenticator
