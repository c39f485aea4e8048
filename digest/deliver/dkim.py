"""DKIM signatures (RFC 6376), made with OpenSSL through `cryptography`, over the bytes sent.

Each key is loaded once per run; one message costs an RSA-2048 signature
(about 0.25 ms) and, with a second key, an Ed25519 one (RFC 8463, about
0.03 ms). Both use relaxed/relaxed canonicalisation and SHA-256, so one body
hash serves every signature.

The body hash is the expensive part of a 30 KB message. Relaxed body
canonicalisation works line by line, so a message template canonicalises its
shared lines once (`BodyHasher`) and hashes per subscriber only the personal
lines and what follows them; `body_hash` does the whole body for any other
message (test copies).

Signed headers: From, Subject, List-Id, List-Unsubscribe, List-Unsubscribe-Post
and Feedback-ID are named once more than they occur ("oversigned"), so a second
such header added in transit breaks the signature, and one the message lacks
cannot be added either. To, Date, Message-ID, MIME-Version, Content-Type and
Reply-To are named as often as they occur (at least once, which signs the
absence of a Reply-To).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from digest.clock import utcnow
from digest.config import DkimConfig
from digest.deliver.transport import DotSafe
from digest.errors import ConfigError

if TYPE_CHECKING:
    from hashlib import _Hash

OVERSIGNED = (b"from", b"subject", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
              b"feedback-id")
SIGNED = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
          b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id", b"mime-version",
          b"content-type")

MIN_RSA_BITS = 1024  # RFC 8301 §3.2: verifiers reject shorter RSA keys
FOLD = 76  # columns of a DKIM-Signature line

_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")


def canonical_lines(chunk: bytes) -> bytes:
    """Relaxed body canonicalisation (RFC 6376 §3.4.4) of whole lines, each ending in CRLF.

    Runs of spaces and tabs become one space; whitespace at the end of a line goes.
    (Removing empty lines at the end of the body is up to the caller.)
    """
    if b"\t" not in chunk and b"  " not in chunk and b" \r\n" not in chunk:
        return chunk  # already canonical (most lines): no regex
    return _WSP.sub(b" ", chunk).replace(b" \r\n", b"\r\n")


def _without_trailing_empty_lines(canonical: bytes) -> bytes:
    while canonical.endswith(b"\r\n\r\n"):
        canonical = canonical[:-2]
    return b"" if canonical == b"\r\n" else canonical


def body_hash(body: bytes) -> bytes:
    """The SHA-256 hash of a whole body, relaxed (CRLF line ends expected)."""
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return hashlib.sha256(_without_trailing_empty_lines(canonical_lines(body))).digest()


@dataclass(frozen=True)
class BodyHasher:
    """The body hash of a body made of shared and personal chunks of whole CRLF lines.

    The shared chunks are canonicalised once, and the hash of those before the
    first personal chunk is computed once; `digest` then hashes the personal
    chunks, in order, with the shared ones after them. The last chunk must be
    shared (our bodies end with the closing MIME boundary).
    """

    start: _Hash
    rest: tuple[bytes | None, ...]  # canonical shared chunks; None where a personal one goes

    @classmethod
    def of(cls, chunks: Sequence[bytes | None]) -> BodyHasher:
        """`chunks`: the shared chunks' bytes, None for each personal chunk."""
        if not chunks or chunks[-1] is None:
            raise ValueError("the body must end with a shared chunk")
        canonical = [None if c is None else canonical_lines(c) for c in chunks]
        last = canonical[-1]
        assert last is not None
        canonical[-1] = _without_trailing_empty_lines(last)
        start = hashlib.sha256()
        n = 0
        while n < len(canonical) and canonical[n] is not None:
            start.update(canonical[n] or b"")
            n += 1
        return cls(start, tuple(canonical[n:]))

    def digest(self, personal: Iterable[bytes]) -> bytes:
        """The body hash, given the personal chunks' bytes in order."""
        h = self.start.copy()
        filled = iter(personal)
        for chunk in self.rest:
            h.update(canonical_lines(next(filled)) if chunk is None else chunk)
        return h.digest()


def _header_fields(head: bytes) -> dict[bytes, list[bytes]]:
    """The signed header fields relaxed-canonicalised (RFC 6376 §3.4.2), by name, in order.

    `head`: whole header fields, each ending in CRLF. Folds (CRLF before a space
    or tab) are unfolded first, then each line is one field.
    """
    fields: dict[bytes, list[bytes]] = {}
    if b"\r\n " in head or b"\r\n\t" in head:
        head = _FOLD.sub(b"", head)
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        key = name.rstrip(b" \t").lower()
        if not colon or key not in SIGNED:
            continue
        value = value.strip(b" \t")
        if b"\t" in value or b"  " in value:
            value = _WSP.sub(b" ", value)
        fields.setdefault(key, []).append(key + b":" + value + b"\r\n")
    return fields


@functools.lru_cache(maxsize=64)
def _shared_fields(head: bytes) -> dict[bytes, list[bytes]]:
    """_header_fields of the header fields many messages share (do not change the result)."""
    return _header_fields(head)


