"""The manage page, driven over real HTTP against the served app: a real newsletter is
captured by a real SMTP server, its manage link followed, and the next sends checked."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from mailservers import Sink, running
from newsroom import add_subscribers, run, sample_config
from test_subscribe import PUBLIC, mails, post, row, served
from web import request

from digest.config import load_config
from digest.deliver.tokens import make_token
from digest.store import Store

FIRST, NEXT = "2026-11-24", "2026-11-25"  # the sample feeds make editions of both days
READER, PAUSER = "reader@example.org", "pauser@example.org"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Sink, str]]:
    """Two subscribers of every category, sent the first edition; the app served."""
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, [(READER, "Rea", ""), (PAUSER, "Pau", "")])
        run(config, "send", "--date", FIRST)
        with served(config) as base:
            yield config, sink, base


def manage_link(message: EmailMessage) -> str:
    """The manage link of a newsletter, as a path on the local server; the same link is
    in both parts, beside unsubscribe."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    [url] = set(re.findall(r"https://\S+/manage\?token=[\w.%-]+", text.get_content()))
    assert url.startswith(PUBLIC + "manage?token=")
    assert f'href="{url}"' in html.get_content()
    assert "/unsubscribe?token=" in text.get_content()
    return "/manage?" + urlsplit(url).query


def token_of(target: str) -> str:
    return target.removeprefix("/manage?token=")


def flat(message: EmailMessage) -> str:
    """The plain-text part with its lines joined (titles wrap at 72 columns)."""
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    return " ".join(text.get_content().split())


def titles(config: Path, date: str) -> dict[str, list[str]]:
    """The edition's article titles by category slug, as the store holds them."""
    with Store(config.parent / "state" / "digest.sqlite3") as store:
        edition = store.edition(dt.date.fromisoformat(date))
    assert edition is not None
    return {s.slug: [" ".join(a.title.split()) for a in s.articles] for s in edition.sections}


def test_categories_chosen_on_the_manage_page_shape_the_next_edition(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    [first] = mails(sink, READER)
    target = manage_link(first)

    page = request(base, "GET", target)
    assert page.status == 200 and page.headers["cache-control"] == "no-store"
    assert "set-cookie" not in page.headers and READER in page.body
    doc = lxml.html.fromstring(page.body)
    assert not doc.xpath("//script")
    boxes = doc.xpath("//input[@type='checkbox' and @name='category']")
    assert sorted(b.get("value") for b in boxes) == sorted(load_config(config).category_slugs)
    assert not [b for b in boxes if b.get("checked") is not None]  # none ticked: all
    assert doc.xpath("//input[@name='pause_until' and @type='date']")
    assert doc.xpath("//button[@name='action' and @value='unsubscribe']")

    saved = post(base, target, {"token": token_of(target), "category": ["economy"],
                                "pause_until": "", "action": "save"})
    assert saved.status == 200 and "saved" in saved.body
    assert row(config, READER)["categories"] == "economy"  # type: ignore[index]
    again = lxml.html.fromstring(request(base, "GET", target).body)
    assert again.xpath("//input[@name='category' and @checked]/@value") == ["economy"]

    run(config, "send", "--date", NEXT)
    _, second = mails(sink, READER)
    text = flat(second)
    edition = titles(config, NEXT)
    assert edition["economy"] and edition["news"]  # both sections are in the edition
    assert all(title in text for title in edition["economy"])
    assert not any(title in text for slug, shown in edition.items() if slug != "economy"
                   for title in shown)
    _, other = mails(sink, PAUSER)  # the other reader still gets every section
    assert all(title in flat(other) for title in edition["news"])


def test_a_paused_subscriber_is_skipped_and_listed_as_paused(site: tuple[Path, Sink, str]):
    config, sink, base = site
    target = manage_link(mails(sink, PAUSER)[0])
    until = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    paused = post(base, "/manage", {"token": token_of(target), "pause_until": until})
    assert paused.status == 200 and until in paused.body
    found = row(config, PAUSER)
    assert found is not None and (found["status"], found["paused_until"]) == ("paused", until)
    listed = run(config, "subscribers", "list", "--status", "paused")
    assert f"{PAUSER}\tPau\t(all)\tpaused until {until}" in listed
    assert READER not in listed
    shown = lxml.html.fromstring(request(base, "GET", target).body)
    assert shown.xpath("//input[@name='pause_until']/@value") == [until]

    run(config, "send", "--date", NEXT)
    assert len(sink.raw_for(PAUSER)) == 1  # only the edition from before the pause
    assert len(sink.raw_for(READER)) == 2

    post(base, "/manage", {"token": token_of(target), "pause_until": ""})  # resume
    assert row(config, PAUSER)["status"] == "active"  # type: ignore[index]


def test_forged_tokens_and_bad_choices_change_nothing(site: tuple[Path, Sink, str]):
    config, sink, base = site
    real = token_of(manage_link(mails(sink, READER)[0]))
    with Store(config.parent / "state" / "digest.sqlite3") as store:
        secret = store.secret()
    found = row(config, READER)
    assert found is not None
    forged = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    for token in (forged, make_token(secret, found["id"]), "", "x.y"):
        for reply in (request(base, "GET", f"/manage?token={token}"),
                      post(base, "/manage", {"token": token, "category": ["economy"],
                                             "action": "unsubscribe"})):
            assert reply.status == 400 and "not valid" in reply.body, (token, reply.body)
            assert reply.headers["cache-control"] == "no-store"
    past = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    for fields in ({"pause_until": past}, {"pause_until": "soon"},
                   {"category": ["no-such-section"]}):
        bad = post(base, "/manage", {"token": real, **fields})
        assert bad.status == 400 and 'role="alert"' in bad.body, fields
    after = row(config, READER)
    assert after is not None
    assert (after["status"], after["categories"], after["paused_until"]) == (
        "active", "", None)


def test_unsubscribing_on_the_manage_page(site: tuple[Path, Sink, str]):
    config, sink, base = site
    token = token_of(manage_link(mails(sink, READER)[0]))
    left = post(base, "/manage", {"token": token, "action": "unsubscribe"})
    assert left.status == 200 and "unsubscribed" in left.body
    assert row(config, READER)["status"] == "unsubscribed"  # type: ignore[index]
    run(config, "send", "--date", NEXT)
    assert len(sink.raw_for(READER)) == 1


def test_the_manage_page_is_in_the_digest_language(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail='[words]\nmanage_save = "Keep it so"')
        config.write_text(config.read_text(encoding="utf-8").replace(
            'language = "en"', 'language = "az"'), encoding="utf-8")
        add_subscribers(config, [(READER, "", "")])
        run(config, "send", "--date", FIRST)
        target = manage_link(mails(sink, READER)[0])
        with served(config) as base:
            page = request(base, "GET", target).body
    assert 'lang="az"' in page and "abunəliyiniz" in page and "Keep it so" in page
