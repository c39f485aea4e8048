"""DKIM: messages as received verify offline against the published key; changes break them."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config


def make_key(folder: Path) -> bytes:
    """Write a PEM private key; return the DNS TXT record that publishes its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dns(record: bytes):  # type: ignore[no-untyped-def]
    """A stub resolver that knows only daily._domainkey.news.example.org."""
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == b"daily._domainkey.news.example.org." else None
    return dnsfunc, asked


DKIM = """
[dkim]
domain = "news.example.org"
selector = "daily"
private_key = "dkim.pem"
"""


@pytest.fixture
def signed(tmp_path: Path) -> tuple[list[bytes], bytes]:
    record = make_key(tmp_path)
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail=DKIM)
        add_subscribers(config, [*numbered(2), ("gunel@example.org", "Günel Həsənova", "")])
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "sent 3" in out
    return [raw for _, _, raw in sink.received], record


def test_every_message_verifies_with_the_published_key(signed: tuple[list[bytes], bytes]):
    messages, record = signed
    dnsfunc, asked = dns(record)
    for raw in messages:
        assert raw.startswith(b"DKIM-Signature: ")
        assert dkim.verify(raw, dnsfunc=dnsfunc)
        header = raw.split(b"\r\n\r\n")[0].decode()
        signature = re.search(r"DKIM-Signature: (.*?)\r\n(?=\S)", header, re.S)
        assert signature is not None
        fields = dict(f.strip().split("=", 1) for f in
                      re.sub(r"\s+", "", signature.group(1)).split(";") if f.strip())
        signed_headers = set(fields["h"].lower().split(":"))
        assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe",
                "list-unsubscribe-post"} <= signed_headers
        assert fields["d"] == "news.example.org" and fields["s"] == "daily"
    assert set(asked) == {b"daily._domainkey.news.example.org."}


@pytest.mark.parametrize(("change", "what"), [
    (lambda raw: raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                             b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click"),
     "List-Unsubscribe-Post"),
    (lambda raw: re.sub(rb"token=[A-Za-z0-9_-]", b"token=Z", raw, count=1), "List-Unsubscribe"),
    (lambda raw: re.sub(rb"\r\nSubject: ", b"\r\nSubject: Re: ", raw, count=1), "Subject"),
    (lambda raw: re.sub(rb"\r\nTo: ", b"\r\nTo: x@evil.example, ", raw, count=1), "To"),
    (lambda raw: raw.replace(b"\r\n\r\n", b"\r\nList-Id: <other.example.org>\r\n\r\n", 1),
     "an added List-Id"),
    (lambda raw: raw.replace(b"Energy", b"Enemy", 1), "the body"),
])
def test_a_changed_message_fails_verification(signed: tuple[list[bytes], bytes], change, what):  # type: ignore[no-untyped-def]
    messages, record = signed
    dnsfunc, _ = dns(record)
    raw = messages[0]
    changed = change(raw)
    assert changed != raw, what
    assert not dkim.verify(changed, dnsfunc=dnsfunc), what


def test_a_bad_key_is_a_configuration_error_before_any_mail(tmp_path: Path):
    (tmp_path / "dkim.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n"
                                       "-----END PRIVATE KEY-----\n")
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail=DKIM)
        add_subscribers(config, numbered(1))
        out = run(config, "send", "--date", SAMPLE_DATE, code=2)
    assert "[dkim] private_key" in out and "not a usable RSA key" in out
    assert sink.received == []


def test_a_missing_key_file_is_reported_with_the_key(tmp_path: Path):
    config = sample_config(tmp_path, 25, tail=DKIM)
    out = run(config, "status", code=2)
    assert "[dkim] private_key: cannot read" in out
