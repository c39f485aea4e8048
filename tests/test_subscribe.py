"""Signing up on the form (double opt-in), driven over real HTTP against the served app,
with the confirmation mail captured by a real SMTP server and its link followed."""

from __future__ import annotations

import datetime as dt
import gc
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import lxml.html
import pytest
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, run, sample_config
from web import Reply, request, serving, settle

from digest.config import load_config
from digest.deliver.tokens import make_confirm_token, make_token
from digest.serve.signup import RateLimit
from digest.store import Store

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PUBLIC = "https://news.example.org/digest/"
ACTIVE = "kept@example.org"


@contextmanager
def served(config: Path) -> Iterator[str]:
    """The app served, once the garbage of the commands run before is collected: some
    object they leave behind closes, when collected, a file number that is no longer
    its own, and collected in a request thread it shut the server's wake-up pipe
    (seen as EBADF when the server is stopped)."""
    gc.collect()
    with serving(load_config(config)) as base:
        yield base


@contextmanager
def signup_site(tmp_path: Path, sink: Sink | None = None, name: str = "Kept"
                ) -> Iterator[tuple[Path, Sink, str]]:
    """A digest with one active subscriber (ACTIVE, called `name`), its app served and
    its mail captured by `sink` (a new Sink by default)."""
    sink = sink or Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, [(ACTIVE, name, "")])
        with served(config) as base:
            yield config, sink, base


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Sink, str]]:
    """A digest with one active subscriber, its app served and its mail captured."""
    with signup_site(tmp_path) as found:
        yield found


def post(base: str, target: str, fields: dict[str, str | list[str]]) -> Reply:
    return request(base, "POST", target, urlencode(fields, doseq=True).encode(), FORM)


