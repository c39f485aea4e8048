"""Bytes -> text for feed documents whose declared encoding may be missing or wrong.

Rules, in order: a byte-order mark; a declared UTF-16/32 (they cannot be
told apart from their bytes otherwise); valid UTF-8 (Cyrillic windows-1251 or
Latin text is practically never valid UTF-8, so a document that is valid
UTF-8 is UTF-8 whatever it declares); the HTTP charset, then the XML
declaration, when the bytes decode in it; else charset-normalizer's guess.
Latin-1 and ASCII labels mean windows-1252, as in browsers (the WHATWG rule).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from digest.text import C0_BYTES

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
WIDE = ("utf-16", "utf-32", "utf_16", "utf_32", "ucs-2", "ucs-4")
LATIN_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii",
                "iso_8859-1", "cp819", "ibm819", "windows-1252", "cp1252"}
CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# The declaration is read from the first bytes as ASCII; UTF-16 ones are handled by BOM/label.
XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)[\"']")
TEXT_DECLARATION = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[\w.:-]+\2")
# XML 1.0 forbids C0 controls but tab, LF, CR, and U+FFFE/U+FFFF (EF BF BE/BF in UTF-8).
# Parsers in recover mode mangle the markup around them, so they (C0_BYTES) go before parsing.
NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")
GUESS_BYTES = 256 * 1024  # enough text to guess from; guessing all of a huge file is slow


def _codec(label: str | None) -> str | None:
    """The Python codec for an encoding label, or None if unknown."""
    if not label:
        return None
    label = label.strip().lower()
    if label in LATIN_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared(body: bytes, content_type: str | None) -> tuple[str | None, str | None]:
    """The codecs named by the HTTP Content-Type and by the XML declaration."""
    http = None
    if content_type:
        found = CHARSET.search(content_type)
        http = _codec(found.group(1)) if found else None
    found_xml = XML_DECLARATION.match(body[:512])
    xml = _codec(found_xml.group(1).decode("ascii")) if found_xml else None
    return http, xml


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The document as text and the codec it was read with."""
    for bom, name in BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, "replace"), name
    labels = [c for c in declared(body, content_type) if c]
    for name in labels:
        if name.startswith(WIDE):
            try:
                return body.decode(name), name
            except UnicodeDecodeError:
                pass
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for name in labels:
        if name.startswith(WIDE) or name == "utf-8":
            continue
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    best = charset_normalizer.from_bytes(body[:GUESS_BYTES]).best()
    if best is not None and best.encoding:
        name = _codec(best.encoding) or "utf-8"
        return body.decode(name, "replace"), name
    return body.decode("utf-8", "replace"), "utf-8"


def as_utf8_xml(body: bytes, content_type: str | None = None) -> tuple[bytes, str]:
    """The document re-encoded as UTF-8, its XML declaration saying so; and the source codec.

    Parsers then never guess: what they read is what `decode` decided.
    """
    text, name = decode(body, content_type)
    if name == "utf-8" and not body.startswith(codecs.BOM_UTF8):
        found = XML_DECLARATION.match(body[:512])
        if found is None or _codec(found.group(1).decode("ascii")) == "utf-8":
            return _without_forbidden(body), name  # already UTF-8: no decode-encode copy
    text = TEXT_DECLARATION.sub(r"\1\2utf-8\2", text, count=1)
    return _without_forbidden(text.encode("utf-8", "replace")), name


C0_SINGLES = tuple(bytes([byte]) for byte in C0_BYTES)


def _without_forbidden(utf8: bytes) -> bytes:
    # A one-byte `in` (memchr) runs at memory speed, bytes.translate a good deal slower
    # (it copies a byte at a time) and a regex or `in` with a longer needle slower still:
    # look for each control byte, and for the lead byte of U+FFFE/U+FFFF, first.
    cleaned = utf8.translate(None, C0_BYTES) if any(c in utf8 for c in C0_SINGLES) else utf8
    if b"\xef" in cleaned:
        for sequence in NONCHARACTERS:
            if sequence in cleaned:
                cleaned = cleaned.replace(sequence, b"")
    return cleaned
