"""Config loading: the contract keys, relative paths, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_demo_config_loads_with_paths_relative_to_the_file():
    config = load_config(ROOT / "config.toml")
    assert config.title == "Aze Daily Digest"
    assert config.public_url.endswith("/")
    assert config.state == ROOT / "digest.sqlite3"
    assert config.output == ROOT / "public"
    assert config.email.transport == "file"
    assert config.email.outbox == ROOT / "outbox"
    assert [c.slug for c in config.categories][:2] == ["news", "economy"]
    assert all(Path(f).is_absolute() for c in config.categories for f in c.feeds)
    assert config.email.domain == "news.example.org"
    assert str(config.timezone) == "Asia/Baku"


def test_every_problem_is_reported_with_line_and_key(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(
        """[digest]
title = "T"
link = "not a url"
public_url = "https://x.example/"
timezone = "Mars/Olympus"
lookback_hours = "two days"
titel = "typo"

[[categories]]
slug = "Bad Slug"
feeds = []

[email]
from = "nobody"
transport = "pigeon"

[smtp]
port = 99999
security = "ssl"
password = "hunter2"
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(caught.value.problems)
    assert caught.value.exit_code == 2
    assert "line 3: [digest] link: must be an absolute" in text
    assert "line 5: [digest] timezone: unknown time zone 'Mars/Olympus'" in text
    assert "line 6: [digest] lookback_hours: must be a number" in text
    assert "line 7: [digest] titel: unknown key; did you mean 'title'?" in text
    assert "line 10: [[categories]] #1 slug: must be lowercase" in text
    assert "line 11: [[categories]] #1 feeds: must be a non-empty list" in text
    assert "line 14: [email] from: must be an address" in text
    assert "line 15: [email] transport: must be 'smtp' or 'file'" in text
    assert "line 18: [smtp] port: must be between 1 and 65535" in text
    assert "line 19: [smtp] security: must be 'none', 'starttls' or 'tls'" in text
    assert "line 20: [smtp] password: passwords never go in the file" in text
    assert len(caught.value.problems) == 11


def test_missing_file_and_broken_toml_say_what_to_do(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist; pass --config"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[digest\ntitle = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_duplicate_slugs_and_missing_tables(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(
        """[digest]
title = "T"
link = "https://x.example/"
public_url = "https://x.example/d/"

[[categories]]
slug = "news"
feeds = ["a.xml"]

[[categories]]
slug = "news"
feeds = ["b.xml"]
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(caught.value.problems)
    assert "[[categories]] #2 slug: 'news' is used by another category" in text
    assert "[email]: the table is missing" in text
