"""Leaving the list: the links in the mail as sent, driven over real HTTP, and the shell."""

from __future__ import annotations

import json
import re
import sqlite3
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from click.testing import CliRunner
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config
from test_subscribe import served
from web import one_click, request, serving

from digest.cli import cli
from digest.config import load_config
from digest.deliver.tokens import make_token

PUBLIC = "https://news.example.org/digest/unsubscribe"


def status_of(config: Path, email: str) -> str:
    db = sqlite3.connect(config.parent / "state" / "digest.sqlite3")
    return str(db.execute("SELECT status FROM subscribers WHERE email = ?", (email,))
               .fetchone()[0])


def links(raw: bytes) -> tuple[str, str]:
    """The https one-click URL in List-Unsubscribe, as a path for the local server."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    https = re.findall(r"<(https://[^>]*)>", str(message["List-Unsubscribe"]))
    assert len(https) == 1
    url = https[0]
    assert url.startswith(PUBLIC + "?token=")
    parts = urlsplit(url)
    return "/unsubscribe?" + parts.query, url


@pytest.fixture
def mailed(tmp_path: Path) -> tuple[Path, Sink]:
    """Three subscribers who received the sample edition."""
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(3))
        run(config, "send", "--date", SAMPLE_DATE)
    return config, sink


def test_one_click_post_from_the_header_unsubscribes_with_200_and_no_redirect(
        mailed: tuple[Path, Sink]):
    config, sink = mailed
    [raw] = sink.raw_for("reader00001@example.org")
    target, url = links(raw)
    body = BytesParser(policy=policy.default).parsebytes(raw)
    html = body.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert url.replace("&", "&amp;") in html  # the same link is visible in the body
    with serving(load_config(config)) as base:
        reply = one_click(base, target)
        assert reply.status == 200
        assert "location" not in reply.headers and "set-cookie" not in reply.headers
        assert "You are unsubscribed" in reply.body
        assert status_of(config, "reader00001@example.org") == "unsubscribed"
        again = one_click(base, target)  # a provider may retry: still fine
        assert again.status == 200
    assert status_of(config, "reader00000@example.org") == "active"


def test_get_only_shows_a_confirmation_whose_button_unsubscribes(mailed: tuple[Path, Sink]):
    config, sink = mailed
    [raw] = sink.raw_for("reader00002@example.org")
    target, _ = links(raw)
    with serving(load_config(config)) as base:
        page = request(base, "GET", target)
        assert page.status == 200
        assert status_of(config, "reader00002@example.org") == "active"  # a GET changes nothing
        doc = lxml.html.fromstring(page.body)
        [form] = doc.xpath("//form")
        assert form.get("method") == "post" and form.get("action") is None  # posts to itself
        assert doc.xpath("//form//button[@type='submit']")
        fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
        assert "reader00002@example.org" in page.body
        # What a browser sends for that form: the page's own URL, the fields as a form body.
        form_body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
        done = request(base, "POST", target, form_body,
                       {"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status == 200 and "You are unsubscribed" in done.body
        assert status_of(config, "reader00002@example.org") == "unsubscribed"
        # The token in the form body alone is enough too.
        [other] = sink.raw_for("reader00000@example.org")
        token = links(other)[0].split("token=")[1]
        alone = request(base, "POST", "/unsubscribe", f"token={token}".encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})
        assert alone.status == 200
        assert status_of(config, "reader00000@example.org") == "unsubscribed"


@pytest.mark.parametrize("token", [
    "", "abc", "a.b.c", "AQ.AAAAAAAAAAAAAAAAAAAAAA", "%00", "Ag." + "x" * 22,
])
def test_forged_or_malformed_tokens_are_refused_and_change_nothing(
        mailed: tuple[Path, Sink], token: str):
    config, _ = mailed
    with serving(load_config(config)) as base:
        for method in ("GET", "POST"):
            reply = request(base, method, f"/unsubscribe?token={token}", b"",
                            {"Content-Type": "application/x-www-form-urlencoded"})
            assert reply.status == 400, (method, reply)
            assert "not valid" in reply.body
    for address, _, _ in numbered(3):
        assert status_of(config, address) == "active"


def test_a_token_signed_with_another_secret_is_refused(mailed: tuple[Path, Sink]):
    config, sink = mailed
    [raw] = sink.raw_for("reader00000@example.org")
    target, _ = links(raw)
    subscriber_id = 1
    forged = make_token(b"not the secret", subscriber_id)
    with serving(load_config(config)) as base:
        assert one_click(base, f"/unsubscribe?token={forged}").status == 400
        # The real token differs from the forged one only in its signature.
        assert target.split("=")[1].split(".")[0] == forged.split(".")[0]
    assert status_of(config, "reader00000@example.org") == "active"


def test_unsubscribed_addresses_are_not_mailed_even_for_an_unfinished_edition(
        tmp_path: Path):
    sink = Sink(rcpt={"reader00001@example.org": ["451 4.3.0 try later"]})
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(3))
        run(config, "send", "--date", SAMPLE_DATE, code=1)
        status = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
        [edition] = json.loads(status.stdout)["editions"]
        assert (edition["sent"], edition["deferred"]) == (2, 1)
        token = make_token(_secret(config), 2)  # reader00001 is the second subscriber
        with serving(load_config(config)) as base:
            assert one_click(base, f"/unsubscribe?token={token}").status == 200
        sink.rcpt = {}
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "sent 0, deferred 0, failed 0" in out
    assert "reader00001@example.org" not in sink.recipients()
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    assert db.execute("SELECT completed_at FROM editions").fetchone()[0] is not None


def _secret(config: Path) -> bytes:
    db = sqlite3.connect(config.parent / "state" / "digest.sqlite3")
    return bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0])


def test_digest_secret_from_the_environment_signs_the_links(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_SECRET", "from the environment")
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(1))
        run(config, "send", "--date", SAMPLE_DATE)
    [raw] = sink.raw_for("reader00000@example.org")
    target, _ = links(raw)
    assert target.endswith(make_token(b"from the environment", 1))


def test_unsubscribe_from_the_shell(mailed: tuple[Path, Sink]):
    config, _ = mailed
    out = run(config, "unsubscribe", "reader00000@example.org")
    assert "reader00000@example.org: unsubscribed" in out
    assert status_of(config, "reader00000@example.org") == "unsubscribed"
    out = run(config, "unsubscribe", "nobody@example.org", code=1)
    assert "no such subscriber" in out


def test_without_an_https_endpoint_the_mailto_form_is_sent_and_a_warning_given(
        tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        text = config.read_text()
        config.write_text(text.replace(f'unsubscribe_url = "{PUBLIC}"\n', ""))
        add_subscribers(config, numbered(1))
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "unsubscribe_url is not set" in out
    [raw] = sink.raw_for("reader00000@example.org")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert re.fullmatch(r"<mailto:digest@news\.example\.org\?subject=unsubscribe%20[^>]+>",
                        str(message["List-Unsubscribe"]))
    assert message["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize(("language", "asked", "done", "invalid"), [
    ("ru", "Отписаться от", "Вы отписались", "недействительна"),
    ("az", "abunəliyindən çıxılsın", "Abunəlikdən çıxdınız", "etibarlı deyil"),
])
def test_the_unsubscribe_page_is_in_the_digest_language_with_its_words(
        tmp_path: Path, language: str, asked: str, done: str, invalid: str):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail='[words]\nunsubscribe = "Leave now"')
        config.write_text(config.read_text(encoding="utf-8").replace(
            'language = "en"', f'language = "{language}"'), encoding="utf-8")
        add_subscribers(config, numbered(1))
        run(config, "send", "--date", SAMPLE_DATE)
    [raw] = sink.raw_for("reader00000@example.org")
    target, _ = links(raw)
    with served(config) as base:  # the CLI's garbage collected first (see test_subscribe)
        page = request(base, "GET", target)
        assert page.status == 200 and f'lang="{language}"' in page.body
        assert asked in page.body and "Leave now" in page.body  # [words] overrides it
        assert "Unsubscribe from" not in page.body  # no English left
        left = one_click(base, target)
        assert left.status == 200 and done in left.body
        bad = request(base, "GET", "/unsubscribe?token=abc")
        assert bad.status == 400 and invalid in bad.body and "not valid" not in bad.body
    assert status_of(config, "reader00000@example.org") == "unsubscribed"
