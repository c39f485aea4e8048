"""Bad luck and bad input (issue 15): permissions, damaged or full disks, odd addresses,
header-bound config values, leftovers, huge editions, quiet runs. Each gets a clear
message and the right exit code, and loses nothing."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, sample_config
from support.project import SAMPLE, write_config

from digest.cli import cli
from digest.config import load_config
from digest.deliver.outbox import outbox_name
from digest.models import Edition, Section, StoredArticle
from digest.render.email import HTML_BUDGET, render_email
from digest.render.feeds import render_feeds
from digest.render.site import render_site
from digest.render.templates import environment
from digest.store import Store

CATEGORIES = [("news", "News", [str(SAMPLE / "feeds" / "news.xml")]),
              ("economy", "Economy", [str(SAMPLE / "feeds" / "economy.xml")])]


def invoke(config: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and "probably a bug" not in result.output
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The sample's news and economy feeds, mail written to outbox/."""
    return write_config(tmp_path, CATEGORIES, transport="file")


def state_of(config: Path) -> Path:
    return config.parent / "state" / "digest.sqlite3"


# -- item 3: the state file and its lock ----------------------------------------------


def test_the_state_file_and_its_log_are_readable_by_their_owner_only(config: Path):
    invoke(config, "subscribers", "add", "a@example.org")
    state = state_of(config)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    with Store(state) as store:  # while open, SQLite keeps its -wal and -shm beside it
        store.upsert_subscriber("b@example.org", "", ())
        for suffix in ("-wal", "-shm"):
            log = state.with_name(state.name + suffix)
            assert stat.S_IMODE(log.stat().st_mode) == 0o600, suffix
    assert not [p for p in state.parent.iterdir() if ".new-" in p.name]  # no leftovers


def test_a_state_file_others_can_read_is_warned_about(config: Path):
    invoke(config, "subscribers", "add", "a@example.org")
    state = state_of(config)
    state.chmod(0o644)
    result = invoke(config, "subscribers", "list")
    assert f"chmod 600 {state}" in result.stderr and "other users" in result.stderr
    state.chmod(0o600)
    assert "chmod" not in invoke(config, "subscribers", "list").stderr


