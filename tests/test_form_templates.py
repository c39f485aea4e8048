"""The form pages of `digest serve` share one page head (templates/form_page.html), and an
editor's own templates still work: a copy made by an older `digest init` (a whole page,
no `extends`) renders as it is, and a page of their own that extends the base finds it
among the defaults when their folder has none."""

from __future__ import annotations

import shutil
from pathlib import Path

import lxml.html
from newsroom import sample_config
from test_subscribe import served
from web import request

from digest.render.templates import default_templates

PAGES = ("/subscribe", "/manage?token=forged", "/unsubscribe?token=forged",
         "/confirm?token=forged")

# templates/signup.html as `digest init` copied it before the pages shared a base: a
# whole page with its own head, which an editor may have changed and kept.
OLD_SIGNUP = """<!doctype html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<title>{{ heading }} · {{ title }} (our own page)</title>
<style>body { font-family: serif; }</style>
</head>
<body>
<main>
  <h1>{{ heading }}</h1>
{% if state == "form" %}
  <form method="post">
    <input name="email" type="email" required>
{% for category in categories %}
    <label><input type="checkbox" name="category" value="{{ category.slug }}">
      {{ category.title }}</label>
{% endfor %}
    <input name="website" type="text">
    <button type="submit">{{ words("subscribe_button") }}</button>
  </form>
{% else %}
  <p>{{ words("check_inbox_text", title=title) }}</p>
{% endif %}
</main>
</body>
</html>
"""


def with_templates(tmp_path: Path, files: dict[str, str]) -> Path:
    config = sample_config(tmp_path, 2525)
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'output = "public"', 'output = "public"\ntemplates = "templates"'), encoding="utf-8")
    return config


def page_heads(base: str) -> dict[str, str]:
    """Each form page's <head>, as served."""
    heads = {}
    for target in PAGES:
        reply = request(base, "GET", target)
        assert reply.status in (200, 400), (target, reply.status)
        heads[target] = lxml.html.tostring(lxml.html.fromstring(reply.body).head,
                                           encoding="unicode")
    return heads


def test_every_form_page_has_the_one_head_of_the_base_template(tmp_path: Path):
    config = sample_config(tmp_path, 2525)
    (config.parent / "state").mkdir()
    from newsroom import run

    run(config, "subscribers", "add", "someone@example.org")  # makes the state file
    with served(config) as base:
        heads = page_heads(base)
    styles = {head.split("<style>")[1].split("</style>")[0] for head in heads.values()}
    assert len(styles) == 1  # the same rules on every page
    for target, head in heads.items():
        assert 'name="viewport"' in head and 'name="robots" content="noindex"' in head, target
    for name in ("signup.html", "manage.html", "unsubscribe.html"):
        text = (default_templates() / name).read_text(encoding="utf-8")
        assert text.startswith('{% extends "form_page.html" %}') and "<style>" not in text


def test_an_old_whole_page_copy_still_renders_and_a_new_page_finds_the_base(tmp_path: Path):
    from newsroom import run

    manage = (default_templates() / "manage.html").read_text(encoding="utf-8").replace(
        "{% block content %}", "{% block content %}\n  <p>Our own manage page.</p>")
    config = with_templates(tmp_path, {"signup.html": OLD_SIGNUP, "manage.html": manage})
    assert not (tmp_path / "templates" / "form_page.html").exists()
    run(config, "subscribers", "add", "someone@example.org")
    with served(config) as base:
        form = request(base, "GET", "/subscribe")
        assert form.status == 200 and "(our own page)" in form.body
        assert "font-family: serif" in form.body and "max-width: 520px" not in form.body
        sent = request(base, "POST", "/subscribe", b"email=new%40example.org",
                       {"Content-Type": "application/x-www-form-urlencoded"})
        assert sent.status == 200 and "(our own page)" in sent.body
        own = request(base, "GET", "/manage?token=forged")
        # the editor's page, inside the default base found in the package's templates
        assert own.status == 400 and "Our own manage page." in own.body
        assert "max-width: 520px" in own.body


def test_an_editors_base_template_changes_every_form_page(tmp_path: Path):
    from newsroom import run

    base_page = (default_templates() / "form_page.html").read_text(encoding="utf-8").replace(
        "</style>", "  .ours { color: teal; }\n</style>")
    config = with_templates(tmp_path, {"form_page.html": base_page})
    run(config, "subscribers", "add", "someone@example.org")
    with served(config) as base:
        heads = page_heads(base)
    assert all(".ours { color: teal; }" in head for head in heads.values())


def test_init_copies_the_base_template_with_the_pages(tmp_path: Path):
    from digest.scaffold import copy_templates

    written, _ = copy_templates(tmp_path / "templates")
    names = {p.name for p in written}
    assert {"form_page.html", "signup.html", "manage.html", "unsubscribe.html"} <= names
    shutil.rmtree(tmp_path / "templates")
