"""The daily job end to end: feeds over HTTP -> digest send -> mail in a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
import zoneinfo
from email.message import EmailMessage
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route, SmtpServer

from digest.cli import cli

BAKU = zoneinfo.ZoneInfo("Asia/Baku")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # each test's start: see `now` below
MIDNIGHT_MARGIN = 60  # seconds: longer than any test here takes


@pytest.fixture(autouse=True)
def now() -> dt.datetime:
    """NOW is when the test starts, and no test starts so close to midnight in Baku that
    `digest send`, which reads the clock, would make the next day's edition: then it
    waits for the new day first."""
    global NOW
    current = dt.datetime.now(dt.UTC)
    local = current.astimezone(BAKU)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BAKU)
    left = (midnight - local).total_seconds()
    if left < MIDNIGHT_MARGIN:
        time.sleep(left + 1)
        current = dt.datetime.now(dt.UTC)
    NOW = current.replace(microsecond=0)
    return NOW


def ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def site(feed_server: FeedServer) -> dict[str, list[Item]]:
    shared = Item(2001, "Caspian gas deal signed", ago(3), author="Rashad Aliyev", words=900)
    feeds = {
        "news": [Item(1001, "Parliament passes budget", ago(1), words=450),
                 Item(1002, "Metro line opens in Baku", ago(5), author=None, words=200),
                 Item(1000, "Old story", ago(24 * 5))],
        "economy": [shared, Item(2002, "Manat steady against dollar", ago(2))],
        "energy": [shared, Item(3001, "Solar park in Gəncə", ago(4), words=1300)],
        "culture": [Item(4001, "Mugham festival <returns> & more", ago(6))],
    }
    for slug, items in feeds.items():
        feed_server.routes[f"/category/{slug}/feed/"] = Route(
            200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, rss(slug, items))
    return feeds


@pytest.fixture
def config(tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer,
           site: dict[str, list[Item]]) -> Path:
    categories = [
        ("news", "News", [feed_server.url("/category/news/feed/")]),
        ("economy", "Economy", [feed_server.url("/category/economy/feed/")]),
        ("energy", "Energy", [feed_server.url("/category/energy/feed/")]),
        ("culture", "Culture", [feed_server.url("/category/culture/feed/")]),
    ]
    path = write_config(tmp_path, categories, smtp_port=smtp_server.port)
    run(path, "subscribers", "add", "ayla@example.org", "--name", "Ayla Karimova")
    run(path, "subscribers", "add", "tural@example.org", "--category", "energy")
    csv = tmp_path / "list.csv"
    csv.write_text("email,name,categories\n"
                   "gunel@example.com,Günel Həsənova,\n"
                   "nope,Broken,\n", encoding="utf-8")
    out = run(path, "subscribers", "import", str(csv))
    assert "1 added" in out and "1 rejected" in out and "list.csv:3: nope" in out
    return path


def test_send_delivers_one_correct_message_to_each_subscriber(
        config: Path, smtp_server: SmtpServer, tmp_path: Path):
    out = run(config, "send")
    assert "7 new articles" in out
    assert "sent 3, deferred 0, failed 0" in out
    mailbox = smtp_server.mailbox
    assert sorted(r for _, rcpts, _ in mailbox.envelopes for r in rcpts) == [
        "ayla@example.org", "gunel@example.com", "tural@example.org"]
    assert all(len(rcpts) == 1 for _, rcpts, _ in mailbox.envelopes)

    today = NOW.astimezone(BAKU).date()
    [ayla] = mailbox.for_recipient("ayla@example.org")
    assert ayla["To"] == "Ayla Karimova <ayla@example.org>"
    assert ayla["From"] == "Aze Daily Digest <digest@news.example.org>"
    assert "Aze Daily Digest" in ayla["Subject"]
    assert f"{today.day}, {today.year}" in ayla["Subject"]
    assert re.fullmatch(r"<[^@>]+@news\.example\.org>", ayla["Message-ID"])
    assert ayla["Date"].endswith("+0000")
    assert ayla["List-Unsubscribe"].startswith(
        "<https://news.example.org/digest/unsubscribe?token=")
    assert ayla["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "ayla" not in ayla["List-Unsubscribe"]
    assert ayla.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in ayla.iter_parts()]
    assert parts == ["text/plain", "text/html"]

    html = body(ayla, "html")
    text = body(ayla, "plain")
    # Sections in config order, each article once (the shared one under Economy).
    order = [html.index(t) for t in ("News", "Economy", "Energy", "Culture")]
    assert order == sorted(order)
    assert html.count('href="https://news.example.org/2026/11/story-2001/"') == 1
    assert html.index("story-2001") < html.index(">Energy<")
    assert "Old story" not in html and "Old story" not in text
    # Newest first inside a section.
    assert html.index("Parliament passes budget") < html.index("Metro line opens in Baku")
    # Article details as on the site: linked title, author, reading time.
    assert 'href="https://news.example.org/2026/11/story-1001/"' in html
    assert "By Rashad Aliyev" in html and "5 min read" in html and "7 min read" in html
    assert "1 min read" in html
    assert "Mugham festival &lt;returns&gt; &amp; more" in html
    assert "https://news.example.org/digest/editions/" in html  # web version
    assert re.search(r"unsubscribe", html, re.I)
    # The text part: readable, every article link and the unsubscribe link.
    for slug in ("story-1001", "story-1002", "story-2001", "story-2002", "story-3001"):
        assert f"https://news.example.org/2026/11/{slug}/" in text
    assert ayla["List-Unsubscribe"].split(">")[0][1:] in text
    assert "<p" not in text and "Mugham festival <returns> & more" in text

    [tural] = mailbox.for_recipient("tural@example.org")
    tural_html = body(tural, "html")
    assert "Solar park in Gəncə" in tural_html
    assert "Parliament passes budget" not in tural_html
    assert "Manat steady" not in tural_html
    # The shared article belongs to Economy, which Tural did not choose.
    assert "Caspian gas deal signed" not in tural_html

    [gunel] = mailbox.for_recipient("gunel@example.com")
    assert gunel["To"] == "Günel Həsənova <gunel@example.com>"
    raw = next(raw for _, r, raw in mailbox.envelopes if r == ["gunel@example.com"])
    assert b"G\xc3\xbcnel" not in raw.split(b"\r\n\r\n")[0]  # headers stay ASCII
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998

    rss = feedparser.parse((tmp_path / "public" / "rss.xml").read_bytes())
    assert not rss.bozo, rss.get("bozo_exception")
    assert len(rss.entries) == 1
    assert rss.entries[0].id == f"https://news.example.org/digest/editions/{today}.html"
    assert (tmp_path / "public" / "editions" / f"{today}.html").exists()
    assert (tmp_path / "public" / "index.html").exists()


def test_second_send_sends_nothing_and_next_day_has_only_the_new_article(
        config: Path, smtp_server: SmtpServer, feed_server: FeedServer,
        site: dict[str, list[Item]], tmp_path: Path):
    run(config, "send")
    assert len(smtp_server.mailbox.envelopes) == 3
    out = run(config, "send")
    assert "sent 0" in out
    assert len(smtp_server.mailbox.envelopes) == 3

    items = [Item(1003, "Night trains return", NOW - dt.timedelta(minutes=5)),
             *site["news"]]
    feed_server.routes["/category/news/feed/"] = Route(
        200, {"Content-Type": "application/rss+xml"}, rss("news", items))
    tomorrow = (NOW.astimezone(BAKU) + dt.timedelta(days=1)).date()
    out = run(config, "send", "--date", tomorrow.isoformat())
    assert "edition " + tomorrow.isoformat() + ": 1 articles" in out
    envelopes = smtp_server.mailbox.envelopes[3:]
    # Tural chose only Energy: nothing new for him, so no message.
    assert sorted(r for _, rcpts, _ in envelopes for r in rcpts) == [
        "ayla@example.org", "gunel@example.com"]
    for message in smtp_server.mailbox.messages()[3:]:
        html = body(message, "html")
        assert "Night trains return" in html
        assert "Parliament passes budget" not in html
    rss_doc = feedparser.parse((tmp_path / "public" / "rss.xml").read_bytes())
    assert not rss_doc.bozo
    assert [e.id.rsplit("/", 1)[1] for e in rss_doc.entries] == [
        f"{tomorrow}.html", f"{NOW.astimezone(BAKU).date()}.html"]


def test_no_new_articles_means_no_edition_and_no_mail(
        config: Path, smtp_server: SmtpServer, feed_server: FeedServer):
    for slug in ("news", "economy", "energy", "culture"):
        feed_server.routes[f"/category/{slug}/feed/"] = Route(
            200, {}, rss(slug, [Item(9000 + len(slug), "Ancient", ago(24 * 10))]))
    out = run(config, "send")
    assert "no new articles" in out and "nothing to send" in out
    assert smtp_server.mailbox.envelopes == []


def test_a_broken_feed_is_reported_and_the_run_goes_on(
        config: Path, smtp_server: SmtpServer, feed_server: FeedServer):
    feed_server.routes["/category/culture/feed/"] = Route(500, {}, b"oops")
    feed_server.routes["/category/economy/feed/"] = Route(200, {}, b"<html>not a feed")
    out = run(config, "send")
    assert "/category/culture/feed/ [culture]: HTTP 500" in out
    assert "/category/economy/feed/ [economy]: not a readable feed" in out
    assert "2 failed" in out
    [ayla] = smtp_server.mailbox.for_recipient("ayla@example.org")
    html = body(ayla, "html")
    assert "Parliament passes budget" in html and "Mugham" not in html
    # Economy's feed failed, but Energy still carried the shared article.
    assert "Caspian gas deal signed" in html


def test_a_dead_smtp_server_exits_non_zero_and_the_next_run_delivers_the_rest(
        config: Path, smtp_server: SmtpServer, tmp_path: Path):
    text = config.read_text()
    config.write_text(text.replace(f"port = {smtp_server.port}", "port = 1"))
    out = run(config, "send", code=1)
    assert "cannot use the mail server 127.0.0.1:1" in out
    assert "run `digest send` again" in out
    config.write_text(text)
    out = run(config, "send")
    assert "sent 3" in out
    assert len(smtp_server.mailbox.envelopes) == 3


def test_refusals_are_recorded_deferred_ones_go_out_next_run(
        config: Path, smtp_server: SmtpServer, tmp_path: Path):
    smtp_server.mailbox.refuse = {"ayla@example.org": "450 mailbox busy",
                                  "tural@example.org": "550 no such user"}
    out = run(config, "send", code=1)
    assert "sent 1, deferred 1, failed 1" in out
    assert "tural@example.org: refused (550 no such user)" in out
    smtp_server.mailbox.refuse = {}
    out = run(config, "send")
    assert "sent 1, deferred 0, failed 0" in out
    rcpts = [r for _, rs, _ in smtp_server.mailbox.envelopes for r in rs]
    assert sorted(rcpts) == ["ayla@example.org", "gunel@example.com"]
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    rows = dict(db.execute("SELECT s.email, d.status FROM deliveries d JOIN subscribers s "
                           "ON s.id = d.subscriber_id").fetchall())
    assert rows == {"ayla@example.org": "sent", "gunel@example.com": "sent",
                    "tural@example.org": "failed"}


def test_unsubscribed_addresses_are_never_mailed(config: Path, smtp_server: SmtpServer):
    run(config, "unsubscribe", "ayla@example.org")
    run(config, "send")
    rcpts = sorted(r for _, rs, _ in smtp_server.mailbox.envelopes for r in rs)
    assert rcpts == ["gunel@example.com", "tural@example.org"]


def test_dry_run_sends_and_records_nothing(config: Path, smtp_server: SmtpServer):
    out = run(config, "send", "--dry-run")
    assert "would send 3" in out
    assert smtp_server.mailbox.envelopes == []
    out = run(config, "send")
    assert "sent 3" in out
