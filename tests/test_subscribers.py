"""Subscriber lists in bulk: addresses, CSV import line by line, safe and streamed export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.project import write_config

from digest.cli import cli
from digest.store import Store

SLUGS = ("news", "economy")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_config(tmp_path, [(slug, slug.title(), [f"feeds/{slug}.xml"]) for slug in SLUGS],
                 transport="file")
    return tmp_path


def invoke(project: Path, *args: str, code: int = 0, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(project / "config.toml"), *args],
                                input=stdin)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def stored(project: Path) -> dict[str, tuple[str, str, str]]:
    """email -> (name, categories, status), read straight from the state file."""
    with Store(project / "state" / "digest.sqlite3") as store:
        return {s.email: (s.name, " ".join(sorted(s.categories)), s.status)
                for s in store.subscribers()}


def import_text(project: Path, text: str, *args: str) -> Result:
    listing = project / "list.csv"
    listing.write_text(text, encoding="utf-8")
    return invoke(project, "subscribers", "import", str(listing), *args)


# -- addresses ----------------------------------------------------------------------------


def test_international_domains_follow_idna_2008_not_2003(project: Path):
    invoke(project, "subscribers", "add", "user@straße.example.org")
    invoke(project, "subscribers", "add", "leyla@Bakı.example.org")
    assert set(stored(project)) == {"user@xn--strae-oqa.example.org",
                                    "leyla@xn--bak-lua.example.org"}
    # strasse.example.org is another domain, so another subscriber.
    invoke(project, "subscribers", "add", "user@strasse.example.org")
    assert "user@strasse.example.org" in stored(project)


def test_addresses_over_the_smtp_limits_are_refused_with_the_limit(project: Path):
    long_local = "a" * 65 + "@example.org"
    long_address = "b@" + ".".join(["c" * 60] * 5) + ".org"
    assert len(long_address) > 254
    fine = "d" * 64 + "@example.org"
    out = import_text(project, f"email\n{long_local}\n{long_address}\n{fine}\n").stdout
    lines = out.splitlines()
    assert lines[0].endswith("rejected (invalid address: the part before the @ is 65 "
                             "characters long; at most 64 are allowed (RFC 5321))")
    assert f"the address is {len(long_address)} characters long; at most 254" in lines[1]
    assert lines[2].endswith(f"{fine}: added")
    assert set(stored(project)) == {fine}
    result = invoke(project, "subscribers", "add", long_local, code=2)
    assert "at most 64 are allowed" in result.stderr


def test_non_ascii_mailbox_names_are_refused_plainly(project: Path):
    result = invoke(project, "subscribers", "add", "günel@example.org", code=2)
    assert "characters beyond ASCII before the @ are not supported" in result.stderr
    assert stored(project) == {}


@pytest.mark.parametrize(("address", "reason"), [
    ("not-an-address", "an address looks like name@example.org"),
    ("two..dots@example.org", "two periods"),
    ("a b@example.org", "no spaces"),
    ("x@-host.example.org", "hyphen"),
    ("x@example", "period"),
])
def test_malformed_addresses_are_refused(project: Path, address: str, reason: str):
    result = invoke(project, "subscribers", "add", address, code=2)
    assert reason in result.stderr, result.stderr


def test_plain_addresses_keep_their_mailbox_case_and_lower_the_domain(project: Path):
    invoke(project, "subscribers", "add", "Ayla.M+digest@News.Example.ORG")
    assert set(stored(project)) == {"Ayla.M+digest@news.example.org"}


# -- import ---------------------------------------------------------------------------------


def test_import_in_batches_reports_every_line_in_file_order(project: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    import digest.subscribers

    monkeypatch.setattr(digest.subscribers, "IMPORT_BATCH", 3)  # several transactions
    invoke(project, "subscribers", "add", "old@example.org", "--name", "Old")
    invoke(project, "subscribers", "add", "same@example.org", "--name", "Same")
    invoke(project, "unsubscribe", "same@example.org")
    rows = ["email,name,categories",
            "n0@example.org,N0,news", "old@example.org,Old Renamed,", "bad,X,",
            "n1@example.org,N1,", "same@example.org,Same,", "N0@example.org,dup,",
            "n2@example.org,N2,sports", "n3@example.org,N3,economy news", "n4@example.org,,"]
    result = import_text(project, "\n".join(rows) + "\n")
    outcomes = [line.split(": ", 2)[2] for line in result.stdout.splitlines()]
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == \
        [str(n) for n in range(2, 11)]
    assert outcomes[:2] == ["added", "updated"]
    assert outcomes[2].startswith("rejected (invalid address:")
    assert outcomes[3:5] == ["added", "unchanged"]
    assert outcomes[5] == "rejected (duplicate: the same address as line 2)"
    assert outcomes[6].startswith("rejected (unknown category: sports")
    assert outcomes[7:] == ["added", "added"]
    assert result.stderr.strip().endswith("4 added, 1 updated, 1 unchanged, 3 rejected")
    assert stored(project) == {
        "old@example.org": ("Old Renamed", "", "active"),
        "same@example.org": ("Same", "", "unsubscribed"),  # an import never re-activates
        "n0@example.org": ("N0", "news", "active"),
        "n1@example.org": ("N1", "", "active"),
        "n3@example.org": ("N3", "economy news", "active"),
        "n4@example.org": ("", "", "active"),
    }
    again = import_text(project, "\n".join(rows) + "\n")
    assert again.stderr.strip().endswith("0 added, 0 updated, 6 unchanged, 3 rejected")


def test_plain_blocks_are_read_as_row_by_row_reading_would(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """Blocks of plain rows are read in one go; any odd row (upper-case domain, spaces,
    spreadsheet quote, duplicate, blank, unknown category, long name, stray quote) sends
    its block row by row. Either way the report and the stored rows are the same."""
    import digest.subscribers
    from digest.subscribers import _Rows, import_rows

    odd = ["A@Example.ORG", " b@example.org", "'=c@example.org", "dup@example.org", "",
           "bad", "x@example.test", "y@xn--strae-oqa.example"]
    names = ["Günel Həsənova", "'=1+1", "two  spaces", " outer", "outer ", "x" * 101, "",
             "tab\tname", "x" * 100]
    cells = ["news", "economy news", "sports", " news"]
    lines = ["email,name,categories"]
    oddities = [(e, None, None) for e in odd] + [(None, n, None) for n in names] + \
        [(None, None, c) for c in cells] + [("'q@x.org", '"Stray', "")]
    for n in range(2000):  # one odd field every 12 rows: some blocks plain, some not
        email, name, cell = oddities[n // 12 % len(oddities)] if n % 12 == 0 else \
            (None, None, None)
        lines.append(f"{email if email is not None else f'r{n}@example.org'},"
                     f"{name if name is not None else f'Reader {n}'},{cell or ''}")
        if n % 97 == 0:
            lines.append(f"r{n - 1}@example.org,Again,")  # a duplicate of a plain row
    data = ("\n".join(lines) + "\n").encode()
    monkeypatch.setattr(digest.subscribers, "IMPORT_BATCH", 7)
    plain_blocks = []
    read_plain = _Rows.read_plain

    def counted(self: _Rows, block: list[digest.subscribers.Record]
                ) -> list[digest.subscribers.Row] | None:
        found = read_plain(self, block)
        plain_blocks.append(found is not None)
        return found

    results = []
    # A new list (the addresses of earlier transactions are found by the store) and one
    # that had a subscriber already (they are kept in memory); blocks read both ways.
    for seeded in (False, True):
        for reader in (counted, lambda self, block: None):
            monkeypatch.setattr(_Rows, "read_plain", reader)
            with Store(tmp_path / f"{len(results)}.sqlite3") as store:
                if seeded:
                    store.upsert_subscriber("someone@elsewhere.example", "", [])
                report = [line for batch in import_rows(data, "list.csv", store, SLUGS)
                          for line in batch]
                results.append((report, sorted(
                    (s.email, s.name, tuple(sorted(s.categories))) for s in store.subscribers()
                    if s.email != "someone@elsewhere.example")))
    assert results[0] == results[1] == results[2] == results[3]
    assert any(plain_blocks) and not all(plain_blocks)  # both ways were taken
    reasons = [line.reason or "" for line in results[0][0]]
    assert sum(r.startswith("duplicate: the same address as line") for r in reasons) > 10
    assert {line.outcome for line in results[0][0]} == {"added", "rejected"}


def test_a_write_from_elsewhere_during_an_import_changes_no_outcome(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A new list's import finds the duplicates of earlier transactions through the store;
    when another connection writes meanwhile, it reads the addresses back and goes on:
    every line's outcome is the one of an import into a list that was not new."""
    import digest.subscribers
    from digest.subscribers import import_rows

    monkeypatch.setattr(digest.subscribers, "IMPORT_BATCH", 3)
    rows = [f"a{n}@example.org" for n in range(7)] + ["a1@example.org", "A2@example.org"] + \
        [f"b{n}@example.org" for n in range(4)] + ["a5@example.org", "b1@example.org"]
    data = ("email\n" + "\n".join(rows) + "\n").encode()
    reports = []
    for seeded in (False, True):
        with Store(tmp_path / f"{seeded}.sqlite3") as store:
            if seeded:
                store.upsert_subscriber("someone@elsewhere.example", "", [])
            batches = import_rows(data, "list.csv", store, SLUGS)
            report = [*next(batches), *next(batches), *next(batches)]
            if not seeded:  # a sign-up through `digest serve`, say
                with Store(tmp_path / f"{seeded}.sqlite3") as other:
                    other.upsert_subscriber("late@elsewhere.example", "", [])
            report += [line for batch in batches for line in batch]
            reports.append(report)
    assert reports[0] == reports[1]
    assert [(line.line, line.reason) for line in reports[0] if line.reason] == [
        (9, "duplicate: the same address as line 3"),
        (10, "duplicate: the same address as line 4"),
        (15, "duplicate: the same address as line 7"),
        (16, "duplicate: the same address as line 12")]