def test_the_lock_file_is_never_written_through_a_symbolic_link(config: Path,
                                                                tmp_path: Path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    state = state_of(config)
    state.parent.mkdir(parents=True)
    state.with_name(state.name + ".lock").symlink_to(precious)
    result = invoke(config, "build", "--date", SAMPLE_DATE, code=1)
    assert "is a symbolic link" in result.stderr and "Remove it" in result.stderr
    assert precious.read_text() == "keep me\n"


def test_an_empty_state_file_is_refused_not_silently_started_afresh(config: Path):
    invoke(config, "subscribers", "add", "a@example.org")
    state = state_of(config)
    state.write_bytes(b"")
    result = invoke(config, "subscribers", "list", code=1)
    assert "is empty (0 bytes)" in result.stderr and "backup" in result.stderr
    assert state.stat().st_size == 0  # left for the editor to restore, not replaced


def test_a_state_file_with_damaged_pages_says_so_and_what_to_do(config: Path):
    invoke(config, "subscribers", "add", "a@example.org")
    state = state_of(config)
    with Store(state) as store:
        for n in range(400):
            store.upsert_subscriber(f"reader{n}@example.org", "Reader " * 20, ())
    data = bytearray(state.read_bytes())
    assert len(data) > 8 * 4096
    for page in range(2, len(data) // 4096):  # every page but the header page
        data[page * 4096 + 8: page * 4096 + 4096] = b"\xa5" * (4096 - 8)
    state.write_bytes(bytes(data))
    result = invoke(config, "subscribers", "list", code=1)
    assert "is damaged" in result.stderr and ".recover" in result.stderr


# -- the disk fills up ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 1 MiB tmpfs mounted for the test (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run the suite as root (CI does)")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine refuses to mount a tmpfs: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as exc:
        assert exc.errno == 28  # ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_named_as_such_and_loses_nothing(tmp_path: Path, small_disk: Path):
    config = write_config(tmp_path, CATEGORIES, transport="file")
    text = config.read_text().replace('state = "state/digest.sqlite3"',
                                      'state = "disk/digest.sqlite3"')
    config.write_text(text.replace('outbox = "outbox"', 'outbox = "disk/outbox"'))
    invoke(config, "subscribers", "add", "a@example.org")
    invoke(config, "fetch")
    csv_file = tmp_path / "more.csv"
    csv_file.write_text("email,name,categories\nc@example.org,C,\n")

    filler = fill(small_disk)
    for args in (["subscribers", "add", "b@example.org"],
                 ["subscribers", "import", str(csv_file)],
                 ["unsubscribe", "a@example.org"],
                 ["send", "--no-fetch", "--date", SAMPLE_DATE]):
        result = invoke(config, *args, code=1)
        assert "is full" in result.stderr and "Free some space" in result.stderr, args

    filler.unlink()
    listed = invoke(config, "subscribers", "list").stdout
    assert listed.startswith("a@example.org\t") and "\tactive" in listed
    assert "b@example.org" not in listed
    sent = invoke(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
    assert "sent 1, deferred 0, failed 0" in sent.stderr
    assert len(list((small_disk / "outbox" / SAMPLE_DATE).glob("*.eml"))) == 1


# -- item 4: odd addresses and the file transport ---------------------------------------


def test_outbox_names_are_short_safe_and_distinct_whatever_the_address():
    assert outbox_name("reader@example.org") == "reader@example.org.eml"
    long = "x" * 300 + "@example.org"
    names = {outbox_name(a) for a in ("a b@example.org", "a_b@example.org", "a/b@example.org",
                                      ".tmp-x@example.org", long, long + "x", "ü@example.org")}
    assert len(names) == 7
    for name in names:
        assert len(name.encode()) < 200 and "/" not in name and not name.startswith(".")


def test_a_310_character_address_does_not_stop_delivery_to_anyone_else(config: Path):
    add_subscribers(config, numbered(3))
    long = "r" * 64 + "@" + ".".join(["d" * 60] * 4) + ".org"  # stored before the limit
    assert len(long) > 254
    with Store(state_of(config)) as store:
        store.upsert_subscriber(long, "Long", ())
    invoke(config, "send", "--date", SAMPLE_DATE)
    written = {p.name for p in (config.parent / "outbox" / SAMPLE_DATE).glob("*.eml")}
    assert {f"{a}.eml" for a, _, _ in numbered(3)} <= written
    assert len(written) == 4
    assert not [p for p in (config.parent / "outbox").rglob(".tmp-*")]


def test_a_recipient_whose_file_cannot_be_written_fails_alone(config: Path):
    add_subscribers(config, numbered(3))
    folder = config.parent / "outbox" / SAMPLE_DATE
    (folder / "reader00001@example.org.eml").mkdir(parents=True)  # in the way
    result = invoke(config, "send", "--date", SAMPLE_DATE, code=1)
    assert "sent 2, deferred 0, failed 1" in result.stderr
    assert "reader00001@example.org: refused (cannot write" in result.stderr
    assert "refused for good" in result.stderr
    assert "run `digest send` again" not in result.stderr  # a rerun would send nothing
    assert {p.name for p in folder.glob("*.eml") if p.is_file()} == {
        "reader00000@example.org.eml", "reader00002@example.org.eml"}


# -- item 5: header-bound config values ---------------------------------------------------


def test_non_ascii_domains_in_header_values_become_idna(tmp_path: Path):
    config = write_config(tmp_path, CATEGORIES, transport="file", email_extra="\n".join([
        'unsubscribe_mailto = "leave@xəbər.az"',
        'reply_to = "Redaksiya <redaksiya@xəbər.az>"',
        'list_id = "Gündəlik <daily.xəbər.az>"',
    ]))
    text = config.read_text(encoding="utf-8")
    text = text.replace('from = "Aze Daily Digest <digest@news.example.org>"',
                        'from = "Xəbər <digest@xəbər.az>"')
    text = text.replace('unsubscribe_url = "https://news.example.org/digest/unsubscribe"',
                        'unsubscribe_url = "https://xəbər.az/çıx"')
    config.write_text(text, encoding="utf-8")
    add_subscribers(config, numbered(1))
    invoke(config, "send", "--date", SAMPLE_DATE)
    raw = (tmp_path / "outbox" / SAMPLE_DATE / "reader00000@example.org.eml").read_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["From"].addresses[0].addr_spec == "digest@xn--xbr-dtbb.az"
    assert message["Reply-To"].addresses[0].addr_spec == "redaksiya@xn--xbr-dtbb.az"
    assert "<daily.xn--xbr-dtbb.az>" in str(message["List-Id"])
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://xn--xbr-dtbb.az/%C3%A7%C4%B1x?token=")
    assert "<mailto:leave@xn--xbr-dtbb.az?subject=" in unsubscribe
    assert unsubscribe.count("<") == 2 and "Bcc" not in head.decode()


def test_crlf_or_angle_brackets_in_the_unsubscribe_url_never_reach_a_message(
        config: Path):
    add_subscribers(config, numbered(1))
    clean = config.read_text(encoding="utf-8")
    for bad in ('"https://news.example.org/u\\r\\nBcc: everyone@example.org"',
                '"https://news.example.org/u>, <https://evil.example/"'):
        config.write_text(re.sub(r'unsubscribe_url = ".*"', lambda _m, b=bad:
                                 f"unsubscribe_url = {b}", clean), encoding="utf-8")
        result = invoke(config, "send", "--date", SAMPLE_DATE, code=2)
        assert re.search(r"line \d+: \[email\] unsubscribe_url:", result.stderr)
    assert not (config.parent / "outbox").exists()


# -- item 7: configuration errors that used to crash ----------------------------------------


def test_a_config_that_is_not_utf8_is_named_with_its_line(config: Path):
    config.write_bytes(config.read_bytes().replace(b'"Aze Daily Digest"',
                                                   '"Gündəlik"'.encode("latin-1",
                                                                       "replace"), 1))
    result = invoke(config, "status", code=2)
    assert "line 2: not UTF-8 text" in result.stderr and "UTF-8" in result.stderr


def test_deeply_nested_toml_is_a_configuration_error(config: Path):
    config.write_text(config.read_text() + "\n[extra]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    result = invoke(config, "status", code=2)
    assert "nested too deeply" in result.stderr


def test_a_duplicated_key_is_named_with_both_lines(config: Path):
    lines = config.read_text().splitlines()
    at = lines.index('transport = "file"')
    lines.insert(at + 1, 'transport = "smtp"')
    config.write_text("\n".join(lines) + "\n")
    result = invoke(config, "status", code=2)
    assert (f"line {at + 2}: [email] transport: defined twice (first on line {at + 1})"
            in result.stderr)


def test_a_syntax_error_in_an_editor_template_names_the_file_and_line(config: Path):
    templates = config.parent / "templates"
    templates.mkdir()
    (templates / "email.html").write_text("<html>\n<body>\n{% if %}\n</body></html>\n")
    config.write_text(config.read_text().replace('lookback_hours = 48',
                                                 'lookback_hours = 48\ntemplates = "templates"'))
    invoke(config, "fetch")
    result = invoke(config, "preview", "--date", SAMPLE_DATE, code=2)
    assert f"template {templates / 'email.html'}, line 3:" in result.stderr
    assert "fix the template" in result.stderr


# -- item 9: what a killed run leaves behind ----------------------------------------------


def test_leftovers_of_a_killed_run_are_removed_by_the_next(config: Path):
    add_subscribers(config, numbered(1))
    outbox = config.parent / "outbox" / SAMPLE_DATE
    outbox.mkdir(parents=True)
    (outbox / ".tmp-k2j4h5.eml").write_bytes(b"From: half a message")
    public = config.parent / "public"
    (public / "editions").mkdir(parents=True)
    (public / ".index.html.a1b2c3d4.tmp").write_text("half a page")
    (public / "editions" / f".{SAMPLE_DATE}.html.zz_9y8x7.tmp").write_text("half")
    (public / ".editors-notes.tmp").write_text("not ours")  # not a name we make
    invoke(config, "send", "--date", SAMPLE_DATE)
    assert sorted(p.name for p in outbox.iterdir()) == ["reader00000@example.org.eml"]
    assert [p.name for p in public.rglob("*.tmp")] == [".editors-notes.tmp"]


# -- item 12: very large editions ------------------------------------------------------


def test_an_edition_of_18000_articles_builds_and_the_email_shows_what_fits(config: Path):
    settings = load_config(config)
    now = dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC)
    summary = "<p>A paragraph of the article's summary.</p>"
    headline = "a headline of very many words, as some sites write them, " * 10
    articles = tuple(StoredArticle(
        id=n, key=f"k{n}", link=f"https://news.example.org/{n}", title=f"Article {n}: {headline}",
        summary_html=summary, excerpt="An excerpt.", author=None, published=now,
        first_seen=now, image=None, reading_minutes=1, categories=frozenset({"news"}))
        for n in range(18_000))
    edition = Edition(dt.date(2026, 11, 25), (Section("news", "News", articles),), now, id=1)
    env = environment()
    feeds = render_feeds(settings, [edition], env)
    atom = next(v for k, v in feeds.items() if k.endswith("atom.xml"))
    assert len(atom) > 10_000_000  # over libxml2's default limit for one text node
    pages = render_site(settings, [edition], env)
    page = next(str(v) for k, v in pages.items() if k == f"editions/{SAMPLE_DATE}.html")
    assert page.count("https://news.example.org/17999") >= 1  # the archive keeps all
    email = render_email(settings, edition, env)
    assert len(email.html.encode()) <= HTML_BUDGET
    assert "https://news.example.org/0" in email.html


# -- item 13: small things ----------------------------------------------------------------


def test_quiet_import_prints_only_the_rejected_lines(config: Path, tmp_path: Path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,name,categories\na@example.org,A,\nnot-an-address,B,\n")
    result = invoke(config, "-q", "subscribers", "import", str(csv_file))
    # A rejected line is a warning: -q keeps warnings, on stderr, and prints no data.
    [line] = result.stderr.splitlines()
    assert line.startswith(f"warning: {csv_file}:3: not-an-address: rejected (")
    assert result.stdout == ""


def test_a_quiet_file_send_without_an_unsubscribe_url_is_silent(config: Path):
    config.write_text(re.sub(r'unsubscribe_url = ".*"\n', "", config.read_text()))
    add_subscribers(config, numbered(1))
    result = invoke(config, "-q", "send", "--date", SAMPLE_DATE)
    assert result.stderr == "" and result.stdout == ""


def test_after_a_permanent_refusal_the_run_does_not_promise_a_rerun_will_help(
        tmp_path: Path):
    sink = Sink(rcpt={"reader00001@example.org": ["550 5.1.1 no such user"]})
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(3))
        result = invoke(config, "send", "--date", SAMPLE_DATE, code=1)
        again = invoke(config, "send", "--date", SAMPLE_DATE)
    assert "1 address(es) were refused for good" in result.stderr
    assert "run `digest send` again" not in result.stderr
    assert "sent 0" in again.stderr or "nothing to send" in again.stderr


def test_the_charset_is_declared_early_and_the_text_links_are_bracketed(config: Path):
    add_subscribers(config, numbered(1))
    invoke(config, "send", "--date", SAMPLE_DATE)
    raw = (config.parent / "outbox" / SAMPLE_DATE / "reader00000@example.org.eml").read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html_bytes = html_part.get_content().encode("utf-8")
    assert 0 <= html_bytes.find(b'<meta charset="utf-8">') < 1024 - 30
    text = text_part.get_content()
    browser = next(line for line in text.splitlines() if line.startswith("View in your"))
    assert re.fullmatch(r"View in your browser: <https://\S+>", browser), browser


def test_an_address_no_header_can_hold_fails_alone(config: Path):
    add_subscribers(config, numbered(2))
    with Store(state_of(config)) as store:  # stored before addresses were checked
        store.upsert_subscriber("müller@example.org", "Müller", ())
    result = invoke(config, "send", "--date", SAMPLE_DATE, code=1)
    assert "sent 2, deferred 0, failed 1" in result.stderr
    assert "müller@example.org: refused (the address is not plain ASCII" in result.stderr
    written = {p.name for p in (config.parent / "outbox" / SAMPLE_DATE).glob("*.eml")}
    assert written == {f"{a}.eml" for a, _, _ in numbered(2)}


def test_a_dry_run_counts_an_address_no_header_can_hold_as_a_failure(config: Path):
    add_subscribers(config, numbered(2))
    with Store(state_of(config)) as store:  # stored before addresses were checked
        store.upsert_subscriber("müller@example.org", "Müller", ())
    result = invoke(config, "send", "--date", SAMPLE_DATE, "--dry-run", code=1)
    assert "would send 2, deferred 0, failed 1" in result.stderr
    assert "müller@example.org: refused (the address is not plain ASCII" in result.stderr
    assert not (config.parent / "outbox" / SAMPLE_DATE).exists()
