"""DKIM: messages as received verify offline against the published key; changes break them."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
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


# -- RSA and Ed25519 side by side, oversigning, the body hash per template --------------

TWO_KEYS = """
[[dkim]]
domain = "news.example.org"
selector = "daily"
private_key = "dkim.pem"

[[dkim]]
domain = "news.example.org"
selector = "daily-ed"
private_key = "dkim-ed25519.pem"
algorithm = "ed25519-sha256"
"""

LIST_HEADERS = ('list_id = "Aze Daily <daily.news.example.org>"\n'
                'feedback_id = "daily:digest:news-example"\n')


def make_ed25519_key(folder: Path) -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    (folder / "dkim-ed25519.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)


def two_key_dns(rsa_record: bytes, ed_record: bytes):  # type: ignore[no-untyped-def]
    records = {b"daily._domainkey.news.example.org.": rsa_record,
               b"daily-ed._domainkey.news.example.org.": ed_record}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)
    return dnsfunc


def verify_all(raw: bytes, dnsfunc) -> list[bool]:  # type: ignore[no-untyped-def]
    """dkimpy's verdict on each DKIM-Signature of the message, top first."""
    count = len(re.findall(rb"^DKIM-Signature:", raw.split(b"\r\n\r\n")[0], re.M))
    verdicts = []
    for n in range(count):
        try:
            verdicts.append(bool(dkim.DKIM(raw).verify(idx=n, dnsfunc=dnsfunc)))
        except dkim.DKIMException:  # dkimpy raises on a body hash mismatch
            verdicts.append(False)
    return verdicts


@pytest.fixture
def signed_twice(tmp_path: Path):  # type: ignore[no-untyped-def]
    dnsfunc = two_key_dns(make_key(tmp_path), make_ed25519_key(tmp_path))
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, email_extra=LIST_HEADERS, tail=TWO_KEYS)
        add_subscribers(config, [*numbered(2), ("gunel@example.org", "Günel Həsənova", "")])
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "sent 3" in out
    return [raw for _, _, raw in sink.received], dnsfunc


def signature_tags(raw: bytes) -> list[dict[str, str]]:
    header = raw.split(b"\r\n\r\n")[0].decode()
    found = re.findall(r"^DKIM-Signature: (.*?)\r\n(?=\S)", header, re.S | re.M)
    return [dict(f.strip().split("=", 1) for f in re.sub(r"\s+", "", s).split(";")
                 if f.strip()) for s in found]


def test_rsa_and_ed25519_signatures_both_verify(signed_twice):  # type: ignore[no-untyped-def]
    messages, dnsfunc = signed_twice
    for raw in messages:
        tags = signature_tags(raw)
        assert sorted(t["a"] for t in tags) == ["ed25519-sha256", "rsa-sha256"]
        assert verify_all(raw, dnsfunc) == [True, True]
        signatures = re.findall(rb"^DKIM-Signature:.*?\r\n(?=\S)", raw, re.S | re.M)
        assert len(signatures) == 2
        assert all(len(line) <= 78 for s in signatures for line in s.split(b"\r\n"))


@pytest.mark.parametrize("header", ["From", "Subject", "List-Id", "List-Unsubscribe",
                                    "List-Unsubscribe-Post", "Feedback-ID"])
@pytest.mark.parametrize("where", ["top", "bottom"])
def test_a_second_copy_of_an_oversigned_header_fails_every_signature(  # type: ignore[no-untyped-def]
        signed_twice, header, where):
    messages, dnsfunc = signed_twice
    raw = messages[0]
    assert re.search(rb"^" + header.encode() + rb":", raw, re.M | re.I), header
    added = f"{header}: <added.example.net>\r\n".encode()
    if where == "top":
        changed = added + raw
    else:
        changed = raw.replace(b"\r\n\r\n", b"\r\n" + added[:-2] + b"\r\n\r\n", 1)
    assert verify_all(raw, dnsfunc) == [True, True]
    assert verify_all(changed, dnsfunc) == [False, False], header


def test_every_listed_header_is_named_once_more_than_it_occurs(signed_twice):  # type: ignore[no-untyped-def]
    messages, _ = signed_twice
    raw = messages[0]
    head = raw.split(b"\r\n\r\n")[0].decode()
    for tags in signature_tags(raw):
        names = tags["h"].lower().split(":")
        for header in ("from", "subject", "list-id", "list-unsubscribe",
                       "list-unsubscribe-post", "feedback-id"):
            occurs = len(re.findall(rf"^{header}:", head, re.M | re.I))
            assert occurs == 1 and names.count(header) == 2, header


