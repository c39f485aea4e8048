"""How fast `digest send` mails a list, beside Postfix's smtp-source on the same sink.

Needs Postfix's test tools (installs nothing itself):

    DEBIAN_FRONTEND=noninteractive apt-get install -y postfix

Only /usr/sbin/smtp-sink and /usr/sbin/smtp-source are run, never the
Postfix daemon. The script starts smtp-sink on loopback, makes the sample
edition and N subscribers in a temporary folder, then, for each of --runs
rounds: runs `digest send` (a real process, `[smtp] connections` = --connections),
and runs smtp-source with the same message size and session count against
the same sink. It prints the medians and their ratio, then the peak memory
(max RSS) of `digest send` for N and 10×N subscribers.

    .venv/bin/python bench/send.py [--subscribers 20000] [--runs 3] [--connections 4]
                                   [--dkim [--ed25519]]

With --dkim each round also runs a DKIM-signed send (a fresh RSA-2048 key;
with --ed25519 an Ed25519 signature beside it) and prints the signed rate as a
ratio of the unsigned one measured in the same rounds, the CPU time per
message of `digest send` (unsigned and signed) and of smtp-sink, one RSA
signature's CPU time, and what those allow the ratio to be when the two cores
are saturated.

The rate of `digest send` is taken over the whole process (start, render,
send, exit) and also net of a run that has nothing to send (the fixed cost
of starting, building and publishing), which is the delivery rate proper.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import free_port

ROOT = Path(__file__).resolve().parents[1]
SINK = Path("/usr/sbin/smtp-sink")
SOURCE = Path("/usr/sbin/smtp-source")
DATE = "2026-11-25"  # the bundled sample feeds make an edition of this date
CATEGORIES = ("news", "economy", "energy", "climate-and-ecology", "opinion", "culture",
              "science")


def write_keys(folder: Path, ed25519_too: bool) -> str:
    """Fresh DKIM keys in `folder`; the [[dkim]] tables that use them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    pem = serialization.PrivateFormat.PKCS8
    (folder / "dkim.pem").write_bytes(rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, pem, serialization.NoEncryption()))
    tables = ('[[dkim]]\ndomain = "news.example.org"\nselector = "daily"\n'
              'private_key = "dkim.pem"\n')
    if ed25519_too:
        (folder / "dkim-ed.pem").write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, pem, serialization.NoEncryption()))
        tables += ('[[dkim]]\ndomain = "news.example.org"\nselector = "daily-ed"\n'
                   'private_key = "dkim-ed.pem"\nalgorithm = "ed25519-sha256"\n')
    return tables


def signed_config(config: Path, tables: str) -> Path:
    """The same config with DKIM signing, beside it (same state file and output)."""
    path = config.with_name("config-dkim.toml")
    path.write_text(config.read_text(encoding="utf-8") + "\n" + tables, encoding="utf-8")
    return path


def write_config(folder: Path, port: int, connections: int) -> Path:
    cats = "\n".join(
        f'[[categories]]\nslug = "{slug}"\ntitle = "{slug.replace("-", " ").title()}"\n'
        f'feeds = ["{ROOT / "sample" / "feeds" / (slug + ".xml")}"]\n'
        for slug in CATEGORIES)
    path = folder / "config.toml"
    path.write_text(f"""
[digest]
title = "Aze Daily Digest"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"
timezone = "Asia/Baku"
state = "digest.sqlite3"
output = "public"

{cats}
[email]
from = "Aze Daily Digest <digest@news.example.org>"
transport = "smtp"
unsubscribe_url = "https://news.example.org/digest/unsubscribe"

[smtp]
host = "127.0.0.1"
port = {port}
connections = {connections}
""", encoding="utf-8")
    return path


CPU: dict[str, float] = {}  # CPU seconds (user + system) of the last `digest` run, by command


def digest(config: Path, *args: str) -> tuple[float, int, str]:
    """Run the digest CLI; return (seconds, peak RSS in KiB, stderr)."""
    command = [sys.executable, "-m", "digest", "--config", str(config), *args]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    CPU[args[0]] = usage.ru_utime + usage.ru_stime
    if process.returncode != 0:
        raise SystemExit(f"digest {' '.join(args)} failed ({process.returncode}):\n{err}")
    return seconds, int(usage.ru_maxrss), err


