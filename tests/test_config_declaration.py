"""Each config key is declared once (digest/config/declaration.py): the README tables,
the template `digest init` writes, the defaults and the validation all come from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from digest.config import Config, EmailConfig, FetchConfig, SmtpConfig, load_config
from digest.config.declaration import DECLARING, KNOWN_KEYS, Setting, declared, settings
from digest.config.reference import README, readme, toml_value
from digest.errors import ConfigError
from digest.scaffold import render_config

# The tables whose every key `digest init` writes, set or commented out.
SCALAR_TABLES = ("digest", "email", "smtp", "fetch", "feeds")
MINIMAL = """[digest]
title = "T"
link = "https://news.example.org/"
public_url = "https://news.example.org/digest/"

[[categories]]
slug = "news"
feeds = ["news.xml"]

[email]
from = "T <digest@news.example.org>"

[smtp]
"""


def all_settings() -> list[Setting]:
    return [s for cls in DECLARING for _, s in declared(cls)]


def test_readme_tables_are_the_declaration():
    text = README.read_text(encoding="utf-8")
    assert readme(text) == text, "run `python -m digest.config.reference`"
    for s in all_settings():
        row = re.search(rf"^\| `{re.escape(s.key)}` \| .* \| (.*) \|$", _block(text, s.table),
                        re.MULTILINE)
        assert row is not None, f"[{s.table}] {s.key} has no row in README.md"
        assert row.group(1).startswith(s.help)


def _block(text: str, table: str) -> str:
    start = text.index(f"<!-- config keys: {table} ")
    return text[start:text.index("<!-- end of config keys -->", start)]


def test_known_keys_are_the_declared_ones():
    for s in all_settings():
        assert s.key in KNOWN_KEYS[s.table]
        assert s.table in KNOWN_KEYS[""]
    assert sum(len(v) for k, v in KNOWN_KEYS.items() if k) == len(all_settings())


def test_the_template_holds_every_key_after_its_help(tmp_path: Path):
    text = render_config(None)
    for table in SCALAR_TABLES:
        section = text[re.search(rf"^(# )?\[{table}\]$", text, re.MULTILINE).start():]
        for s in settings(table):
            line = re.search(rf"^(# )?{re.escape(s.key)} = (.*)$", section, re.MULTILINE)
            assert line is not None, f"[{table}] {s.key} is not in the template"
            before = section[:line.start()].splitlines()[-1]
            assert before.startswith("# ") and before[2:12] in s.help.replace("`", "")


def test_the_template_uncommented_gives_the_declared_defaults(tmp_path: Path):
    # Every key left commented out with its default, uncommented: the same Config.
    defaults = {(s.key, toml_value(s.default)) for s in all_settings()}
    lines = []
    for line in render_config(None).splitlines():
        key = re.fullmatch(r"# ([a-z_]+) = (.*)", line)
        if re.fullmatch(r"# \[[a-z]+\]", line) or (key and key.groups() in defaults):
            line = line[2:]
        lines.append(line)
    (tmp_path / "templates").mkdir()
    commented = tmp_path / "commented.toml"
    commented.write_text(render_config(None), encoding="utf-8")
    uncommented = tmp_path / "uncommented.toml"
    uncommented.write_text("\n".join(lines), encoding="utf-8")
    for line in ("lookback_hours = 48", "[fetch]", "connect_timeout = 10"):
        assert line in lines
    one, other = load_config(commented), load_config(uncommented)
    assert dataclasses.replace(one, path=other.path) == other


def _resolved(value: object, folder: Path) -> object:
    return (folder / value).resolve() if isinstance(value, Path) else value


@pytest.mark.parametrize("cls", [Config, EmailConfig, SmtpConfig, FetchConfig])
def test_an_absent_key_takes_the_dataclass_default(tmp_path: Path, cls: type):
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    loaded = {Config: config, EmailConfig: config.email, SmtpConfig: config.smtp,
              FetchConfig: config.fetch}[cls]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    checked = 0
    for name, s in declared(cls):
        if s.required or s.table == "categories":
            continue
        assert getattr(loaded, name) == _resolved(fields[name].default, tmp_path), name
        checked += 1
    assert checked >= 5
    assert config.email.transport == "smtp"


def _problems(tmp_path: Path, table: str, line: str) -> str:
    path = tmp_path / "config.toml"
    body = MINIMAL.replace(f"[{table}]\n", f"[{table}]\n{line}\n") if f"[{table}]\n" in \
        MINIMAL else f"{MINIMAL}\n[{table}]\n{line}\n"
    path.write_text(body, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        return "\n".join(exc.problems)
    return ""


NUMBERS = [s for s in all_settings() if s.kind in ("number", "integer")]


@pytest.mark.parametrize("s", NUMBERS, ids=lambda s: f"{s.table}.{s.key}")
def test_numbers_are_checked_against_their_declared_bounds(tmp_path: Path, s: Setting):
    assert s.minimum is not None
    integer = s.kind == "integer"
    low = s.minimum - 1 if integer else s.minimum / 2 if s.minimum else -1
    assert f"[{s.table}] {s.key}: must be" in _problems(tmp_path, s.table,
                                                         f"{s.key} = {toml_value(low)}")
    if s.maximum is not None:
        high = s.maximum + 1
        problems = _problems(tmp_path, s.table, f"{s.key} = {toml_value(high)}")
        assert f"[{s.table}] {s.key}: must be between {s.minimum:g} and {s.maximum:g}" \
            in problems
        assert _problems(tmp_path, s.table, f"{s.key} = {toml_value(s.maximum)}") == ""
    assert _problems(tmp_path, s.table, f"{s.key} = {toml_value(s.minimum)}") == ""


CHOICES = [s for s in all_settings() if s.choices]


@pytest.mark.parametrize("s", CHOICES, ids=lambda s: f"{s.table}.{s.key}")
def test_choices_are_the_declared_ones(tmp_path: Path, s: Setting):
    problems = _problems(tmp_path, s.table, f'{s.key} = "pigeon"')
    assert f"[{s.table}] {s.key}: must be " in problems
    assert all(repr(choice) in problems for choice in s.choices)
    for choice in s.choices:
        assert _problems(tmp_path, s.table, f"{s.key} = {toml_value(choice)}") == ""


@pytest.mark.parametrize("s", [s for s in all_settings() if s.table in SCALAR_TABLES],
                         ids=lambda s: f"{s.table}.{s.key}")
def test_a_misspelt_key_is_named_with_the_declared_one(tmp_path: Path, s: Setting):
    problems = _problems(tmp_path, s.table, f"{s.key}x = 1")
    assert f"[{s.table}] {s.key}x: unknown key; did you mean {s.key!r}?" in problems