def row(config: Path, email: str) -> sqlite3.Row | None:
    with closing(sqlite3.connect(config.parent / "state" / "digest.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        found: sqlite3.Row | None = db.execute(
            "SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
    return found


def mails(sink: Sink, address: str) -> list[EmailMessage]:
    """What the SMTP server received for `address`, once the mailer has sent what the
    requests so far queued."""
    settle()
    return [BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[misc]
            for raw in sink.raw_for(address)]


def confirm_link(message: EmailMessage) -> str:
    """The confirmation link of a captured mail, as a path on the local server; the same
    link is in both parts."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    [url] = set(re.findall(r"https://\S+/confirm\?token=[\w.-]+", text.get_content()))
    assert url.startswith(PUBLIC + "confirm?token=")
    assert url in html.get_content()
    return "/confirm?" + urlsplit(url).query


def test_the_form_has_email_name_a_box_per_category_and_a_honeypot(
        site: tuple[Path, Sink, str]):
    config, _, base = site
    page = request(base, "GET", "/subscribe")
    assert page.status == 200
    assert page.headers["cache-control"] == "no-store"
    assert "set-cookie" not in page.headers
    doc = lxml.html.fromstring(page.body)
    [form] = doc.xpath("//form")
    assert form.get("method") == "post"
    assert doc.xpath("//input[@name='email' and @type='email' and @required]")
    assert doc.xpath("//input[@name='name']")
    boxes = doc.xpath("//input[@type='checkbox' and @name='category']/@value")
    assert sorted(boxes) == sorted(c.slug for c in load_config(config).categories)
    assert doc.xpath("//input[@name='website']")  # the honeypot
    assert not doc.xpath("//script")


def test_sign_up_mails_a_link_whose_button_confirms_and_records_consent(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    category = load_config(config).categories[0].slug
    answer = post(base, "/subscribe", {"email": "New@Example.org", "name": "Nia",
                                       "category": [category]})
    assert answer.status == 200 and "Check your inbox" in answer.body
    pending = row(config, "New@example.org")
    assert pending is not None
    assert (pending["status"], pending["name"], pending["categories"]) == (
        "pending", "Nia", category)
    assert "pending" in run(config, "subscribers", "list", "--status", "pending")

    # a pending address is never sent an edition
    run(config, "send", "--date", SAMPLE_DATE)
    assert len(sink.raw_for(ACTIVE)) == 1
    [message] = mails(sink, "New@example.org")
    assert "Confirm" in str(message["Subject"])
    assert message.get_body(preferencelist=("plain",)) is not None
    target = confirm_link(message)

    shown = request(base, "GET", target)  # what a mail scanner does: changes nothing
    assert shown.status == 200 and "<form" in shown.body and "New@example.org" in shown.body
    assert row(config, "New@example.org")["status"] == "pending"  # type: ignore[index]

    token = urlsplit(target).query.removeprefix("token=")
    done = post(base, "/confirm", {"token": token})
    assert done.status == 200 and "You are subscribed" in done.body
    active = row(config, "New@example.org")
    assert active is not None and active["status"] == "active"
    assert active["consent_at"] and active["consent_ip"] == "127.0.0.1"
    assert active["consent_form"] == PUBLIC + "subscribe"

    again = post(base, "/confirm", {"token": token})  # reused: nothing more happens
    assert again.status == 200 and "You are subscribed" in again.body
    assert row(config, "New@example.org")["consent_at"] == active["consent_at"]  # type: ignore[index]


def test_every_state_gets_the_same_answer_and_at_most_one_mail_an_hour(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    run(config, "subscribers", "add", "gone@example.org")
    run(config, "subscribers", "remove", "gone@example.org")
    assert row(config, "gone@example.org")["status"] == "unsubscribed"  # type: ignore[index]
    answers = [post(base, "/subscribe", {"email": address}) for address in (
        "fresh@example.org", "fresh@example.org", ACTIVE, "gone@example.org")]
    assert {(a.status, a.body) for a in answers} == {(answers[0].status, answers[0].body)}
    assert answers[0].status == 200

    settle()
    assert len(sink.raw_for("fresh@example.org")) == 1  # the repeat sent nothing
    [kept] = mails(sink, ACTIVE)  # already active: told so, with a way out, no link to confirm
    body = kept.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "/unsubscribe?token=" in body and "/confirm" not in body
    assert PUBLIC + "manage?token=" in body  # and their manage link
    assert row(config, ACTIVE)["status"] == "active"  # type: ignore[index]
    [back] = mails(sink, "gone@example.org")  # unsubscribed may subscribe again
    assert row(config, "gone@example.org")["status"] == "pending"  # type: ignore[index]
    confirm_link(back)


def test_a_bounced_address_comes_back_through_the_form_once_its_owner_confirms(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    run(config, "subscribers", "add", "full@example.org")
    with Store(load_config(config).state) as store:
        store.set_subscriber_status("full@example.org", "bounced", "552 5.2.2 mailbox full")
    bounced = row(config, "full@example.org")
    assert bounced is not None and bounced["status_reason"] == "552 5.2.2 mailbox full"

    answer = post(base, "/subscribe", {"email": "full@example.org"})
    assert answer.status == 200 and "Check your inbox" in answer.body
    pending = row(config, "full@example.org")
    assert pending is not None and pending["status"] == "pending"
    assert pending["status_reason"] is None  # the bounce is history once it asks again
    run(config, "send", "--date", SAMPLE_DATE)  # still nothing but the confirmation
    [message] = mails(sink, "full@example.org")
    assert "Confirm" in str(message["Subject"])

    token = urlsplit(confirm_link(message)).query.removeprefix("token=")
    assert post(base, "/confirm", {"token": token}).status == 200
    back = row(config, "full@example.org")
    assert back is not None and back["status"] == "active" and back["consent_at"]
    assert back["status_changed_at"] >= bounced["status_changed_at"]
    assert "full@example.org" in run(config, "subscribers", "list", "--status", "active")


def test_forged_expired_and_unsubscribe_tokens_confirm_nothing(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    post(base, "/subscribe", {"email": "wait@example.org"})
    found = row(config, "wait@example.org")
    assert found is not None
    with Store(config.parent / "state" / "digest.sqlite3") as store:
        secret = store.secret()
    past = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).timestamp())
    expired = make_confirm_token(secret, found["id"], past)
    real = confirm_link(mails(sink, "wait@example.org")[0]).removeprefix("/confirm?token=")
    forged = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    for token, words in ((expired, "expired"), (forged, "not valid"),
                         (make_token(secret, found["id"]), "not valid"), ("", "not valid")):
        for reply in (request(base, "GET", f"/confirm?token={token}"),
                      post(base, "/confirm", {"token": token})):
            assert reply.status == 400 and words in reply.body, (token, reply.body)
    assert row(config, "wait@example.org")["status"] == "pending"  # type: ignore[index]


def test_without_store_ip_only_a_hash_of_the_address_is_kept(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail="[subscribe]\nstore_ip = false")
        add_subscribers(config, [(ACTIVE, "", "")])
        with served(config) as base:
            post(base, "/subscribe", {"email": "hush@example.org"})
            target = confirm_link(mails(sink, "hush@example.org")[0])
            post(base, "/confirm", {"token": target.removeprefix("/confirm?token=")})
    found = row(config, "hush@example.org")
    assert found is not None and found["status"] == "active"
    assert "127.0.0.1" not in found["consent_ip"] and found["consent_ip"].startswith("sha256:")


def test_pages_and_mail_are_in_the_digest_language(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        config.write_text(config.read_text(encoding="utf-8").replace(
            'language = "en"', 'language = "ru"'), encoding="utf-8")
        add_subscribers(config, [(ACTIVE, "", "")])
        with served(config) as base:
            assert "Подписаться" in request(base, "GET", "/subscribe").body
            assert "Проверьте почту" in post(base, "/subscribe",
                                            {"email": "ru@example.org"}).body
            [message] = mails(sink, "ru@example.org")
    assert "Подтвердите" in str(message["Subject"])


def test_bad_addresses_and_large_bodies_are_refused_and_store_nothing(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    bad = post(base, "/subscribe", {"email": "not an address"})
    assert bad.status == 400 and "<form" in bad.body
    big = post(base, "/subscribe", {"email": "big@example.org", "name": "x" * 20000})
    assert big.status == 413
    settle()
    assert row(config, "big@example.org") is None and not sink.raw_for("big@example.org")


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_happens(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    person = post(base, "/subscribe", {"email": "person@example.org"})
    robot = post(base, "/subscribe", {"email": "robot@example.org",
                                      "website": "http://spam.example"})
    assert (robot.status, robot.body) == (person.status, person.body)
    settle()
    assert row(config, "robot@example.org") is None and not sink.raw_for("robot@example.org")
    assert row(config, "person@example.org") is not None


def test_over_the_rate_one_ip_gets_the_same_answer_and_nothing_is_sent(
        site: tuple[Path, Sink, str]):
    config, sink, base = site
    answers = [post(base, "/subscribe", {"email": f"r{n}@example.org"}) for n in range(6)]
    assert {(a.status, a.body) for a in answers} == {(answers[0].status, answers[0].body)}
    assert all(row(config, f"r{n}@example.org") is not None for n in range(5))
    settle()
    assert all(sink.raw_for(f"r{n}@example.org") for n in range(5))
    assert row(config, "r5@example.org") is None and not sink.raw_for("r5@example.org")


def test_the_rate_is_per_address_over_a_sliding_minute():
    now = [1000.0]
    limit = RateLimit(2, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a")] == [True, True, False]
    assert limit.allow("b")
    now[0] += 59
    assert not limit.allow("a")
    now[0] += 2
    assert limit.allow("a")


def test_behind_a_proxy_it_was_not_told_of_serve_warns_once_naming_the_address(
        site: tuple[Path, Sink, str], capsys: pytest.CaptureFixture[str]):
    _, _, base = site
    assert request(base, "GET", "/subscribe").status == 200
    assert "trusted_proxy" not in capsys.readouterr().err  # a direct request: nothing to say
    for address in ("203.0.113.9", "198.51.100.7"):
        assert request(base, "GET", "/subscribe", headers={"X-Forwarded-For": address}
                       ).status == 200
    err = capsys.readouterr().err
    assert err.count("[serve] trusted_proxy is not set") == 1  # once a run
    assert 'Set [serve] trusted_proxy = "127.0.0.1"' in err