@pytest.mark.parametrize("piped", [False, True])
def test_a_stream_is_checked_whole_before_any_row_is_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piped: bool):
    """Read in small pieces (characters cut between them), from a file or a pipe that
    cannot go back: a bad byte on a late line refuses the whole file, naming that line;
    a good one is imported whole, line numbers right."""
    import os
    import threading

    import digest.csvfile
    import digest.subscribers
    from digest.errors import ImportRefused
    from digest.subscribers import import_rows

    monkeypatch.setattr(digest.csvfile, "READ_CHUNK", 5)
    monkeypatch.setattr(digest.subscribers, "IMPORT_BATCH", 2)
    rows = "".join(f"r{n}@example.org,Günəl {n}\r\n" for n in range(9))
    good = ("\ufeffemail,name\n" + rows).encode()
    bad = good + "x@example.org,Günel\n".encode("latin-1") + b"y@example.org,Y\n"

    def source(data: bytes) -> io.BufferedReader | bytes:
        if not piped:
            return data
        read, write = os.pipe()
        threading.Thread(target=lambda: (os.write(write, data), os.close(write))).start()
        return open(read, "rb")  # the import closes it

    with Store(tmp_path / "state.sqlite3") as store:
        with pytest.raises(ImportRefused, match=r"^list.csv:11: not UTF-8 text"):
            import_rows(source(bad), "list.csv", store, SLUGS)
        assert list(store.subscribers()) == []
        report = [line for batch in import_rows(source(good), "list.csv", store, SLUGS)
                  for line in batch]
        assert [(line.line, line.email, line.outcome) for line in report] == [
            (n + 2, f"r{n}@example.org", "added") for n in range(9)]
        assert {s.name for s in store.subscribers()} == {f"Günəl {n}" for n in range(9)}


