"""Malformed configs, by the hundred: each exits 2 naming its key, never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

# A valid config as (table, key) -> TOML value; each case replaces or adds one key.
BASE: dict[tuple[str, str], str] = {
    ("digest", "title"): '"Aze Daily"',
    ("digest", "link"): '"https://news.example.org/"',
    ("digest", "public_url"): '"https://news.example.org/digest/"',
    ("digest", "language"): '"en"',
    ("digest", "timezone"): '"Asia/Baku"',
    ("digest", "lookback_hours"): "48",
    ("email", "from"): '"Aze Daily <digest@news.example.org>"',
    ("email", "transport"): '"smtp"',
    ("email", "unsubscribe_url"): '"https://news.example.org/digest/unsubscribe"',
    ("smtp", "host"): '"127.0.0.1"',
    ("smtp", "port"): "2525",
}

NUMBERS = {
    "digest": ["lookback_hours", "max_per_category"],
    "feeds": ["editions", "articles"],
    "email": ["retry_days"],
    "smtp": ["port", "timeout", "data_timeout", "connections", "rate", "retries",
             "retry_delay"],
    "fetch": ["connect_timeout", "read_timeout", "deadline", "max_bytes", "concurrency",
              "per_host"],
}
BAD_NUMBERS = ["inf", "-inf", "nan", "1e300", "99999999999", "-1", '"ten"', "true", "[1]",
               "{ a = 1 }", "1e-300"]
# 1e-300 is a fine retry_delay (next to nothing); every other key refuses it.
ALLOWED = {("smtp", "retry_delay", "1e-300")}

TEXTS: list[tuple[str, str, str]] = [
    ("email", "from", '"not an address"'),
    ("email", "from", '"Aze <digest@news.example.org>\\r\\nBcc: all@example.org"'),
    ("email", "from", '"a@news.example.org, b@news.example.org"'),
    ("email", "from", '"dïgest@news.example.org"'),
    ("email", "from", '"digest@exa mple.org"'),
    ("email", "from", '"digest@"'),
    ("email", "from", "42"),
    ("email", "unsubscribe_url", '"https://news.example.org/u\\r\\nBcc: all@example.org"'),
    ("email", "unsubscribe_url", '"https://news.example.org/u>, <https://evil.example/"'),
    ("email", "unsubscribe_url", '"https://news.example.org/a b"'),
    ("email", "unsubscribe_url", '"ftp://news.example.org/u"'),
    ("email", "unsubscribe_url", '"https://exa mple.org/u"'),
    ("email", "unsubscribe_mailto", '"nobody"'),
    ("email", "unsubscribe_mailto", '"leave@news.example.org\\nBcc: all@example.org"'),
    ("email", "unsubscribe_mailto", '"Leave <leave@news.example.org>"'),
    ("email", "reply_to", '"not an address"'),
    ("email", "reply_to", '"editors@news.example.org\\r\\nX-Evil: 1"'),
    ("email", "list_id", '"<<<>>>"'),
    ("email", "list_id", '"daily\\nnews"'),
    ("email", "list_id", '"no dots here"'),
    ("email", "list_id", '"Daily <a@b.example.org>"'),
    ("email", "feedback_id", '"a\\r\\nb"'),
    ("email", "subject", '"{date.year}"'),
    ("email", "subject", '"{title:>99999999999999}"'),
    ("email", "subject", '"{nope}"'),
    ("email", "subject", '"{title!r}"'),
    ("email", "subject", '"{"'),
    ("email", "subject", '"{0}"'),
    ("email", "transport", '"pigeon"'),
    ("digest", "language", '"xx"'),
    ("digest", "language", '"!!"'),
    ("digest", "timezone", '"America"'),
    ("digest", "timezone", '"Mars/Olympus"'),
    ("digest", "timezone", '"../../etc/passwd"'),
    ("digest", "link", '"not a url"'),
    ("digest", "thumbnails", '"yes"'),
    ("digest", "title", '""'),
    ("smtp", "security", '"ssl"'),
    ("smtp", "password", '"hunter2"'),
    ("smtp", "ca_file", '"missing.pem"'),
]

CASES = [(table, key, value) for table, keys in NUMBERS.items() for key in keys
         for value in BAD_NUMBERS if (table, key, value) not in ALLOWED] + TEXTS


def config_text(table: str, key: str, value: str) -> str:
    entries = {**BASE, (table, key): value}
    tables: dict[str, list[str]] = {}
    for (name, k), v in entries.items():
        tables.setdefault(name, []).append(f"{k} = {v}")
    text = "\n".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in tables.items())
    return text + '\n[[categories]]\nslug = "news"\ntitle = "News"\nfeeds = ["news.xml"]\n'


def test_the_table_is_large_and_the_base_is_valid(tmp_path: Path):
    assert len(CASES) >= 100
    path = tmp_path / "config.toml"
    path.write_text(config_text("digest", "title", '"Aze Daily"'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "editions", "list"])
    # the config is read whole; then the (missing) state file is named, not made
    assert result.exit_code == 1 and "there is no state file at" in result.output, \
        result.output


@pytest.mark.parametrize(("table", "key", "value"), CASES)
def test_a_malformed_value_exits_2_naming_its_key(tmp_path: Path, table: str, key: str,
                                                  value: str):
    path = tmp_path / "config.toml"
    path.write_text(config_text(table, key, value), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"[{table}] {key}:" in result.output
    assert "Traceback" not in result.output and "probably a bug" not in result.output
    assert not (tmp_path / "digest.sqlite3").exists()  # nothing was started