def add_subscribers(state: Path, count: int) -> None:
    """N active subscribers, written straight into the state file (setup, not measured)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    stamp = now.isoformat()
    db = sqlite3.connect(state)
    with db:
        db.execute("DELETE FROM deliveries")
        db.execute("DELETE FROM subscribers")
        db.executemany(
            "INSERT INTO subscribers (email, name, categories, status, created_at, updated_at)"
            " VALUES (?, ?, '', 'active', ?, ?)",
            ((f"reader{n:07d}@example.org", f"Reader {n}", stamp, stamp)
             for n in range(count)))
    db.close()


def reset_delivery(state: Path) -> None:
    """Make the edition owed to everyone again, as if it had never been sent."""
    db = sqlite3.connect(state)
    with db:
        db.execute("DELETE FROM deliveries")
        db.execute("UPDATE editions SET frozen_at = NULL, completed_at = NULL")
    db.close()


def message_size(config_path: Path) -> int:
    """Bytes of one message as sent, for smtp-source's -l."""
    sys.path.insert(0, str(ROOT))
    from digest.config import load_config
    from digest.deliver.message import build_template
    from digest.models import Subscriber
    from digest.render.email import render_email
    from digest.render.templates import environment
    from digest.store import Store

    config = load_config(config_path)
    with Store(config.state) as store:
        edition = store.edition(dt.date.fromisoformat(DATE))
    assert edition is not None, "the sample edition was not built"
    rendered = render_email(config, edition, environment(config.templates))
    template = build_template(config, rendered, dt.datetime.now(dt.UTC))
    return len(template.for_subscriber(config, Subscriber(1, "reader0000001@example.org",
                                                          "Reader 1"), "AQ.token"))


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rsa_seconds(pem: Path, count: int = 400) -> float:
    """CPU seconds of one RSA-2048 PKCS#1 v1.5 SHA-256 signature with that key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    start = time.process_time()
    for n in range(count):
        key.sign(b"header data %d" % n, padding.PKCS1v15(), hashes.SHA256())
    return (time.process_time() - start) / count


def smtp_source(port: int, count: int, size: int, sessions: int) -> float:
    start = time.perf_counter()
    subprocess.run([str(SOURCE), "-d", "-s", str(sessions), "-m", str(count), "-l", str(size),
                    "-f", "digest@news.example.org", "-t", "reader@example.org",
                    f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--dkim", action="store_true",
                        help="also time a DKIM-signed send (RSA-2048) in each round")
    parser.add_argument("--ed25519", action="store_true",
                        help="with --dkim: an Ed25519 signature beside the RSA one")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory runs at N and 10×N")
    args = parser.parse_args()
    missing = [str(p) for p in (SINK, SOURCE) if not os.access(p, os.X_OK)]
    if missing:
        raise SystemExit(
            f"needs {' and '.join(missing)} (Postfix's test tools): install them with\n"
            "  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix\n"
            "(only the two binaries are run, never the Postfix daemon)")

    n = args.subscribers
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    port = free_port()
    sink_command = [str(SINK), *(["-u", "nobody"] if os.geteuid() == 0 else []),
                    f"127.0.0.1:{port}", "1000"]
    sink = subprocess.Popen(sink_command, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        if sink.poll() is not None:
            raise SystemExit(f"smtp-sink did not start: {' '.join(sink_command)}")
        config = write_config(folder, port, args.connections)
        state = folder / "digest.sqlite3"
        digest(config, "fetch")
        digest(config, "build", "--date", DATE)
        size = message_size(config)
        print(f"edition {DATE}, one message = {size} bytes; {n} subscribers; "
              f"{args.connections} connections; smtp-sink on 127.0.0.1:{port}")

        add_subscribers(state, n)
        signed = signed_config(config, write_keys(folder, args.ed25519)) if args.dkim else None
        ours, net, theirs, signed_rates, signed_net = [], [], [], [], []
        cpu, signed_cpu = [], []  # CPU seconds per message (less hurt by a busy machine)
        sink_cpu: list[float] = []  # smtp-sink's CPU seconds per message it took
        for round_ in range(1, args.runs + 1):
            reset_delivery(state)
            sink_before = process_cpu(sink.pid)
            seconds, _, err = digest(config, "send", "--no-fetch", "--date", DATE)
            if f"sent {n}," not in err:
                raise SystemExit(f"digest send did not send {n} messages:\n{err}")
            sink_cpu.append((process_cpu(sink.pid) - sink_before) / n)
            cpu_seconds = CPU["send"]
            idle, _, _ = digest(config, "send", "--no-fetch", "--date", DATE)  # sends nothing
            cpu.append((cpu_seconds - CPU["send"]) / n)
            source = smtp_source(port, n, size, args.connections)
            ours.append(n / seconds)
            net.append(n / max(seconds - idle, 1e-9))
            theirs.append(n / source)
            line = (f"  round {round_}: digest send {seconds:.2f} s (fixed cost {idle:.2f} s), "
                    f"smtp-source {source:.2f} s")
            if signed is not None:
                reset_delivery(state)
                with_dkim, _, err = digest(signed, "send", "--no-fetch", "--date", DATE)
                if f"sent {n}," not in err:
                    raise SystemExit(f"the signed send did not send {n} messages:\n{err}")
                cpu_seconds = CPU["send"]
                signed_idle, _, _ = digest(signed, "send", "--no-fetch", "--date", DATE)
                signed_cpu.append((cpu_seconds - CPU["send"]) / n)
                signed_rates.append(n / with_dkim)
                signed_net.append(n / max(with_dkim - signed_idle, 1e-9))
                line += f", signed send {with_dkim:.2f} s (fixed cost {signed_idle:.2f} s)"
            print(line)
        median_ours, median_net, median_theirs = (statistics.median(x)
                                                  for x in (ours, net, theirs))
        print(f"smtp-source, {args.connections} sessions, reused connections: "
              f"{median_theirs:,.0f} msg/s")
        print(f"digest send, whole process:               {median_ours:,.0f} msg/s "
              f"({median_ours / median_theirs:.2f}x smtp-source)")
        print(f"digest send, delivery (net of fixed cost): {median_net:,.0f} msg/s "
              f"({median_net / median_theirs:.2f}x smtp-source)")
        if signed is not None:
            what = "RSA + Ed25519" if args.ed25519 else "RSA-2048"
            median_signed, median_signed_net = (statistics.median(x)
                                                for x in (signed_rates, signed_net))
            print(f"digest send, DKIM {what}, whole process: {median_signed:,.0f} msg/s "
                  f"({median_signed / median_ours:.2f}x unsigned)")
            print(f"digest send, DKIM {what}, delivery:      {median_signed_net:,.0f} msg/s "
                  f"({median_signed_net / median_net:.2f}x unsigned)")
            per, signed_per = statistics.median(cpu), statistics.median(signed_cpu)
            print(f"CPU time of digest send per message (net of fixed cost): unsigned "
                  f"{per * 1e6:.0f} µs, signed {signed_per * 1e6:.0f} µs "
                  f"(unsigned/signed {per / signed_per:.2f})")
            sink_per, rsa = statistics.median(sink_cpu), rsa_seconds(folder / "dkim.pem")
            unsigned_all = per + sink_per  # both processes, per message
            print(f"smtp-sink CPU per message {sink_per * 1e6:.0f} µs; one RSA-2048 signature "
                  f"{rsa * 1e6:.0f} µs. Were both cores saturated, the rates would follow the "
                  f"CPU per message: signed/unsigned {unsigned_all / (signed_per + sink_per):.2f}"
                  f" with these costs, {unsigned_all / (unsigned_all + rsa):.2f} were all but "
                  "the RSA signature free")

        if not args.no_memory:
            peaks = {}
            for count in (n, 10 * n):
                add_subscribers(state, count)
                reset_delivery(state)
                seconds, peak, err = digest(config, "send", "--no-fetch", "--date", DATE)
                if f"sent {count}," not in err:
                    raise SystemExit(f"digest send did not send {count} messages:\n{err}")
                peaks[count] = peak
                print(f"peak memory, {count:,} subscribers: {peak / 1024:.1f} MiB "
                      f"({count / seconds:,.0f} msg/s whole process)")
            print(f"memory at 10×N / memory at N: {peaks[10 * n] / peaks[n]:.2f}")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
