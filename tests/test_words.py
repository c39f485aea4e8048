"""Reading time: the words of an article's HTML, counted without an HTML parser, are the
words of its text as `str.split()` gives them, less scripts and embeds."""

from __future__ import annotations

from digest.sources.normalise import word_count


def test_words_are_the_text_between_tags():
    assert word_count("<p>one two</p><p>three<br>four</p>") == 4
    assert word_count('<a href="https://x.example/a b c">five</a>six') == 2  # a tag parts
    assert word_count("<p>one</p>\n\t<p>two</p>") == 2
    assert word_count("") == 0
    assert word_count("   <br/>  ") == 0


def test_elements_without_reading_matter_are_not_counted():
    fragment = ('<p>one</p><SCRIPT type="x">var a = b;</script><p>two</p>'
                '<iframe src="v">fallback text</iframe><style>p { x: y }</style>three')
    assert word_count(fragment) == 3


def test_every_kind_of_space_separates_words():
    # No-break, em and ideographic spaces, and the ASCII separators str.split() knows.
    text = "a\xa0b\u2003c\u3000d\x1ce\x85f g\u202fh"
    assert word_count(text) == len(text.split()) == 8
    # Other characters, however written, are part of words.
    assert word_count("naïve café—über 東京 𝄞x") == 4
    assert word_count("İstanbul <script>x</script> İzmir") == 2