def test_quiet_import_prints_only_the_rejected_lines(project: Path):
    result = import_text(project, "email\nok@example.org\nbroken\n", "-q")
    assert result.stdout == ""
    assert result.stderr.strip() == (f"warning: {project / 'list.csv'}:3: broken: rejected "
                                     "(invalid address: an address looks like "
                                     "name@example.org)")
    assert set(stored(project)) == {"ok@example.org"}
    quiet_and_good = import_text(project, "email\nok2@example.org\n", "-q")
    assert quiet_and_good.stdout == quiet_and_good.stderr == ""


def test_a_field_over_128_kib_is_one_rejected_line_and_the_import_goes_on(project: Path):
    rows = ["email,name,categories", "first@example.org,First,",
            'stray@example.org,"Stray quote,']
    rows += [f"r{n:05d}@example.org,Reader {n}," for n in range(5000)]  # > 128 KiB
    rows += ["last@example.org,Last,"]
    result = import_text(project, "\n".join(rows) + "\n")
    lines = result.stdout.splitlines()
    assert lines[0].endswith("first@example.org: added")
    assert lines[1].startswith(f"{project / 'list.csv'}:3: (empty): rejected (unreadable "
                               "CSV (field larger than field limit")
    assert "stray quote" in lines[1]
    assert lines[2].endswith(":4: r00000@example.org: added")
    assert lines[-1].endswith(f":{len(rows)}: last@example.org: added")
    assert result.stderr.strip().endswith("5002 added, 0 updated, 0 unchanged, 1 rejected")
    assert len(stored(project)) == 5002


def test_a_stray_quote_closed_lines_later_loses_only_its_own_line(project: Path):
    text = ("email,name\n"
            'a@example.org,"Quote\n'
            "b@example.org,B\n"
            'c@example.org,C"\n'
            "d@example.org,D\n")
    result = import_text(project, text)
    lines = result.stdout.splitlines()
    assert ":2: (empty): rejected (a quoted field runs over lines 2-4" in lines[0]
    assert lines[1].endswith(":3: b@example.org: added")
    assert lines[2].endswith(":4: c@example.org: added")  # its name keeps the quote
    assert lines[-1].endswith(":5: d@example.org: added")
    assert {"b@example.org", "d@example.org"} <= set(stored(project))


