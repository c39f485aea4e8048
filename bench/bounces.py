"""`digest bounces` over a Maildir of N mixed notices: messages per second and memory.

Makes a project (2,000 subscribers, `[email] return_path`, `[bounces] mailbox` a Maildir)
and fills the Maildir with N messages, mixed as a bounce mailbox is: RFC 3464 DSNs
(hard, soft, policy) to VERP addresses, ARF complaints, mailed unsubscribes,
out-of-office replies, non-standard bounces from the test samples (flufl.bounce's
detectors) and messages nobody knows. Then, each as a fresh process (the median of
--runs, each on a fresh copy of the project):

- `digest -q bounces`: it reads, classifies, acts on and moves every message;
- the baseline, in the same run: a plain loop over `mailbox.Maildir` parsing each
  message with `email.message_from_binary_file` (no classifying, no store, no move);
- both at N/5 messages too: peak memory at N beside N/5 says whether it stays flat.

Run: .venv/bin/python bench/bounces.py [--messages 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import measured  # noqa: E402

from digest.deliver.tokens import make_return_tag, make_token  # noqa: E402
from digest.store import Store  # noqa: E402

SUBSCRIBERS = 2000
SECRET = "bench-secret"  # DIGEST_SECRET: the tags and tokens below are signed with it
EDITION = dt.date(2026, 11, 30)
SAMPLES = ROOT / "tests" / "data" / "bounces"
NON_STANDARD = ["flufl_qmail_01.txt", "flufl_exim_01.txt", "flufl_yahoo_10.txt",
                "flufl_postfix_01.txt", "flufl_microsoft_03.txt", "flufl_simple_07.txt"]
BASELINE = """
import email, mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
n = 0
for key in box.iterkeys():
    with box.get_file(key) as f:
        email.message_from_binary_file(f)
    n += 1
print(n)
"""


def dsn(to: str, recipient: str, status: str, words: str, n: int) -> bytes:
    return (f"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <bench-{n}@mx.example.net>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
            f"\r\n--b\r\nContent-Type: text/plain\r\n\r\n<{recipient}>: {words}\r\n"
            f"{'The mail system could not deliver your message. ' * 20}\r\n"
            "\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.net\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; {words}\r\n\r\n--b\r\n"
            "Content-Type: text/rfc822-headers\r\n\r\n"
            f"Return-Path: <{to}>\r\nFrom: Digest <digest@news.example.org>\r\n"
            f"To: {recipient}\r\nSubject: The digest\r\n\r\n--b--\r\n").encode()


def notice(n: int, rng: random.Random, samples: list[bytes]) -> bytes:
    sid = rng.randint(1, SUBSCRIBERS)
    address = f"reader{sid}@example.org"
    verp = f"bounces+{make_return_tag(SECRET.encode(), EDITION, sid)}@news.example.org"
    roll = rng.random()
    if roll < 0.35:
        return dsn(verp, address, "5.1.1", "550 5.1.1 User unknown", n)
    if roll < 0.50:
        return dsn(verp, address, "4.2.2", "452 4.2.2 Mailbox full", n)
    if roll < 0.60:
        return dsn(verp, address, "5.7.1", "550 5.7.1 blocked for policy reasons", n)
    if roll < 0.65:
        return (f"From: fbl@isp.example\r\nTo: bounces@news.example.org\r\nSubject: report\r\n"
                f"Message-ID: <arf-{n}@isp.example>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/report; report-type=feedback-report; boundary="f"'
                "\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n--f\r\n"
                "Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
                "Version: 1\r\n\r\n--f\r\nContent-Type: message/rfc822\r\n\r\n"
                f"Return-Path: <{verp}>\r\nTo: {address}\r\nSubject: s\r\n\r\nbody\r\n"
                "--f--\r\n").encode()
    if roll < 0.70:
        token = make_token(SECRET.encode(), sid)
        return (f"From: {address}\r\nTo: bounces@news.example.org\r\n"
                f"Subject: unsubscribe {token}\r\nMessage-ID: <u-{n}@example.org>\r\n\r\n"
                "unsubscribe\r\n").encode()
    if roll < 0.80:
        return (f"From: {address}\r\nTo: {verp}\r\nSubject: Out of office\r\n"
                f"Auto-Submitted: auto-replied\r\nMessage-ID: <o-{n}@example.org>\r\n\r\n"
                "I am away.\r\n").encode()
    if roll < 0.92:
        return samples[n % len(samples)].replace(b"Message-ID:", f"X-N: {n}\r\nX-Old:".encode())
    return (f"From: someone@example.com\r\nTo: bounces@news.example.org\r\nSubject: hello\r\n"
            f"Message-ID: <h-{n}@example.com>\r\n\r\nA message nobody knows.\r\n").encode()


def make_project(folder: Path, messages: int) -> Path:
    maildir = folder / "bounces"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = folder / "config.toml"
    config.write_text(f"""[digest]
title = "Bench"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"
state = "state.sqlite3"

[[categories]]
slug = "news"
feeds = ["https://news.example.org/feed/"]

[email]
from = "Digest <digest@news.example.org>"
transport = "file"
return_path = "bounces@news.example.org"

[bounces]
mailbox = "maildir:{maildir}"
""", encoding="utf-8")
    with Store(folder / "state.sqlite3") as store:
        store.import_subscribers([(f"reader{n}@example.org", "", "")
                                  for n in range(1, SUBSCRIBERS + 1)])
    rng = random.Random(12)
    samples = [(SAMPLES / name).read_bytes() for name in NON_STANDARD]
    for n in range(messages):
        (maildir / "new" / f"{1764480000 + n}.M{n}P1.bench").write_bytes(
            notice(n, rng, samples))
    return config


def run_once(messages: int) -> tuple[float, int, float, int]:
    """(ours msg/s, our peak KiB, baseline msg/s, baseline peak KiB) on a fresh mailbox."""
    with tempfile.TemporaryDirectory() as tmp:
        config = make_project(Path(tmp), messages)
        maildir = Path(tmp) / "bounces"
        base = measured([sys.executable, "-c", BASELINE, str(maildir)])
        env = {**os.environ, "DIGEST_SECRET": SECRET}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        ours = measured([sys.executable, "-m", "digest", "-q", "--config", str(config),
                         "bounces"], env=env)
        left = len(os.listdir(maildir / "new"))
        moved = len(os.listdir(maildir / ".processed" / "cur"))
        assert left + moved == messages, (left, moved)
        shutil.rmtree(maildir)
    return messages / ours.seconds, ours.peak_kib, messages / base.seconds, base.peak_kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for count in (args.messages // 5, args.messages):
        runs = [run_once(count) for _ in range(args.runs)]
        rate = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[1] for r in runs)
        base_rate = statistics.median(r[2] for r in runs)
        base_peak = statistics.median(r[3] for r in runs)
        print(f"{count:>6} messages: digest bounces {rate:,.0f} msg/s, peak {peak / 1024:.0f} "
              f"MiB; baseline (Maildir + email parser only) {base_rate:,.0f} msg/s, peak "
              f"{base_peak / 1024:.0f} MiB; ours/baseline {rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
