"""render/context.py: what an article's picture becomes in the email, decided from data."""

from __future__ import annotations

from digest.render.context import THUMB_WIDTH, Thumbnail, size_in_name, thumbnail

PHOTO = "https://news.example.org/wp-content/uploads/2026/03/budget.jpg"


def test_the_known_size_else_the_html_else_the_file_name_gives_the_thumbnail_its_height():
    assert thumbnail(PHOTO, "", (1200, 800)) == Thumbnail(PHOTO, THUMB_WIDTH, 80)
    html = f'<p><img src="{PHOTO}" width="600" height="600"></p>'
    assert thumbnail(PHOTO, html) == Thumbnail(PHOTO, THUMB_WIDTH, THUMB_WIDTH)
    sized = "https://news.example.org/wp-content/uploads/2026/03/budget-300x200.jpg"
    assert size_in_name(sized) == (300, 200)
    assert thumbnail(sized, "") == Thumbnail(sized, THUMB_WIDTH, 80)


def test_no_thumbnail_without_a_size_https_a_type_every_client_shows_or_a_sane_shape():
    assert thumbnail(PHOTO, "") is None  # no size anywhere: the layout would jump
    assert thumbnail(PHOTO.replace("https:", "http:"), "", (1200, 800)) is None
    assert thumbnail(PHOTO.replace(".jpg", ".webp"), "", (1200, 800)) is None
    assert thumbnail(PHOTO, "", (1200, 100)) is None  # a banner
    assert thumbnail(PHOTO, "", (100, 1200)) is None  # a tall strip
    assert thumbnail(None, "") is None
