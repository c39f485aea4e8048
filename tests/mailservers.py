"""aiosmtpd servers that misbehave on purpose, and a self-signed TLS certificate for them."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import struct
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
    In `data`, "taken-close" and "taken-reset" take the message (it counts as
    received: a relay that queued it) and then close the connection, or reset it
    (RST), without a reply: the lost reply of RFC 1047.
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
        if not reply.startswith(("250", "taken-")):
            return reply
        with self.lock:
            self.received.append((envelope.mail_from or "", list(envelope.rcpt_tos),
                                  envelope.original_content or b""))
        if reply == "taken-close":
            server.transport.close()
        elif reply == "taken-reset":
            reset(server.transport)
        return "250 Message accepted"  # after a close: never written

    def recipients(self) -> list[str]:
        return [r for _, rcpts, _ in self.received for r in rcpts]

    def raw_for(self, address: str) -> list[bytes]:
        return [raw for _, rcpts, raw in self.received if address in rcpts]


def reset(transport: Any) -> None:
    """Close an asyncio transport with a TCP RST (SO_LINGER 0), not a FIN."""
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class RawRelay:
    """A hand-written ESMTP server with PIPELINING, on a thread: it can fail where
    aiosmtpd cannot, part way through a message's text.

    `script` holds one action per connection, in order (the last one repeats):
    "accept" takes messages and answers 250; "reset-mid-data" reads `after` bytes of
    the first message's text and resets the connection (RST) before its final dot can
    arrive; "garble" takes each message whole, then answers a line that is no SMTP
    reply. `received` lists the recipients of the messages taken whole.
    """

    def __init__(self, script: list[str], after: int = 65536) -> None:
        self.script = list(script)
        self.after = after
        self.received: list[str] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # to notice `stop` (closing does not wake accept)
        self.stop = threading.Event()
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawRelay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            action = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                self._session(conn, action)

    def _session(self, conn: socket.socket, action: str) -> None:
        conn.sendall(b"220 raw ESMTP\r\n")
        with conn.makefile("rb") as reader:
            self._commands(conn, reader, action)

    def _commands(self, conn: socket.socket, reader: Any, action: str) -> None:
        recipients: list[str] = []
        while line := reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-raw\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                recipients.append(line.decode().partition("<")[2].partition(">")[0])
                conn.sendall(b"250 OK\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                if action == "reset-mid-data":
                    reader.read(self.after)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return  # closed with unread data and linger 0: an RST
                while (text := reader.readline()) != b".\r\n":
                    if not text:
                        return  # closed before the final dot: nothing taken
                self.received.extend(recipients)
                recipients = []
                conn.sendall(b"hello there\r\n" if action == "garble" else b"250 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:  # MAIL, RSET, NOOP
                recipients = [] if verb in (b"MAIL", b"RSET") else recipients
                conn.sendall(b"250 OK\r\n")


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
