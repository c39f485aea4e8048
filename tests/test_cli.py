"""The command line, driven with click's CliRunner and as a real `python -m digest` process."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from feeds import Item, rss
from support.project import SAMPLE, write_config
from support.servers import FeedServer, Route

from digest import __version__, clidoc
from digest.cli import cli
from digest.lock import run_lock

ROOT = Path(__file__).resolve().parents[1]
SLUGS = ("news", "economy", "energy", "climate-and-ecology", "opinion", "culture", "science")
DATE = "2026-11-25"  # the sample's articles are of 24-25 November 2026


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A digest folder over the bundled sample feeds, mail written to outbox/."""
    folder = tmp_path / "site"
    shutil.copytree(SAMPLE, folder / "sample")
    categories = [(slug, slug.replace("-", " ").title(), [f"sample/feeds/{slug}.xml"])
                  for slug in SLUGS]
    write_config(folder, categories, transport="file")
    return folder


def invoke(project: Path, *args: str, code: int = 0, color: bool = False,
           env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(project / "config.toml"), *args],
                                color=color, env=env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def digest(cwd: Path, *args: str, code: int = 0,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m digest ARGS` as cron would run it: in a folder, no terminal."""
    result = subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    return result


def sent_project(project: Path) -> Path:
    invoke(project, "subscribers", "import", str(project / "sample" / "subscribers.csv"))
    invoke(project, "send", "--date", DATE)
    return project


def test_every_commands_help_ends_with_an_example():
    """As sqlite-utils does: the last paragraph of each command's text is a runnable example."""
    for path in all_commands():
        command = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        text = (command.help or "").rstrip()
        example = [line.strip() for line in text.rsplit("\n\n", 1)[-1].splitlines()]
        assert example[0] == "\b" and example[1].startswith("Example"), path
        assert any("digest " in line for line in example[2:]), path


def all_commands() -> list[list[str]]:
    found = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(cli, [])
    return found


# -- every command ------------------------------------------------------------


def test_every_command_has_help_with_the_global_options():
    paths = all_commands()
    assert ["editions", "show"] in paths and ["subscribers", "export"] in paths
    for path in paths:
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Global options:" in result.stdout, path
        for option in ("--config PATH", "-v, --verbose", "-q, --quiet", "--version"):
            assert option in result.stdout, (path, option)
    root = CliRunner().invoke(cli, ["-h"]).stdout
    assert "Exit codes:" in root
    for line in ("0  done", "1  mail left undelivered", "2  usage or configuration error",
                 "3  another run holds the lock"):
        assert line in root


def test_global_options_work_before_and_after_the_command_name(project: Path):
    config = str(project / "config.toml")
    runner = CliRunner()
    before = runner.invoke(cli, ["--config", config, "-q", "fetch"])
    after = runner.invoke(cli, ["fetch", "--config", config, "-q"])
    assert before.exit_code == after.exit_code == 0
    assert before.stderr == after.stderr == ""  # -q: nothing to say on a good run

    loud = runner.invoke(cli, ["editions", "list", "--config", config, "-v"])
    assert loud.stderr.strip() == "0 edition(s)"
    verbose = runner.invoke(cli, ["fetch", "-v", "--config", config])
    assert "sample/feeds/news.xml [news]: 6 entries, 0 new" in verbose.stderr

    for args in (["--version"], ["status", "--version"], ["subscribers", "add", "--version"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0
        assert result.stdout == f"digest {__version__}\n"


def owned_words(command: click.Command) -> list[str]:
    """The help text we wrote for a command and its options, whitespace folded.

    Click lays these out (wrapping, columns, its own "Show this message" lines)
    and may change that layout in any release; the words are ours.
    """
    def fold(text: str) -> str:
        text = text.split("\f")[0]
        return " ".join(line for line in text.split() if line != "\b")

    words = [fold(command.help or "")]
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            words += [*param.opts, *param.secondary_opts, fold(param.help or "")]
    return [w for w in words if w]


def test_the_cli_reference_in_docs_is_generated_from_help_and_up_to_date():
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    regenerate = "docs/cli.md is out of date: run `python -m digest.clidoc > docs/cli.md`"
    sections = {block.split("\n", 1)[0]: " ".join(block.split())
                for block in current.split("\n## ")[1:]}
    assert sorted(sections) == sorted(" ".join(["digest", *p]) for p in all_commands())
    for path in all_commands():
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        for words in owned_words(command):
            assert words in sections[" ".join(["digest", *path])], f"{regenerate} ({words!r})"
    # With the click release it was generated with, the file is exactly --help's text;
    # a newer click may lay the same words out differently, which is not drift.
    if current != clidoc.render():
        warnings.warn("docs/cli.md differs from this click's layout of the same help; "
                      "regenerate it with `python -m digest.clidoc > docs/cli.md`", stacklevel=1)


# -- the daily job and what status says about it ------------------------------


def test_send_then_status_and_editions_in_text_and_json(project: Path):
    invoke(project, "subscribers", "import", str(project / "sample" / "subscribers.csv"))
    result = invoke(project, "send", "--date", DATE)
    assert result.stdout == ""  # a job prints messages, not data
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"done: edition {DATE} (")
    assert last.endswith("articles), 4 message(s) sent")
    assert len(list((project / "outbox" / DATE).glob("*.eml"))) == 4
    assert (project / "public" / "index.html").is_file()

    show = json.loads(invoke(project, "editions", "show", DATE, "--json").stdout)
    total = sum(len(s["articles"]) for s in show["sections"])
    assert show["articles"] == total > 0
    assert [s["slug"] for s in show["sections"]] == list(SLUGS)
    assert show["delivery"] == "sent"

    status = invoke(project, "status", "--json")
    data = json.loads(status.stdout)
    state = project / "state" / "digest.sqlite3"
    assert data["state"]["path"] == str(state)
    assert data["state"]["bytes"] >= state.stat().st_size > 0
    assert data["state"]["editions"] == 1
    assert data["signup"] == {"waiting": 0, "waiting_since": None, "problem": None,
                              "refused": {}}
    assert [s["health"] for s in data["sources"]] == ["ok"] * len(SLUGS)
    assert all(s["last_success"] and s["failing_since"] is None for s in data["sources"])
    assert data["editions"] == [{
        "date": DATE, "articles": total,
        "sections": [{"slug": s["slug"], "title": s["title"], "articles": len(s["articles"])}
                     for s in show["sections"]],
        "delivery": "sent", "sent": 4, "deferred": 0, "failed": 0, "unknown": 0,
        "bounced": 0, "complained": 0, "blocked": 0}]
    assert data["subscribers"] == {"pending": 0, "active": 4, "paused": 0, "unsubscribed": 0,
                                   "bounced": 0}
    assert status.stderr.strip() == f"{len(SLUGS)} sources, 1 edition(s), 4 active subscribers"

    invoke(project, "unsubscribe", "tural.huseynov@example.com")
    text = invoke(project, "status").stdout
    assert f"State file: {state} (" in text
    assert f"  {DATE}  {total}" in text and "sent      4     0         0" in text
    assert "Subscribers: 0 pending, 3 active, 0 paused, 1 unsubscribed, 0 bounced" in text
    assert text.count("\n  ok ") == len(SLUGS)

    listing = invoke(project, "editions", "list")
    assert listing.stdout.splitlines()[0].split() == [
        "DATE", "ARTICLES", "DELIVERY", "SENT", "DEFERRED", "FAILED", "UNKNOWN", "SECTIONS"]
    assert listing.stdout.splitlines()[1].startswith(f"{DATE}  {total}")
    assert listing.stdout.splitlines()[1].split()[3:7] == ["4", "0", "0", "0"]
    listed = json.loads(invoke(project, "editions", "list", "--json").stdout)[0]
    assert (listed["sent"], listed["unknown"]) == (4, 0)

    shown = invoke(project, "editions", "show", "latest").stdout
    assert shown.startswith(f"Edition {DATE}: {total} articles, sent\n")
    first = show["sections"][0]
    assert f"\n{first['title']} ({len(first['articles'])})\n" in shown
    assert f"  {first['articles'][0]['title']}\n    {first['articles'][0]['link']}" in shown


def test_editions_show_says_which_dates_exist(project: Path):
    result = invoke(project, "editions", "show", "latest", code=1)
    assert "there is no state file at" in result.stderr  # and none is made
    assert "`digest fetch` makes one" in result.stderr
    invoke(project, "subscribers", "add", "a@example.org")  # makes the state file
    result = invoke(project, "editions", "show", "latest", code=1)
    assert "there is no edition yet; `digest send`" in result.stderr
    sent_project(project)
    result = invoke(project, "editions", "show", "2020-01-01", code=1)
    assert "no edition of 2020-01-01; `digest editions list` shows the dates" in result.stderr
    result = invoke(project, "editions", "show", "25/11/2026", code=2)
    assert "'25/11/2026' is not a date like 2026-11-25, `today` or `latest`" in result.stderr


def test_status_tells_which_feed_is_failing_since_when(tmp_path: Path,
                                                       feed_server: FeedServer):
    feed_server.routes["/category/news/feed/"] = Route(
        200, {"Content-Type": "application/rss+xml"}, rss("news", [Item(1, "A", None)]))
    feed_server.routes["/category/economy/feed/"] = Route(500, {}, b"database error")
    write_config(tmp_path, [
        ("news", "News", [feed_server.url("/category/news/feed/")]),
        ("economy", "Economy", [feed_server.url("/category/economy/feed/")])])
    result = invoke(tmp_path, "fetch")  # one failing feed is a warning, not a failure
    bad = feed_server.url("/category/economy/feed/")
    assert f"warning: {bad} [economy]: HTTP 500 Internal Server Error" in result.stderr
    data = json.loads(invoke(tmp_path, "status", "--json").stdout)
    news, economy = data["sources"]
    assert (news["health"], economy["health"]) == ("ok", "error")  # flagged after a day
    assert economy["last_error"] == "HTTP 500 Internal Server Error"
    assert economy["failing_since"] and economy["last_success"] is None
    status = invoke(tmp_path, "status")
    assert f"{bad}: HTTP 500 Internal Server Error" in status.stdout
    assert "2 sources (1 with problems)" in status.stderr


# -- feeds check --------------------------------------------------------------


def test_feeds_check_prints_a_table_and_stores_nothing(tmp_path: Path,
                                                      feed_server: FeedServer):
    feed_server.routes["/good/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                         rss("news", [Item(1, "A", None), Item(2, "B", None)]))
    feed_server.routes["/old/"] = Route(301, {"Location": "/good/"})
    feed_server.routes["/page/"] = Route(200, {"Content-Type": "text/html"},
                                         b"<html><body>Not a feed</body></html>")
    urls = {name: feed_server.url(f"/{name}/") for name in ("good", "old", "page", "gone")}
    write_config(tmp_path, [("news", "News", [urls["good"], urls["old"]]),
                            ("economy", "Economy", [urls["page"], urls["gone"]])])
    result = invoke(tmp_path, "feeds", "check")
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["RESULT", "HTTP", "ENTRIES", "NEWEST", "SECONDS", "CATEGORIES", "URL"]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows[1:]] == [
        ("ok", "200", "2", urls["good"]), ("ok", "200", "2", urls["old"]),
        ("error", "200", "0", urls["page"]), ("error", "404", "0", urls["gone"])]
    assert f"warning: {urls['old']}: moved permanently to {urls['good']}" in result.stderr
    assert f"warning: {urls['gone']}: HTTP 404" in result.stderr
    assert result.stderr.strip().endswith("checked 4 feeds: 2 ok, 2 failed")
    assert not (tmp_path / "state").exists()  # nothing stored, not even a state file

    data = json.loads(invoke(tmp_path, "feeds", "check", "--json").stdout)
    assert [(c["outcome"], c["entries"], c["categories"]) for c in data] == [
        ("ok", 2, ["news"]), ("ok", 2, ["news"]), ("error", 0, ["economy"]),
        ("error", 0, ["economy"])]

    write_config(tmp_path, [("economy", "Economy", [urls["page"], urls["gone"]])])
    result = invoke(tmp_path, "feeds", "check", code=1)
    assert "error: none of the 2 feeds could be read; check the URLs in" in result.stderr


# -- subscribers --------------------------------------------------------------


def test_import_reports_every_line_with_the_reason(project: Path):
    invoke(project, "subscribers", "add", "leyla@example.org", "--name", "Leyla")
    invoke(project, "subscribers", "add", "same@example.org", "--name", "Same")
    listing = project / "list.csv"
    listing.write_text(
        "email,name,categories\n"
        "ayla@example.org,Ayla,news economy\n"
        "leyla@example.org,Leyla Mammadova,\n"
        "same@example.org,Same,\n"
        "not-an-address,Nobody,\n"
        "kamran@example.org,Kamran,sports\n"
        "AYLA@example.org,Ayla again,\n", encoding="utf-8")
    result = invoke(project, "subscribers", "import", str(listing))
    lines = result.stdout.splitlines()
    assert lines == [
        f"{listing}:2: ayla@example.org: added",
        f"{listing}:3: leyla@example.org: updated",
        f"{listing}:4: same@example.org: unchanged",
        f"{listing}:5: not-an-address: rejected (invalid address: an address looks like "
        "name@example.org)",
        f"{listing}:6: kamran@example.org: rejected (unknown category: sports (known: "
        f"{', '.join(sorted(SLUGS))}))",
        f"{listing}:7: AYLA@example.org: rejected (duplicate: the same address as line 2)",
    ]
    assert result.stderr.strip() == (f"imported {listing}: 1 added, 1 updated, 1 unchanged, "
                                     "3 rejected")
    again = invoke(project, "subscribers", "import", str(listing), "--json")
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert [r["outcome"] for r in records] == ["unchanged"] * 3 + ["rejected"] * 3
    assert records[3]["reason"].startswith("invalid address:")
    assert records[4]["line"] == 6 and records[4]["email"] == "kamran@example.org"

    bad = project / "bad.csv"
    bad.write_text("address,name\nx@example.org,X\n", encoding="utf-8")
    result = invoke(project, "subscribers", "import", str(bad), code=2)
    assert f"error: {bad}: the first line must name the columns email,name,categories" \
        in result.stderr
    bad.write_bytes("email,name\nfirst@example.org,A\nx@example.org,Günel\n".encode("latin-1"))
    result = invoke(project, "subscribers", "import", str(bad), code=2)
    assert f"error: {bad}:3: not UTF-8 text (invalid start byte); nothing was imported: " \
        "save the file as UTF-8 CSV" in result.stderr
    result = invoke(project, "subscribers", "list", "--status", "active")
    assert "first@example.org" not in result.stdout  # nothing of a refused file is kept


def test_export_writes_what_import_reads_back(project: Path, tmp_path: Path):
    invoke(project, "subscribers", "import", str(project / "sample" / "subscribers.csv"))
    invoke(project, "unsubscribe", "tural.huseynov@example.com")
    exported = invoke(project, "subscribers", "export")
    assert exported.stderr.strip() == "exported 4 subscriber(s)"
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["email"] for r in rows] == ["aysel.karimova@example.org",
                                          "tural.huseynov@example.com",
                                          "farid.ismayilov@example.org",
                                          "gunel.hasanova@example.com"]
    assert rows[1]["status"] == "unsubscribed"
    assert rows[2]["categories"] == "economy energy"
    assert rows[3]["name"] == "Günel Həsənova"

    records = json.loads(invoke(project, "subscribers", "export", "--format", "json").stdout)
    assert [r["email"] for r in records] == [r["email"] for r in rows]
    assert records[2]["categories"] == ["economy", "energy"]
    active = json.loads(invoke(project, "subscribers", "export", "--format", "json",
                               "--status", "active").stdout)
    assert len(active) == 3

    other = tmp_path / "other"
    other.mkdir()
    write_config(other, [(slug, slug, [str(project / "sample" / "feeds" / f"{slug}.xml")])
                         for slug in SLUGS])
    saved = other / "export.csv"
    saved.write_text(exported.stdout, encoding="utf-8")
    result = invoke(other, "subscribers", "import", str(saved))
    assert "4 added, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    again = list(csv.DictReader(io.StringIO(invoke(other, "subscribers", "export").stdout)))
    assert [(r["email"], r["name"], r["categories"]) for r in again] == \
        [(r["email"], r["name"], r["categories"]) for r in rows]


# -- errors and exit codes ----------------------------------------------------


def test_config_problems_are_all_reported_at_once_with_lines_and_exit_2(project: Path):
    config = project / "config.toml"
    config.write_text(config.read_text().replace('language = "en"', 'langauge = "en"')
                      .replace('transport = "file"', 'transport = "pigeon"'))
    result = invoke(project, "send", code=2)
    assert f"error: {config}: 2 problem(s) in the configuration:" in result.stderr
    assert "line 6: [digest] langauge: unknown key; did you mean 'language'?" in result.stderr
    assert "[email] transport: must be 'smtp' or 'file', got 'pigeon'" in result.stderr
    assert "Traceback" not in result.output
    assert not (project / "state").exists()  # nothing started


def test_misspelt_tables_and_keys_get_the_nearest_name_and_missing_keys_a_line(
        tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("""[digest]
title = "T"
public_url = "https://x.example/d/"
max_per_categry = 5

[[categories]]
slug = "news"
feeds = ["a.xml"]

[[categories]]
title = "No slug"
feeds = ["b.xml"]

[emial]
from = "a@b.org"
""", encoding="utf-8")
    result = invoke(tmp_path, "status", code=2)
    assert result.stderr.splitlines()[1:-1] == [
        "  - line 1: [digest] link: is required",
        "  - line 4: [digest] max_per_categry: unknown key; did you mean 'max_per_category'?",
        "  - line 10: [[categories]] #2 slug: is required",
        "  - line 14: [emial]: unknown table; did you mean [email]?",
        '  - [email]: the table is missing; add it with at least from = '
        '"Name <digest@example.org>"',
        '  - [smtp]: the table is missing; add it with at least host and port (or set '
        '[email] transport = "file")',
    ]


def test_a_held_lock_exits_3_and_no_feed_at_all_exits_1(project: Path):
    state = project / "state" / "digest.sqlite3"
    with run_lock(state):
        result = invoke(project, "fetch", code=3)
    assert f"another digest run (pid {os.getpid()}) is working on {state}" in result.stderr
    for feed in (project / "sample" / "feeds").glob("*.xml"):
        feed.unlink()
    result = invoke(project, "fetch", code=1)
    assert "error: no feed could be fetched; check the URLs above" in result.stderr
    assert "cannot read the file" in result.stderr
    result = invoke(project, "send", "--date", DATE, code=1)
    assert "no feed could be fetched" in result.stderr


def test_unexpected_errors_name_the_path_and_show_a_traceback_only_with_v(project: Path):
    (project / "public").write_text("a file where the output folder should be")
    result = invoke(project, "build", "--date", DATE, code=1)
    assert "error: " in result.stderr and str(project / "public") in result.stderr
    assert "Traceback" not in result.stderr
    result = invoke(project, "build", "--date", DATE, "-v", code=1)
    assert "Traceback (most recent call last)" in result.stderr


def test_no_color_when_no_color_is_set(project: Path):
    result = invoke(project, "subscribers", "add", "nope", code=2, color=True)
    assert "\x1b[31merror: \x1b[0m" in result.stderr
    result = invoke(project, "subscribers", "add", "nope", code=2, color=True,
                    env={"NO_COLOR": "1"})
    assert result.stderr.startswith("error: nope: an address looks like name@example.org")
    assert "\x1b[" not in result.stderr


# -- as a real process ----------------------------------------------------------


def test_every_command_as_a_real_process_in_the_digest_folder(project: Path):
    listing = str(project / "sample" / "subscribers.csv")
    result = digest(project, "subscribers", "import", listing)
    assert result.stdout.count(": added\n") == 4
    assert result.stderr == f"imported {listing}: 4 added, 0 updated, 0 unchanged, 0 rejected\n"
    piped = subprocess.run([sys.executable, "-m", "digest", "subscribers", "import", "-"],
                           cwd=project, input=Path(listing).read_bytes(),
                           capture_output=True, timeout=60)
    assert piped.returncode == 0
    assert piped.stdout.decode().splitlines()[0] == \
        "<stdin>:2: aysel.karimova@example.org: unchanged"
    digest(project, "subscribers", "add", "new@example.org", "--category", "science")
    digest(project, "subscribers", "remove", "new@example.org")
    assert "new@example.org\t\tscience\tunsubscribed" in digest(
        project, "subscribers", "list").stdout

    result = digest(project, "fetch")
    assert result.stdout == ""
    assert result.stderr.startswith(f"fetched {len(SLUGS)} feeds:")
    assert "fetching feeds" not in result.stderr  # no progress bar without a terminal
    result = digest(project, "build", "--date", DATE)
    assert f"edition {DATE}:" in result.stderr
    result = digest(project, "send", "--no-fetch", "--date", DATE)
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].endswith("4 message(s) sent")
    assert len(list((project / "outbox" / DATE).glob("*.eml"))) == 4
    assert "sending" not in result.stderr and "\x1b[" not in result.stderr

    status = json.loads(digest(project, "status", "--json").stdout)
    assert status["editions"][0]["sent"] == 4
    assert status["subscribers"] == {"pending": 0, "active": 4, "paused": 0,
                                    "unsubscribed": 1, "bounced": 0}
    assert digest(project, "status").stdout.startswith("State file: ")
    assert digest(project, "editions", "list").stdout.startswith("DATE")
    shown = json.loads(digest(project, "editions", "show", DATE, "--json").stdout)
    assert shown["date"] == DATE
    checked = digest(project, "feeds", "check")
    assert checked.stdout.count("\nok ") == len(SLUGS)
    exported = digest(project, "subscribers", "export", "--format", "json")
    assert len(json.loads(exported.stdout)) == 5
    digest(project, "unsubscribe", "aysel.karimova@example.org")
    result = digest(project, "unsubscribe", "nobody@example.org", code=1)
    assert "nobody@example.org: no such subscriber (see `digest subscribers list`)" in \
        result.stderr

    result = digest(project.parent, "status", code=2)  # no config.toml in that folder
    assert "config.toml: 1 problem(s)" in result.stderr
    assert "(`digest init` writes one)" in result.stderr
    result = digest(project, "send", "--date", "tomorrow", code=2)
    assert "Invalid value for --date: 'tomorrow' is not a date" in result.stderr


def on_a_terminal(cwd: Path, *args: str) -> tuple[int, bytes, str]:
    """Run `python -m digest ARGS` with stderr on a terminal: exit code, stdout, screen."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "digest", *args],
                               cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    code = process.wait(timeout=60)
    assert process.stdout is not None
    with process.stdout:
        return code, process.stdout.read(), screen.decode()


def test_progress_bars_with_counts_only_on_a_terminal(project: Path):
    digest(project, "subscribers", "import", str(project / "sample" / "subscribers.csv"))
    code, out, text = on_a_terminal(project, "send", "--date", DATE)
    assert code == 0 and out == b""
    assert "fetching feeds" in text and f"{len(SLUGS)}/{len(SLUGS)}" in text
    assert f"sending {DATE}" in text and "4/4" in text
    assert "done: edition" in text


def test_a_slow_fetch_shows_an_eta_and_warnings_clear_the_bar(tmp_path: Path,
                                                              feed_server: FeedServer):
    body = rss("news", [Item(1, "A", None)])
    # click estimates the time left once a second has passed.
    feed_server.routes["/slow/"] = Route(200, {"Content-Type": "application/rss+xml"}, body,
                                         delay=1.2)
    feed_server.routes["/fast/"] = Route(200, {"Content-Type": "application/rss+xml"}, body)
    write_config(tmp_path, [("news", "News", [feed_server.url("/slow/")]),
                            ("economy", "Economy", [feed_server.url("/fast/"),
                                                    feed_server.url("/missing/")])])
    code, out, text = on_a_terminal(tmp_path, "fetch")
    assert code == 0 and out == b""
    assert re.search(r"fetching feeds  \[#+-+\]  1/3  \d\d:\d\d:\d\d", text), text
    # The warning starts on a cleared line, not after the bar's text.
    assert f"\r\x1b[K\x1b[33mwarning: \x1b[0m{feed_server.url('/missing/')}" in text
    assert "3/3" in text


def test_fetch_and_send_print_json_for_scripts(project: Path):
    invoke(project, "subscribers", "add", "ayla@example.org")
    fetched = json.loads(invoke(project, "fetch", "--json", "-q").stdout)
    assert [f["url"] for f in fetched["feeds"]] == [
        str((project / "sample" / "feeds" / f"{slug}.xml").resolve()) for slug in SLUGS]
    assert fetched["new"] == sum(f["new"] for f in fetched["feeds"]) > 0
    assert fetched["failed"] == 0
    sent = json.loads(invoke(project, "send", "--date", DATE, "--json", "-q").stdout)
    assert sent["date"] == DATE and sent["dry_run"] is False
    assert sent["fetched"]["new"] == 0  # already fetched
    assert sent["edition"]["date"] == DATE and sent["edition"]["articles"] > 0
    assert sent["deliveries"][0]["sent"] == 1 and sent["undelivered"] is False


def test_a_closed_pipe_ends_quietly(project: Path):
    digest(project, "subscribers", "import", str(project / "sample" / "subscribers.csv"))
    process = subprocess.Popen([sys.executable, "-m", "digest", "subscribers", "export"],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `digest subscribers export | head -0`
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in err and "Exception ignored" not in err


def test_shell_completion_for_bash_zsh_and_fish(project: Path):
    for shell in ("bash", "zsh", "fish"):
        script = digest(project, env={"_DIGEST_COMPLETE": f"{shell}_source"}).stdout
        assert "_DIGEST_COMPLETE" in script and "digest" in script, shell
    words = digest(project, env={"_DIGEST_COMPLETE": "bash_complete",
                                 "COMP_WORDS": "digest sub", "COMP_CWORD": "1"}).stdout
    assert words.split() == ["plain,subscribers"]
    words = digest(project, env={"_DIGEST_COMPLETE": "bash_complete",
                                 "COMP_WORDS": "digest subscribers export --format ",
                                 "COMP_CWORD": "4"}).stdout
    assert words.split() == ["plain,csv", "plain,json"]
    words = digest(project, env={"_DIGEST_COMPLETE": "bash_complete",
                                 "COMP_WORDS": "digest subscribers add a@b.org --category e",
                                 "COMP_CWORD": "5"}).stdout
    assert words.split() == ["plain,economy", "plain,energy"]  # from config.toml
    complete_dates = {"_DIGEST_COMPLETE": "bash_complete",
                      "COMP_WORDS": "digest editions show ", "COMP_CWORD": "3"}
    assert digest(project, env=complete_dates).stdout.split() == []  # no state file yet
    assert not (project / "state").exists()
    invoke(project, "send", "--date", DATE, "-q")
    words = digest(project, env=complete_dates).stdout
    assert words.split() == ["plain,latest", "plain,today", f"plain,{DATE}"]
