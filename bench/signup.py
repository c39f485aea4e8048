"""How long POST /subscribe takes for each state of the address, in the same run: the
answers must not tell a new address from a pending, active or unsubscribed one, nor
from a filled honeypot or a client over the rate (target: every state's median within
20% of the others').

Sets up the demo (config.toml over sample/) in a temporary folder with a real SMTP
server (aiosmtpd, in this process) as the transport, starts `digest serve` in its
own process, prepares addresses in each state, then posts the form for each state in
turn (interleaved, so every state meets the same load), each request from its own
loopback address (127.x.y.z: the rate limit counts per client address; the
rate-limited state's requests all come from one that is over it), the states in a
new random order each round. Prints each
state's median and 90th percentile, beside the median of a GET of the form (the
fixed cost of a page) and of all states; the spread is the slowest state's median
over the fastest's.

Run: .venv/bin/python bench/signup.py [--requests 40]
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
STATES = ("new", "pending", "active", "unsubscribed", "honeypot", "rate-limited")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def digest(folder: Path, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run([sys.executable, "-m", "digest", "--config", str(folder / "config.toml"),
                    "-q", *args], check=True, input=stdin, cwd=folder,
                   stdout=subprocess.DEVNULL)


def set_up(folder: Path, smtp_port: int) -> None:
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "sample", folder / "sample")
    text = (folder / "config.toml").read_text(encoding="utf-8")
    text = text.replace('transport = "file"', 'transport = "smtp"')
    text = text.replace('host = "localhost"\nport = 25',
                        f'host = "127.0.0.1"\nport = {smtp_port}')
    (folder / "config.toml").write_text(text + "\n[subscribe]\nrate = 5\n", encoding="utf-8")
    digest(folder, "fetch")


def post(port: int, client: str, fields: dict[str, str]) -> float:
    """Seconds from sending the form to the end of the answer, from `client`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(client, 0))
    try:
        body = urlencode(fields).encode()
        start = time.perf_counter()
        conn.request("POST", "/subscribe", body,
                     {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        took = time.perf_counter() - start
    finally:
        conn.close()
    if response.status != 200:
        raise SystemExit(f"POST /subscribe answered {response.status}")
    return took


def get(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        start = time.perf_counter()
        conn.request("GET", "/subscribe")
        conn.getresponse().read()
        return time.perf_counter() - start
    finally:
        conn.close()


def clients() -> Callable[[], str]:
    """A new loopback address for each request (the rate limit is per client)."""
    counter = iter(range(1, 250 * 250))

    def next_client() -> str:
        n = next(counter)
        return f"127.1.{n // 250}.{n % 250 + 1}"
    return next_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="per state")
    args = parser.parse_args()
    n = args.requests
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    with tempfile.TemporaryDirectory(prefix="digest-bench-signup-") as tmp:
        folder = Path(tmp)
        set_up(folder, smtp.port)
        rows = "".join(f"active{i}@example.org,,\n" for i in range(n))
        rows += "".join(f"gone{i}@example.org,,\n" for i in range(n))
        digest(folder, "subscribers", "import", "-", stdin=("email,name,categories\n"
                                                          + rows).encode())
        for i in range(n):
            digest(folder, "subscribers", "remove", f"gone{i}@example.org")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(folder / "config.toml"),
             "serve", "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("digest serve did not start") from None
                    time.sleep(0.05)
            client = clients()
            for i in range(n):  # pending: signed up once (its mail went), asked again
                post(port, client(), {"email": f"pending{i}@example.org"})
            crowded = "127.2.0.1"
            for i in range(5):  # that client is now at the rate
                post(port, crowded, {"email": f"crowd{i}@example.org"})
            fields = {
                "new": lambda i: {"email": f"new{i}@example.org"},
                "pending": lambda i: {"email": f"pending{i}@example.org"},
                "active": lambda i: {"email": f"active{i}@example.org"},
                "unsubscribed": lambda i: {"email": f"gone{i}@example.org"},
                "honeypot": lambda i: {"email": f"bot{i}@example.org",
                                       "website": "http://spam.example"},
                "rate-limited": lambda i: {"email": f"over{i}@example.org"},
            }
            times: dict[str, list[float]] = {state: [] for state in STATES}
            forms = []
            for _ in range(3):
                get(port)  # warm up
            order = list(STATES)
            shuffle = random.Random(13).shuffle
            for i in range(n):
                forms.append(get(port))
                shuffle(order)  # no state always follows the same one
                for state in order:
                    source = crowded if state == "rate-limited" else client()
                    times[state].append(post(port, source, fields[state](i)))
            time.sleep(1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    smtp.stop()
    medians = {state: statistics.median(t) for state, t in times.items()}
    overall = statistics.median([x for t in times.values() for x in t])
    print(f"POST /subscribe, {n} requests per state, interleaved; digest serve in its own "
          "process, mail to aiosmtpd on loopback")
    print(f"{'':14} {'median ms':>10} {'p90 ms':>8} {'÷ all':>7}")
    print(f"{'GET the form':14} {statistics.median(forms) * 1000:10.2f} {'':>8} "
          f"{statistics.median(forms) / overall:7.2f}")
    for state in STATES:
        p90 = statistics.quantiles(times[state], n=10)[-1]
        print(f"{state:14} {medians[state] * 1000:10.2f} {p90 * 1000:8.2f} "
              f"{medians[state] / overall:7.2f}")
    spread = max(medians.values()) / min(medians.values())
    print(f"spread (slowest state's median / fastest's): {spread:.2f} "
          f"(target at most 1.20); messages the mailer sent meanwhile: {sink.count}")


if __name__ == "__main__":
    main()
