"""Real servers on loopback for the tests: an HTTP server for feeds, aiosmtpd for mail."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session


@dataclass
class Route:
    """A canned answer: status, headers and body, or a function of the request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    handler: Callable[[http.server.BaseHTTPRequestHandler], Route] | None = None
    # Writes the whole response itself (status line included): slow drips, endless bodies.
    stream: Callable[[http.server.BaseHTTPRequestHandler], None] | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


class FeedServer:
    """A real HTTP server on 127.0.0.1 that serves routes and records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(Request("GET", self.path,
                                               {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:  # a route for the path answers any query (APIs)
                    route = server.routes.get(self.path.partition("?")[0])
                if route is None:
                    route = Route(404, {"Content-Type": "text/plain"}, b"not found")
                if route.handler is not None:
                    route = route.handler(self)
                if route.stream is not None:
                    self.close_connection = True
                    # The client hangs up on an endless body, as it should.
                    with contextlib.suppress(OSError):
                        route.stream(self)
                    return
                if route.delay:
                    time.sleep(route.delay)
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve_file(self, path: str, file: Path, content_type: str = "application/rss+xml",
                   **headers: str) -> str:
        self.routes[path] = Route(200, {"Content-Type": content_type, **headers},
                                  file.read_bytes())
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Mailbox:
    """What the SMTP server accepted, and optional refusals per recipient."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}  # recipient -> "550 reason" or "450 reason"

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(raw) for _, _, raw in self.envelopes]  # type: ignore[misc]

    def for_recipient(self, address: str) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(raw) for _, rcpts, raw in self.envelopes  # type: ignore[misc]
                if address in rcpts]


@dataclass
class SmtpServer:
    controller: Controller
    mailbox: Mailbox

    @property
    def port(self) -> int:
        return int(self.controller.port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 20) -> bool:
    """Wait until something accepts connections on 127.0.0.1:`port`; False when
    `process` (the server's) ended first or `seconds` went by."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def reaped(process: subprocess.Popen[bytes], wait: float = 30) -> None:
    """Wait up to `wait` seconds for a server asked to stop, then kill its process group."""
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def group_running(group: int) -> bool:
    """Whether a process of this process group still runs (zombies, dead and waiting for
    their parent to collect them, do not count): read from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


def group_gone(group: int, wait: float) -> None:
    """Wait up to `wait` seconds for every process of the group to end, then kill what is
    left of it."""
    deadline = time.monotonic() + wait
    while group_running(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_running(group):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def watchdog_stood_down(watchdog: subprocess.Popen[bytes] | None) -> None:
    """Tell a server's watchdog (a process that stops the server should the tests die,
    reading its stdin until EOF) that the server was stopped, and wait for it to go."""
    if watchdog is not None and watchdog.stdin is not None:
        watchdog.stdin.write(b"stopped\n")
        watchdog.stdin.close()
        watchdog.wait()