@functools.lru_cache(maxsize=32)
def _folded_names(counts: tuple[int, ...]) -> str:
    """The h= list for a header holding counts[i] fields named SIGNED[i], broken into
    lines at colons (FWS may follow a colon)."""
    names: list[bytes] = []
    for name, count in zip(SIGNED, counts, strict=True):
        names += [name] * (count + 1 if name in OVERSIGNED else max(count, 1))
    lines = [" h="]
    for n, name in enumerate(names):
        text = name.decode() + (":" if n < len(names) - 1 else ";")
        if len(lines[-1]) + len(text) > FOLD:
            lines.append(" ")
        lines[-1] += text
    return "\r\n".join(lines)


@dataclass(frozen=True)
class DkimKey:
    """One signature to make: the d= domain, the s= selector, the loaded key."""

    algorithm: str
    domain: str
    selector: str
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        # RFC 8463 §3: Ed25519 (PureEdDSA) signs the SHA-256 hash of the header data.
        return self.key.sign(hashlib.sha256(data).digest())


def load_key(settings: DkimConfig, config_path: str) -> DkimKey:
    """Read and parse a private key once; a bad one is a configuration error."""
    path = settings.private_key
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(config_path, [
            f"[dkim] private_key: cannot read {path}: {exc.strerror or exc}"]) from None
    make = ("`openssl genrsa -out dkim.pem 2048`" if settings.algorithm == "rsa-sha256"
            else "`openssl genpkey -algorithm ed25519 -out dkim-ed25519.pem`")
    kind = "RSA" if settings.algorithm == "rsa-sha256" else "Ed25519"
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        reason = "it needs a password" if isinstance(exc, TypeError) else \
            "OpenSSL cannot read it"
        raise ConfigError(config_path, [
            f"[dkim] private_key: {path} is not a usable {kind} key ({reason}); "
            f"make one with {make}"]) from None
    if settings.algorithm == "rsa-sha256":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(config_path, [
                f"[dkim] private_key: {path} is not an RSA key, which algorithm = "
                f'"rsa-sha256" needs; make one with {make}'])
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(config_path, [
                f"[dkim] private_key: {path} is a {key.key_size}-bit RSA key; receivers "
                f"ignore signatures from keys under {MIN_RSA_BITS} bits (use 2048): "
                f"make one with {make}"])
        return DkimKey(settings.algorithm, settings.domain, settings.selector, key)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(config_path, [
            f"[dkim] private_key: {path} is not an Ed25519 key, which algorithm = "
            f'"ed25519-sha256" needs; make one with {make}'])
    return DkimKey(settings.algorithm, settings.domain, settings.selector, key)


@dataclass(frozen=True)
class DkimSigner:
    """Signs messages with every configured key (RSA, and Ed25519 beside it when set)."""

    keys: tuple[DkimKey, ...]

    @classmethod
    def load(cls, settings: Sequence[DkimConfig], config_path: str) -> DkimSigner:
        """Load every key once, so a bad one stops the run before any mail."""
        return cls(tuple(load_key(s, config_path) for s in settings))

    def sign(self, message: bytes, body_digest: bytes | None = None,
             shared_head: bytes = b"") -> bytes:
        """The message with a DKIM-Signature header per key in front (the body must be 7-bit).

        `body_digest` is the body hash when the caller knows it (`BodyHasher`);
        without it the body is hashed here. `shared_head`: header fields the
        message starts with and many messages share (canonicalised once).
        """
        end = message.find(b"\r\n\r\n")
        if end < 0:
            raise ValueError("a message needs a blank line after its header")
        if body_digest is None:
            body_digest = body_hash(message[end + 4:])
        signed_message = self.signatures(message[:end + 2], body_digest, shared_head) + message
        # The signature's folded lines start with whitespace: still free of leading dots.
        return DotSafe(signed_message) if isinstance(message, DotSafe) else signed_message

    def signatures(self, head: bytes, body_digest: bytes, shared_head: bytes = b"") -> bytes:
        """The DKIM-Signature header fields, one per key, for a message whose header fields
        are `head` (each ending in CRLF) and whose body hashes to `body_digest`."""
        if shared_head and head.startswith(shared_head):
            fields = {name: [*found] for name, found in _shared_fields(shared_head).items()}
            for name, found in _header_fields(head[len(shared_head):]).items():
                fields.setdefault(name, []).extend(found)
        else:
            fields = _header_fields(head)
        signed: list[bytes] = []
        for name in SIGNED:
            present = fields.get(name)
            if present:
                signed += reversed(present)  # instances are taken from the bottom up (§5.4.2)
        header_data = b"".join(signed)
        tags = (f"; t={int(utcnow().timestamp())};\r\n"
                f"{_folded_names(tuple(len(fields.get(name, ())) for name in SIGNED))}\r\n"
                f" bh={base64.b64encode(body_digest).decode()};\r\n b=")
        signatures: list[bytes] = []
        for key in self.keys:
            value = (f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={key.domain};\r\n"
                     f" s={key.selector}{tags}")
            # Relaxed canonical form of this header with an empty b=: our folds are CRLF
            # plus one space, and no other run of whitespace is in it (RFC 6376 §3.5).
            to_sign = header_data + b"dkim-signature:" + value.replace("\r\n", "").encode()
            b = base64.b64encode(key.sign(to_sign)).decode()
            folded = "\r\n ".join([b[i:i + FOLD - 1] for i in range(0, len(b), FOLD - 1)])
            signatures.append(f"DKIM-Signature: {value}\r\n {folded}\r\n".encode())
        return b"".join(signatures)
