"""The SMTP transport and the pool against real aiosmtpd servers on loopback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mailservers import RawRelay, Sink, password_check, running, self_signed

from digest.config import SmtpConfig
from digest.deliver.send_pool import Job, Pacer, SendPool
from digest.deliver.smtp import SmtpTransport, data_payload
from digest.deliver.transport import Outcome
from digest.errors import DeliveryError
from digest.models import Subscriber

SENDER = "digest@news.example.org"
MESSAGE = (b"From: Digest <digest@news.example.org>\r\nTo: a@example.org\r\n"
           b"Subject: test\r\n\r\nfirst line\r\n.starts with a dot\r\n.\r\n..two\r\nend\r\n")


def settings(port: int, **kwargs: object) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("pipelining", [True, False])
def test_messages_arrive_byte_for_byte_over_one_reused_connection(pipelining: bool):
    sink = Sink(pipelining=pipelining)
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        outcomes = [transport.send(SENDER, f"r{n}@example.org", MESSAGE) for n in range(5)]
        assert transport.pipelining is pipelining
        transport.close()
    assert outcomes == [Outcome("sent")] * 5
    assert sink.recipients() == [f"r{n}@example.org" for n in range(5)]
    # Lines starting with a dot survive dot-stuffing both ways.
    assert all(raw == MESSAGE for _, _, raw in sink.received)
    assert len(sink.sessions) == 1


def test_dot_stuffing_of_the_payload():
    assert data_payload(b".a\r\nb\r\n.\r\n") == b"..a\r\nb\r\n..\r\n.\r\n"
    assert data_payload(b"no newline") == b"no newline\r\n.\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(("reply", "status"), [
    ("421 4.7.0 try again later", "deferred"),
    ("451 4.3.0 local error", "deferred"),
    ("452 4.2.2 mailbox full", "deferred"),
    ("550 5.1.1 no such user", "failed"),
])
def test_refused_recipients_get_the_servers_reply_and_the_connection_goes_on(
        pipelining: bool, reply: str, status: str):
    sink = Sink(pipelining=pipelining, rcpt={"bad@example.org": [reply]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        first = transport.send(SENDER, "ok1@example.org", MESSAGE)
        refused = transport.send(SENDER, "bad@example.org", MESSAGE)
        after = transport.send(SENDER, "ok2@example.org", MESSAGE)
        transport.close()
    assert first.status == after.status == "sent"
    assert refused == Outcome(status, " ".join(reply.split()))
    assert sink.recipients() == ["ok1@example.org", "ok2@example.org"]
    if reply.startswith("421"):
        assert len(sink.sessions) == 2  # 421 means the server closes: a new connection
    else:
        assert sink.commands == ["RSET"]  # the failed transaction was reset, then reused
        assert len(sink.sessions) == 1


@pytest.mark.parametrize(("reply", "status"), [("452 4.3.1 out of space", "deferred"),
                                               ("554 5.6.0 rejected content", "failed")])
def test_a_refusal_after_the_message_is_recorded_with_the_reply(reply: str, status: str):
    sink = Sink(data={"a@example.org": [reply]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        outcome = transport.send(SENDER, "a@example.org", MESSAGE)
        assert transport.send(SENDER, "b@example.org", MESSAGE).status == "sent"
        transport.close()
    assert outcome == Outcome(status, reply)
    assert sink.recipients() == ["b@example.org"]


# Far more than loopback's socket buffers hold: the writer is still writing the text
# when the server resets the connection, so the final dot was never handed over.
BIG = MESSAGE.replace(b"first line\r\n", b"x" * 74 + b"\r\n") * 200_000


def test_a_connection_reset_part_way_through_the_message_is_reopened_and_sent_once():
    with RawRelay(["reset-mid-data", "accept"]) as relay:
        transport = SmtpTransport(settings(relay.port))
        outcome = transport.send(SENDER, "a@example.org", BIG)
        transport.close()
    assert outcome == Outcome("sent")
    assert relay.received == ["a@example.org"]
    assert relay.connections == 2


def test_a_connection_reset_mid_message_every_time_defers_that_recipient_only():
    with RawRelay(["reset-mid-data", "reset-mid-data", "accept"]) as relay:
        transport = SmtpTransport(settings(relay.port))
        outcome = transport.send(SENDER, "a@example.org", BIG)
        other = transport.send(SENDER, "b@example.org", MESSAGE)
        transport.close()
    assert outcome.status == "deferred" and "lost twice" in (outcome.reply or "")
    assert other.status == "sent"
    assert relay.received == ["b@example.org"]


def test_a_connection_dropped_before_data_is_retried_then_deferred():
    sink = Sink(rcpt={"a@example.org": ["drop"]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        outcome = transport.send(SENDER, "a@example.org", MESSAGE)
        other = transport.send(SENDER, "b@example.org", MESSAGE)
        transport.close()
    assert outcome.status == "deferred" and "lost twice" in (outcome.reply or "")
    assert other.status == "sent"
    assert sink.recipients() == ["b@example.org"]
    assert len(sink.sessions) == 3  # a twice, then b on a fresh connection


def test_an_answer_that_is_no_reply_after_the_final_dot_is_unknown():
    with RawRelay(["garble", "accept"]) as relay:
        transport = SmtpTransport(settings(relay.port))
        first = transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        second = transport.send(SENDER, "b@example.org", MESSAGE)
        transport.close()
    assert first.status == "unknown" and "not an SMTP reply" in (first.reply or "")
    assert "-1" not in (first.reply or "")  # smtplib's code for it is nobody's business
    assert second == Outcome("sent")
    assert relay.received == ["a@example.org", "b@example.org"]
    assert relay.connections == 2


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("loss", ["taken-close", "taken-reset"])
def test_a_reply_lost_after_the_final_dot_is_unknown_and_never_sent_twice(
        pipelining: bool, loss: str):
    sink = Sink(pipelining=pipelining, data={"a@example.org": [loss, "250"]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        first = transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        # b's envelope rode behind a's final dot, its text never did: sent on a new
        # connection, once.
        second = transport.send(SENDER, "b@example.org", MESSAGE, following="c@example.org")
        third = transport.send(SENDER, "c@example.org", MESSAGE)
        transport.close()
    assert first.status == "unknown"
    assert "127.0.0.1" in (first.reply or "") and "may have been delivered" in (first.reply or "")
    assert [second, third] == [Outcome("sent")] * 2
    assert sink.recipients() == ["a@example.org", "b@example.org", "c@example.org"]
    assert len(sink.sessions) == 2


def test_a_server_that_is_not_there_raises_a_clear_error():
    transport = SmtpTransport(settings(1))
    with pytest.raises(DeliveryError, match=r"cannot use the mail server 127\.0\.0\.1:1"):
        transport.send(SENDER, "a@example.org", MESSAGE)


@pytest.fixture
def tls_files(tmp_path: Path):  # type: ignore[no-untyped-def]
    return self_signed(tmp_path)


def test_starttls_and_auth_with_a_private_ca(tls_files, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RELAY_PASSWORD", "s3cret")
    sink = Sink()
    with running(sink, tls_context=tls_files.server_context(), require_starttls=True,
                 authenticator=password_check("digest", "s3cret"), auth_required=True) as port:
        good = SmtpTransport(settings(port, security="starttls", username="digest",
                                      password_env="RELAY_PASSWORD", ca_file=tls_files.cert))
        assert good.send(SENDER, "a@example.org", MESSAGE) == Outcome("sent")
        good.close()

        monkeypatch.setenv("RELAY_PASSWORD", "wrong")
        bad = SmtpTransport(settings(port, security="starttls", username="digest",
                                     password_env="RELAY_PASSWORD", ca_file=tls_files.cert))
        with pytest.raises(DeliveryError, match="refused the login for 'digest'"):
            bad.send(SENDER, "b@example.org", MESSAGE)

        untrusted = SmtpTransport(settings(port, security="starttls", username="digest",
                                           password_env="RELAY_PASSWORD"))
        with pytest.raises(DeliveryError, match=r"TLS with the mail server .* ca_file"):
            untrusted.send(SENDER, "c@example.org", MESSAGE)

        plain = SmtpTransport(settings(port))  # refused at MAIL FROM: the whole run stops
        with pytest.raises(DeliveryError, match=r"refused the envelope sender .*STARTTLS"
                                                r".*\[smtp\] security"):
            plain.send(SENDER, "d@example.org", MESSAGE)
        plain.close()
    assert sink.recipients() == ["a@example.org"]


def test_a_tls_connection_reset_after_the_final_dot_is_unknown(tls_files):
    sink = Sink(data={"a@example.org": ["taken-reset", "250"]})
    with running(sink, ssl_context=tls_files.server_context()) as port:
        transport = SmtpTransport(settings(port, security="tls", ca_file=tls_files.cert))
        first = transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        second = transport.send(SENDER, "b@example.org", MESSAGE)
        transport.close()
    assert first.status == "unknown"
    assert second == Outcome("sent")
    assert sink.recipients() == ["a@example.org", "b@example.org"]


def test_implicit_tls(tls_files):
    sink = Sink()
    with running(sink, ssl_context=tls_files.server_context()) as port:
        transport = SmtpTransport(settings(port, security="tls", ca_file=tls_files.cert))
        assert transport.send(SENDER, "a@example.org", MESSAGE) == Outcome("sent")
        transport.close()
    assert sink.recipients() == ["a@example.org"]


def test_the_pool_sends_over_each_of_its_connections_and_reuses_them():
    sink = Sink(delay=0.002)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(job: Job, outcome: Outcome) -> None:
        with lock:
            outcomes.append((job.subscriber.email, outcome.status))

    with running(sink) as port:
        pool = SendPool(lambda: SmtpTransport(settings(port)), 4, SENDER, record)
        for n in range(60):
            assert pool.submit(Job(Subscriber(n, f"r{n}@example.org", ""), MESSAGE))
        pool.drain()
        pool.close()
    assert sorted(outcomes) == sorted((f"r{n}@example.org", "sent") for n in range(60))
    assert sorted(sink.recipients()) == sorted(f"r{n}@example.org" for n in range(60))
    assert len(sink.sessions) == 4


def test_the_pool_records_a_lost_reply_as_unknown_and_sends_the_rest_once():
    sink = Sink(data={"r1@example.org": ["taken-close", "250"]})
    outcomes: dict[str, str] = {}

    def record(job: Job, outcome: Outcome) -> None:
        outcomes[job.subscriber.email] = outcome.status

    with running(sink) as port:
        pool = SendPool(lambda: SmtpTransport(settings(port)), 1, SENDER, record)
        for n in range(4):  # one connection: each envelope rides behind the message before
            assert pool.submit(Job(Subscriber(n, f"r{n}@example.org", ""), MESSAGE))
        pool.drain()
        pool.close()
    assert outcomes == {"r0@example.org": "sent", "r1@example.org": "unknown",
                        "r2@example.org": "sent", "r3@example.org": "sent"}
    assert sorted(sink.recipients()) == [f"r{n}@example.org" for n in range(4)]


def test_a_pool_whose_connections_all_fail_stops_with_the_reason():
    pool = SendPool(lambda: SmtpTransport(settings(1)), 3, SENDER, lambda j, o: None)
    for n in range(10):
        if not pool.submit(Job(Subscriber(n, f"r{n}@example.org", ""), MESSAGE)):
            break
    pool.drain()
    pool.close()
    assert pool.stopped is not None and "127.0.0.1:1" in pool.stopped


def test_the_pacer_spaces_sends_to_the_rate(monkeypatch: pytest.MonkeyPatch):
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("digest.deliver.send_pool.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("digest.deliver.send_pool.time.sleep", sleep)
    pacer = Pacer(4.0)
    for _ in range(5):
        pacer.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    unlimited = Pacer(None)
    unlimited.wait()
    assert len(slept) == 4


def test_the_next_envelope_rides_behind_each_message():
    sink = Sink()
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        first = transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        assert transport.presented == (SENDER, "b@example.org")
        second = transport.send(SENDER, "b@example.org", MESSAGE, following="c@example.org")
        third = transport.send(SENDER, "c@example.org", MESSAGE)
        transport.close()
    assert [first, second, third] == [Outcome("sent")] * 3
    assert sink.recipients() == ["a@example.org", "b@example.org", "c@example.org"]
    assert all(raw == MESSAGE for _, _, raw in sink.received)
    assert len(sink.sessions) == 1


def test_refusals_around_an_envelope_sent_ahead():
    sink = Sink(rcpt={"b@example.org": ["550 5.1.1 no such user"]},
                data={"c@example.org": ["552 5.3.4 too big"]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        outcomes = [
            transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org"),
            transport.send(SENDER, "b@example.org", MESSAGE, following="c@example.org"),
            transport.send(SENDER, "c@example.org", MESSAGE, following="d@example.org"),
            transport.send(SENDER, "d@example.org", MESSAGE),
        ]
        transport.close()
    assert [o.status for o in outcomes] == ["sent", "failed", "failed", "sent"]
    assert outcomes[1].reply == "550 5.1.1 no such user"
    assert outcomes[2].reply == "552 5.3.4 too big"
    assert sink.recipients() == ["a@example.org", "d@example.org"]
    # RSET only after the refused envelope; the refused message's reply ended its own
    # transaction, and d's envelope was already on the wire behind it.
    assert sink.commands == ["RSET"]
    assert len(sink.sessions) == 1


def test_an_envelope_sent_ahead_but_never_used_delivers_nothing():
    sink = Sink()
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        # Not b after all: the pending envelope is dropped with its connection.
        assert transport.send(SENDER, "c@example.org", MESSAGE).status == "sent"
        transport.send(SENDER, "d@example.org", MESSAGE, following="e@example.org")
        transport.close()  # e's envelope is pending: closed without a message
    assert sink.recipients() == ["a@example.org", "c@example.org", "d@example.org"]


def test_a_421_after_the_message_reopens_and_the_next_goes_out():
    sink = Sink(data={"a@example.org": ["421 4.3.2 shutting down"]})
    with running(sink) as port:
        transport = SmtpTransport(settings(port))
        first = transport.send(SENDER, "a@example.org", MESSAGE, following="b@example.org")
        second = transport.send(SENDER, "b@example.org", MESSAGE)
        transport.close()
    assert first == Outcome("deferred", "421 4.3.2 shutting down")
    assert second == Outcome("sent")
    assert sink.recipients() == ["b@example.org"]
    assert len(sink.sessions) == 2
