"""digest/text.py: the one reading of an <img>'s size, the one way to shorten text, and what
XML cannot carry."""

from __future__ import annotations

from digest.render.context import image_size
from digest.text import img_tags, shorten, xml_safe


def test_img_sizes_are_read_one_way_for_sources_and_render():
    fragment = ('<p><img src="https://x.example/a.jpg?w=1&amp;h=2" width="600" '
                "height='400'><img src=https://x.example/b.png width=\"300px\" height=200>"
                '<img alt="no source" width="5" height="5"><img src="https://x.example/c.gif">')
    assert img_tags(fragment) == [("https://x.example/a.jpg?w=1&h=2", 600, 400),
                                  ("https://x.example/b.png", 300, 200),
                                  ("https://x.example/c.gif", None, None)]
    assert image_size("https://x.example/a.jpg?w=1&h=2", fragment) == (600, 400)
    assert image_size("https://x.example/b.png", fragment) == (300, 200)
    assert image_size("https://x.example/c.gif", fragment) is None
    assert image_size("https://x.example/elsewhere.jpg", fragment) is None


def test_shorten_cuts_at_words_with_one_ellipsis_never_after_a_comma():
    assert shorten("one two three", 3) == "one two three"
    assert shorten("one  two\nthree", 5) == "one two three"
    assert shorten("one two, three four", 2) == "one two…"
    assert shorten("one two… three", 2) == "one two…"
    assert shorten("anything", 0) == ""


def test_xml_safe_removes_only_what_xml_forbids():
    kept = "Tab\there, line\nbreak\r, «quotes» – dash, 𝄞, U+FDD0 \ufdd0, nbsp\xa0."
    assert xml_safe(kept) == kept
    assert xml_safe("Plain printable text & <tags>") == "Plain printable text & <tags>"
    assert xml_safe("a\x00b\x08c\x0bd\x1fe\ufffef\uffffg\ud800h") == "abcdefgh"
