"""`[email] return_path`: each message's envelope sender is its own signed VERP address,
over a real SMTP server (pipelined: the next envelope goes out behind the message)."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from pathlib import Path

import pytest
from mailservers import Sink, running
from newsroom import add_subscribers, run, sample_config

from digest.config import load_config
from digest.deliver.bounce_reports import BounceKeys, classify_bytes
from digest.deliver.tokens import read_return_tag, read_token
from digest.store import Store

READERS = [f"reader{n}@example.org" for n in range(1, 8)]


@pytest.mark.parametrize("pipelining", [True, False])
def test_each_message_goes_out_from_its_own_signed_return_path(tmp_path: Path,
                                                               pipelining: bool):
    sink = Sink(pipelining=pipelining)
    with running(sink) as port:
        config_path = sample_config(
            tmp_path, port, email_extra='return_path = "bounces@news.example.org"',
            smtp_extra="connections = 2")
        add_subscribers(config_path, [(r, "", "") for r in READERS])
        run(config_path, "send", "--date", "2026-11-25")
        run(config_path, "test-send", "tester@example.net", "--date", "2026-11-25")
    config = load_config(config_path)
    with Store(config.state) as store:
        secret = store.secret()
        ids = {r: store.subscriber(r).id for r in READERS}  # type: ignore[union-attr]
    senders = {rcpts[0]: sender for sender, rcpts, _ in sink.received}
    assert set(senders) == {*READERS, "tester@example.net"}
    for reader in READERS:
        local, _, domain = senders[reader].partition("@")
        assert domain == "news.example.org" and local.startswith("bounces+")
        assert read_return_tag(secret, local.removeprefix("bounces+")) == (
            dt.date(2026, 11, 25), ids[reader])
    # the test copy's names no subscriber (id 0), so its bounce can bounce nobody
    test_local = senders["tester@example.net"].partition("@")[0]
    assert read_return_tag(secret, test_local.removeprefix("bounces+")) == (
        dt.date(2026, 11, 25), 0)
    # the mailto unsubscribe carries the subscriber's signed token: a mailed request is
    # attributable, and the classifier reads it back
    raw = next(content for _, rcpts, content in sink.received if rcpts == [READERS[0]])
    header = str(message_from_bytes(raw)["List-Unsubscribe"])
    mailto = header.split("<mailto:")[1].split(">")[0]
    token = mailto.split("subject=unsubscribe%20")[1]
    assert read_token(secret, token) == ids[READERS[0]]
    request = (f"From: {READERS[0]}\r\nTo: {mailto.split('?')[0]}\r\nSubject: unsubscribe "
               f"{token}\r\nMessage-ID: <x@example.org>\r\n\r\n").encode()
    found = classify_bytes(request, BounceKeys(secret, "bounces"))
    assert (found.kind, found.subscriber_id) == ("unsubscribe", ids[READERS[0]])


def test_without_return_path_the_envelope_sender_is_the_from_address(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config_path = sample_config(tmp_path, port)
        add_subscribers(config_path, [(r, "", "") for r in READERS[:2]])
        run(config_path, "send", "--date", "2026-11-25")
    assert {sender for sender, _, _ in sink.received} == {"digest@news.example.org"}


def test_a_return_path_too_long_for_its_tag_is_refused(tmp_path: Path):
    config_path = sample_config(tmp_path, 25,
                                email_extra=f'return_path = "{"b" * 32}@news.example.org"')
    out = run(config_path, "status", code=2)
    assert "return_path" in out and "31" in out