def test_import_reads_standard_input_and_speaks_json(project: Path):
    result = invoke(project, "subscribers", "import", "-", "--json",
                    stdin="email,name\nx@example.org,X\ny,Y\n")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["file"], r["line"], r["email"], r["outcome"]) for r in records] == [
        ("<stdin>", 2, "x@example.org", "added"), ("<stdin>", 3, "y", "rejected")]


# -- export ---------------------------------------------------------------------------------


FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def test_export_neutralises_spreadsheet_formulas_and_import_reads_them_back(project: Path):
    import_rows = [["email", "name"], ["-dash@example.org", "Plain"]]
    import_rows += [[f"f{n}@example.org", name] for n, name in enumerate(FORMULAS)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(import_rows)
    import_text(project, buffer.getvalue())
    before = stored(project)
    exported = invoke(project, "subscribers", "export").stdout
    rows = list(csv.reader(io.StringIO(exported)))[1:]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    by_email = {r[0]: r[1] for r in rows}
    assert by_email["'-dash@example.org"] == "Plain"
    # "\t=1+1" is stored as "=1+1" (names are one line of text), never exported bare.
    assert by_email["f4@example.org"] == "'=1+1"
    assert by_email["f0@example.org"] == "'=1+1"

    (project / "again").mkdir()
    write_config(project / "again", [(slug, slug, [f"feeds/{slug}.xml"]) for slug in SLUGS],
                 transport="file")
    (project / "again" / "list.csv").write_text(exported, encoding="utf-8")
    invoke(project / "again", "subscribers", "import", str(project / "again" / "list.csv"))
    assert {e: v[:2] for e, v in stored(project / "again").items()} == \
        {e: v[:2] for e, v in before.items()}


def test_json_export_streams_the_same_document_as_a_whole_list(project: Path):
    import_text(project, "email,name,categories\nb@example.org,Bəxtiyar,news\n"
                         "a@example.org,=1+1,\n")
    assert json.loads(invoke(project, "subscribers", "export", "--format", "json",
                             "--status", "bounced").stdout) == []
    out = invoke(project, "subscribers", "export", "--format", "json").stdout
    records = json.loads(out)
    assert out == json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    assert [(r["email"], r["name"], r["categories"]) for r in records] == [
        ("b@example.org", "Bəxtiyar", ["news"]), ("a@example.org", "=1+1", [])]


def test_the_fast_address_check_agrees_with_email_validator(monkeypatch: pytest.MonkeyPatch):
    """Whatever the compiled pattern decides, the slow path (our length limits, then
    email-validator) decides the same way: the same address, or a refusal."""
    import random
    import re

    import digest.subscribers
    from digest.subscribers import FAST_ADDRESS, normalise_address

    rng = random.Random(15)
    pieces = ["a", "Z", "0", "-", "--", ".", "_", "+", "xn--", "'", "=", "test", "org",
              "TEST", "Onion", "x" * 63, "y" * 64]
    addresses = [  # at and over each limit; special-use names in any case; IDNA; odd dots
        "a" * 64 + "@example.org", "a" * 65 + "@example.org", "a@" + "b" * 63 + ".org",
        "a@" + "b" * 64 + ".org", "a@" + ".".join(["c" * 60] * 4) + ".org",
        "a@" + ".".join(["c" * 61] * 4) + ".org", "a@b.TEST", "a@b.Localhost", "a@b.arpa",
        "a@b.org.", "a@xn--strae-oqa.example", "a@Xn--Strae-oqa.example", "a..b@x.org",
        ".a@x.org", "a.@x.org", "a@-x.org", "a@x-.org", "a@x.o", "a@x.123", "A@B.ORG",
        "a@b--c.org", "first.last+tag@Sub.Example.COM", "o'neil@example.ie", " a@b.org "]
    for _ in range(3000):
        local = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        domain = ".".join("".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
                          for _ in range(rng.randint(1, 3))) + rng.choice([".org", ".de", ""])
        addresses.append(f"{local}@{domain}")

    def outcomes() -> list[str | None]:
        found: list[str | None] = []
        for address in addresses:
            try:
                found.append(normalise_address(address))
            except ValueError:
                found.append(None)
        return found

    ours = outcomes()
    monkeypatch.setattr(digest.subscribers, "FAST_ADDRESS", re.compile(r"(?!)"))  # never
    theirs = outcomes()
    for address, mine, slow in zip(addresses, ours, theirs, strict=True):
        assert mine == slow, address
    fast = sum(1 for a in addresses if FAST_ADDRESS.fullmatch(a.strip()))
    assert fast > 100  # the fast path was taken often enough to mean something
    assert sum(1 for a in addresses[:24] if FAST_ADDRESS.fullmatch(a.strip())) > 5