def test_changed_body_or_headers_fail_both_signatures(signed_twice):  # type: ignore[no-untyped-def]
    messages, dnsfunc = signed_twice
    raw = messages[1]
    for changed in (raw.replace(b"Energy", b"Enemy", 1),
                    re.sub(rb"\r\nTo: ", b"\r\nTo: x@evil.example, ", raw, count=1),
                    re.sub(rb"\r\nList-Id: ", b"\r\nList-Id: x", raw, count=1)):
        assert changed != raw
        assert verify_all(changed, dnsfunc) == [False, False]


def test_the_template_body_hash_matches_relaxed_canonicalisation_of_the_whole_body():
    """Shared chunks hashed once, personal ones per message: same hash as the whole body,
    whatever whitespace the chunks hold (checked against dkimpy's canonicalisation)."""
    import hashlib
    import random

    from dkim.canonicalization import Relaxed

    from digest.deliver.dkim import BodyHasher, body_hash

    rng = random.Random(14)
    alphabet = ["a", "b", " ", "  ", "\t", " \t ", "=20", "é".encode().decode()]
    for _ in range(200):
        chunks: list[bytes | None] = []
        personal: list[bytes] = []
        for n in range(rng.randint(1, 6)):
            lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
                     for _ in range(rng.randint(1, 4))]
            data = "".join(line + "\r\n" for line in lines).encode()
            if n and rng.random() < 0.4:
                chunks.append(None)
                personal.append(data)
            else:
                chunks.append(data)
        chunks.append(b"--end--\r\n" + b"\r\n" * rng.randint(0, 2))
        fill = iter(personal)
        body = b"".join(c if c is not None else next(fill) for c in chunks)
        expected = hashlib.sha256(Relaxed.canonicalize_body(body)).digest()
        assert BodyHasher.of(chunks).digest(personal) == expected, body
        assert body_hash(body) == expected, body


def test_header_fields_are_canonicalised_as_dkimpy_does():
    """Folded, tabbed, spaced and repeated fields: the relaxed form of every signed one,
    in order (checked against dkimpy's header canonicalisation)."""
    import random

    from dkim.canonicalization import Relaxed

    from digest.deliver.dkim import SIGNED, _header_fields

    rng = random.Random(14)
    names = ["To", "to", "SUBJECT", "From", "X-Mailer", "List-Id", "Content-Type"]
    words = ["a", "b@c.example", "=?utf-8?q?G=C3=BCnel?=", "<x>", ""]
    spaces = [" ", "  ", "\t", " \t ", "\r\n ", "\r\n\t", "\r\n  "]
    for _ in range(300):
        head = b""
        for _field in range(rng.randint(1, 6)):
            value = "".join(rng.choice(spaces) + rng.choice(words)
                            for _ in range(rng.randint(0, 4)))
            end = rng.choice(["", " ", "\t"])
            head += f"{rng.choice(names)}:{value}{end}\r\n".encode()
        parsed, _ = dkim.rfc822_parse(head + b"\r\nbody\r\n")
        expected: dict[bytes, list[bytes]] = {}
        for name, value in Relaxed.canonicalize_headers(parsed):
            if name in SIGNED:
                expected.setdefault(name, []).append(name + b":" + value)
        assert _header_fields(head) == expected, head


def test_an_ed25519_key_given_as_rsa_is_a_configuration_error(tmp_path: Path):
    make_ed25519_key(tmp_path)
    (tmp_path / "dkim.pem").write_bytes((tmp_path / "dkim-ed25519.pem").read_bytes())
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail=DKIM)
        add_subscribers(config, numbered(1))
        out = run(config, "send", "--date", SAMPLE_DATE, code=2)
    assert "[dkim] private_key" in out and "not an RSA key" in out
    assert sink.received == []


def test_one_algorithm_twice_is_a_configuration_error(tmp_path: Path):
    make_key(tmp_path)
    make_ed25519_key(tmp_path)
    config = sample_config(tmp_path, 25, tail=TWO_KEYS.replace('"ed25519-sha256"',
                                                               '"rsa-sha256"'))
    out = run(config, "status", code=2)
    assert "'rsa-sha256' is given more than once" in out


def test_an_unknown_algorithm_is_a_configuration_error(tmp_path: Path):
    make_key(tmp_path)
    config = sample_config(tmp_path, 25, tail=DKIM + 'algorithm = "rsa-sha1"\n')
    out = run(config, "status", code=2)
    assert "[dkim] algorithm" in out and "rsa-sha1" in out


def test_a_test_copy_is_signed_whole_and_verifies(tmp_path: Path):
    """`send --to` signs without a template's body hasher: the whole body is hashed."""
    dnsfunc = two_key_dns(make_key(tmp_path), make_ed25519_key(tmp_path))
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, email_extra=LIST_HEADERS, tail=TWO_KEYS)
        run(config, "fetch")
        run(config, "send", "--date", SAMPLE_DATE, "--to", "editor@example.org")
    [(_, _, raw)] = sink.received
    import email
    import email.policy

    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"].startswith(
        "[TEST]")
    assert verify_all(raw, dnsfunc) == [True, True]
