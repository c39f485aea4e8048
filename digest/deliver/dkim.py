"""DKIM signatures (dkimpy) over the exact bytes that go on the wire.

The signed headers are named explicitly: dkimpy's default list leaves out
List-Unsubscribe-Post, and RFC 8058 §4 wants both list headers covered so a
relay cannot turn one-click unsubscribe on or off. Naming a header the message
lacks (Reply-To, List-Id, Feedback-ID when not configured) signs its absence,
so nobody can add it later without breaking the signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import dkim

from digest.config import DkimConfig
from digest.deliver.transport import DotSafe
from digest.errors import ConfigError

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe",
    b"list-unsubscribe-post", b"mime-version", b"content-type", b"reply-to", b"list-id",
    b"feedback-id",
)


@dataclass(frozen=True)
class DkimSigner:
    domain: bytes
    selector: bytes
    private_key: bytes  # PEM

    @classmethod
    def load(cls, settings: DkimConfig, config_path: str) -> DkimSigner:
        """Read the key and sign a sample once, so a bad key stops the run before any mail."""
        try:
            key = settings.private_key.read_bytes()
        except OSError as exc:
            raise ConfigError(config_path, [
                f"[dkim] private_key: cannot read {settings.private_key}: "
                f"{exc.strerror or exc}"]) from None
        signer = cls(settings.domain.encode(), settings.selector.encode(), key)
        try:
            signer.sign(b"From: a@example.org\r\nSubject: test\r\n\r\ntest\r\n")
        except (dkim.DKIMException, ValueError, IndexError) as exc:
            raise ConfigError(config_path, [
                f"[dkim] private_key: {settings.private_key} is not a usable RSA key "
                f"({exc}); make one with `openssl genrsa -out dkim.pem 2048`"]) from None
        return signer

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front (the body must be 7-bit)."""
        header = dkim.sign(message, self.selector, self.domain, self.private_key,
                           canonicalize=(b"relaxed", b"relaxed"),
                           include_headers=list(SIGNED_HEADERS))
        signed = bytes(header) + message
        # The signature's folded lines start with whitespace: still free of leading dots.
        return DotSafe(signed) if isinstance(message, DotSafe) else signed
