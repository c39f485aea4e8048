"""sources/charset.py: every document reaches the parser as UTF-8 that says so."""

from __future__ import annotations

import codecs

from digest.sources.charset import as_utf8_xml, decode

LATIN = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><title>Caf\xe9</title></rss>'


def test_a_declared_single_byte_encoding_is_read_and_the_declaration_rewritten():
    xml, codec = as_utf8_xml(LATIN.encode("latin-1"))
    assert codec == "cp1252"  # what browsers read for ISO-8859-1
    assert xml == LATIN.replace("ISO-8859-1", "utf-8").encode("utf-8")


def test_the_bom_wins_over_the_header_and_utf8_wins_over_a_wrong_label():
    body = codecs.BOM_UTF16_LE + "<rss>Bakı</rss>".encode("utf-16-le")
    assert decode(body, "application/rss+xml; charset=iso-8859-1") == ("<rss>Bakı</rss>",
                                                                       "utf-16-le")
    utf8 = "<rss>Bakı</rss>".encode()
    assert decode(utf8, "text/xml; charset=iso-8859-1") == ("<rss>Bakı</rss>", "utf-8")


def test_controls_xml_forbids_are_dropped_before_parsing():
    xml, _ = as_utf8_xml(b"<rss><title>A\x00B\x1bC\tD</title></rss>")
    assert xml == b"<rss><title>ABC\tD</title></rss>"
