"""deliver/message.py: one template per edition, filled per subscriber.

What a mail client and a mail server see of one message: the shared headers,
the personal ones, both parts decoded, and the wire form's limits. The edition
is a hand-made RenderedEmail, so nothing here fetches or renders.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.project import write_config

from digest.config import Config, load_config
from digest.deliver.message import (
    MessageTemplate,
    build_template,
    manage_for,
    unsubscribe_for,
)
from digest.models import Subscriber
from digest.render.email import EMAIL, MANAGE_URL, UNSUBSCRIBE_URL, RenderedEmail

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
LONG_LINE = "Xəbərlər " * 40  # non-ASCII and far longer than a mail line may be
RENDERED = RenderedEmail(
    subject="Aze Daily Digest — 25 noyabr 2026",
    html=(f"<p>{LONG_LINE}</p>\n<p>.starts with a dot</p>\n"
          f'<p>Sent to {EMAIL}. <a href="{UNSUBSCRIBE_URL}">Leave</a></p>\n'),
    text=f"{LONG_LINE}\n.starts with a dot\nSent to {EMAIL}.\nLeave: <{UNSUBSCRIBE_URL}>\n",
)


def config_for(tmp_path: Path, email_extra: str = "") -> Config:
    return load_config(write_config(tmp_path, [("news", "News", ["feeds/news.xml"])],
                                    email_extra=email_extra))


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, subtype: str) -> str:
    found = message.get_body((subtype,))
    assert found is not None and isinstance(found, EmailMessage)
    return str(found.get_content())


@pytest.fixture
def template(tmp_path: Path) -> tuple[Config, MessageTemplate]:
    config = config_for(tmp_path)
    return config, build_template(config, RENDERED, NOW)


def test_each_subscriber_gets_their_own_address_and_links_in_both_parts(
        template: tuple[Config, MessageTemplate]):
    config, made = template
    subscriber = Subscriber(7, "o'brien+news@example.org", "Seán O'Brien")
    message = parsed(made.for_subscriber(config, subscriber, "tok.en"))
    url = "https://news.example.org/digest/unsubscribe?token=tok.en"
    assert message["To"].addresses[0].display_name == "Seán O'Brien"
    assert message["To"].addresses[0].addr_spec == subscriber.email
    assert message["List-Unsubscribe"].startswith(f"<{url}>, <mailto:")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = part(message, "plain"), part(message, "html")
    assert f"Sent to {subscriber.email}." in text and f"Leave: <{url}>" in text
    assert "Sent to o&#x27;brien+news@example.org." in html  # escaped in the HTML part
    assert f'href="{url}"' in html
    assert LONG_LINE in text and ".starts with a dot" in text  # the text comes back whole
    assert "@@digest-" not in text + html  # no placeholder is left unfilled


def test_shared_headers_and_parts(template: tuple[Config, MessageTemplate]):
    config, made = template
    message = parsed(made.for_subscriber(config, Subscriber(1, "a@example.org", ""), "t"))
    assert message["Subject"] == RENDERED.subject
    assert message["From"].addresses[0].addr_spec == "digest@news.example.org"
    assert message["Date"].datetime == NOW
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == "a@example.org"  # no name: the bare address


def test_the_wire_form_keeps_to_what_every_server_accepts(
        template: tuple[Config, MessageTemplate]):
    config, made = template
    raw = made.for_subscriber(config, Subscriber(2, "gunel@example.com", "Günel Həsənova"),
                              "t")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.isascii() and body.isascii()  # headers encoded, bodies quoted-printable
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998  # RFC 5322's hard limit
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # RFC 2045 §6.7
    assert not any(line.startswith(b".") for line in lines)  # never mistaken for the end
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only


def test_two_subscribers_differ_only_in_their_personal_parts(
        template: tuple[Config, MessageTemplate]):
    config, made = template
    people = [(Subscriber(1, "qwerty@example.org", "Qwerty"), "token-1"),
              (Subscriber(2, "zxcvb@example.org", "Zxcvb"), "token-2")]
    one, two = (parsed(made.for_subscriber(config, s, t)) for s, t in people)
    assert one["Message-ID"] != two["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{24}\.1@news\.example\.org>", one["Message-ID"])
    personal = {"To", "Message-ID", "List-Unsubscribe"}
    assert [(k, v) for k, v in one.items() if k not in personal] == \
        [(k, v) for k, v in two.items() if k not in personal]

    def general(message: EmailMessage, subscriber: Subscriber, token: str) -> str:
        both = part(message, "plain") + part(message, "html")
        for value in (subscriber.email, token):
            both = both.replace(value, "PERSONAL")
        return both

    assert general(one, *people[0]) == general(two, *people[1])


def test_without_an_unsubscribe_url_the_mailto_is_the_way_out(tmp_path: Path):
    config_for(tmp_path)
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        re.sub(r'unsubscribe_url = ".*"\n', "", text), encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    leave = unsubscribe_for(config, "a b")
    assert leave == unsubscribe_for(config, "a b")  # a pure function of its inputs
    assert not leave.one_click and leave.visible_url.startswith("mailto:")
    assert "subject=unsubscribe%20a%20b" in leave.visible_url
    message = parsed(build_template(config, RENDERED, NOW).for_subscriber(
        config, Subscriber(1, "a@example.org", ""), "a b"))
    assert message["List-Unsubscribe"] == f"<{leave.visible_url}>"
    assert message["List-Unsubscribe-Post"] is None  # RFC 8058: only with an https URL


def test_the_manage_link_is_below_public_url_with_its_own_token_and_only_beside_a_web_unsubscribe(
        tmp_path: Path):
    rendered = RenderedEmail(subject="S", html=f'<p><a href="{MANAGE_URL}">Manage</a></p>\n',
                             text=f"Manage: <{MANAGE_URL}>\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "mailto").mkdir()
    config = config_for(tmp_path / "web")
    message = parsed(build_template(config, rendered, NOW).for_subscriber(
        config, Subscriber(3, "a@example.org", ""), "un.sub", manage="man/age"))
    url = "https://news.example.org/digest/manage?token=man/age"
    assert manage_for(config, "man/age") == url
    assert f"Manage: <{url}>" in part(message, "plain")
    assert f'href="{url}"' in part(message, "html")
    config_for(tmp_path / "mailto")
    text = (tmp_path / "mailto" / "config.toml").read_text(encoding="utf-8")
    (tmp_path / "mailto" / "config.toml").write_text(
        re.sub(r'unsubscribe_url = ".*"\n', "", text), encoding="utf-8")
    assert manage_for(load_config(tmp_path / "mailto" / "config.toml"), "man.age") == ""
