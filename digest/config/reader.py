"""Reading config.toml: the file's bytes to TOML (with the line of what is wrong), then
typed values out of its tables, collecting every problem with its line and key."""

from __future__ import annotations

import difflib
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.config.declaration import KNOWN_KEYS, NUMBER_CEILING
from digest.errors import ConfigError

# What a missing required table must hold at least, for the message that reports it.
REQUIRED_KEYS = {
    "digest": "title, link and public_url",
    "email": 'from = "Name <digest@example.org>"',
    "smtp": "host and port (or set [email] transport = \"file\")",
}


def parse(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its TOML; ConfigError when it is missing, not UTF-8 or not TOML."""
    if not path.is_file():
        raise ConfigError(
            str(path),
            [
                "the file does not exist; pass --config PATH, set DIGEST_CONFIG, "
                "or run from the folder holding config.toml (`digest init` writes one)"
            ],
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), [
            f"line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as "
            "UTF-8 (in most editors: 'Save with encoding')"]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [_toml_problem(text, exc)]) from None
    except RecursionError:
        raise ConfigError(str(path), [
            "not valid TOML: values are nested too deeply; the digest's keys need at most "
            "two levels"]) from None


class Reader:
    """Pulls typed values out of the parsed TOML and collects problems with line numbers."""

    def __init__(self, path: Path, text: str) -> None:
        self.file = path
        self.lines = text.splitlines()
        self.problems: list[str] = []
        self.missing: set[str] = set()  # required tables that are absent

    def line_of(self, table: str, key: str, index: int | None = None) -> int | None:
        """The line of `key` inside `[table]` (the index-th `[[table]]`), best effort."""
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?$")
        keyre = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        seen = -1
        inside = table == ""
        for number, line in enumerate(self.lines, start=1):
            if line.lstrip().startswith("["):
                if header.match(line):
                    seen += 1
                    inside = index is None or seen == index
                else:
                    inside = False
                continue
            if inside and keyre.match(line):
                return number
        return None

    def problem(self, table: str, key: str, message: str, index: int | None = None) -> None:
        if table in self.missing:
            return  # "the table is missing" already says it, and what it needs
        line = self.line_of(table, key, index) if key else None
        if line is None:  # a key that is missing: point at its table's header instead
            line = self.header_line(table, index or 0)
        where = f"line {line}: " if line else ""
        name = f"[{table}]" if index is None else f"[[{table}]] #{(index or 0) + 1}"
        label = f"{name} {key}" if key else name
        self.problems.append(f"{where}{label}: {message}")

    def header_line(self, name: str, index: int = 0) -> int | None:
        """The line of the index-th `[name]`, `[[name]]` or `[name.…]` header."""
        if not name:
            return None
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(name) + r"\s*[\].]")
        found = [n for n, line in enumerate(self.lines, start=1) if header.match(line)]
        return found[index] if index < len(found) else None

    def unknown_tables(self, root: dict[str, Any]) -> None:
        """Top-level names the digest does not know: usually a misspelt table."""
        known = sorted(KNOWN_KEYS[""])
        for name, value in root.items():
            if name in known:
                continue
            is_table = isinstance(value, dict) or (
                isinstance(value, list) and bool(value) and isinstance(value[0], dict))
            line = self.header_line(name) if is_table else self.line_of("", name)
            where = f"line {line}: " if line else ""
            near = difflib.get_close_matches(name, known, n=1)
            if is_table:
                brackets = "[[{}]]" if isinstance(value, list) else "[{}]"
                hint = f"; did you mean {brackets.format(near[0])}?" if near else ""
                self.problems.append(f"{where}{brackets.format(name)}: unknown table{hint}")
            else:
                hint = f"; did you mean [{near[0]}]?" if near else ""
                self.problems.append(f"{where}{name}: unknown key outside any table{hint}")

    def unknown(self, table: str, data: dict[str, Any], index: int | None = None) -> None:
        if not table:
            self.unknown_tables(data)
            return
        known = KNOWN_KEYS[table]
        for key in data:
            if table == "smtp" and key == "password":
                continue  # reported on its own, with what to do instead
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                self.problem(table, key, f"unknown key{hint}", index)

    def text(self, table: str, data: dict[str, Any], key: str, default: str | None = None,
             *, required: bool = False, index: int | None = None) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(table, key, "is required", index)
            return default or ""
        if not isinstance(value, str):
            self.problem(table, key, f"must be a string, got {value!r}", index)
            return default or ""
        if required and not value.strip():
            self.problem(table, key, "must not be empty", index)
        return value

    def optional_text(self, table: str, data: dict[str, Any], key: str) -> str | None:
        value = self.text(table, data, key)
        return value or None

    def number(self, table: str, data: dict[str, Any], key: str, default: float,
               *, minimum: float, maximum: float | None = None, integer: bool = False) -> float:
        value = data.get(key, default)
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            kind = "an integer" if integer else "a number"
            self.problem(table, key, f"must be {kind}, got {value!r}")
            return default
        if not math.isfinite(value):
            self.problem(table, key, f"must be a finite number, got {value!r}")
            return default
        # No setting means anything past a billion (seconds: 31 years); larger values only
        # overflow later, far from the file.
        if maximum is None:
            if value < minimum or value > NUMBER_CEILING:
                relation = "at least" if value < minimum else "at most"
                bound = minimum if value < minimum else NUMBER_CEILING
                self.problem(table, key, f"must be {relation} {bound:g}, got {value!r}")
                return default
        elif value < minimum or value > maximum:
            self.problem(table, key, f"must be between {minimum:g} and {maximum:g}, "
                         f"got {value!r}")
            return default
        return float(value)

    def url(self, table: str, data: dict[str, Any], key: str, *, required: bool = False,
            https_only: bool = False) -> str:
        value = self.text(table, data, key, required=required)
        if value:
            parts = urlsplit(value)
            schemes = {"https"} if https_only else {"http", "https"}
            if parts.scheme not in schemes or not parts.netloc:
                allowed = " or ".join(sorted(schemes))
                self.problem(table, key, f"must be an absolute {allowed} URL, got {value!r}")
        return value

    def path(self, table: str, data: dict[str, Any], key: str, default: str) -> Path:
        value = self.text(table, data, key, default)
        return (self.file.parent / value).resolve()

    def table(self, root: dict[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
        value = root.get(name)
        if value is None:
            if required:
                needs = REQUIRED_KEYS.get(name)
                what = f"; add it with at least {needs}" if needs else ""
                self.problems.append(f"[{name}]: the table is missing{what}")
                self.missing.add(name)
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"[{name}]: must be a table")
            return {}
        return value


    def raise_problems(self) -> None:
        """ConfigError listing every problem, in file order, if there is any."""
        if self.problems:
            raise ConfigError(str(self.file), sorted(self.problems, key=_line_number))


def _toml_problem(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The TOML error, naming the key when it is one defined twice (tomllib does not)."""
    reason = str(exc)
    if "overwrite" in reason or "twice" in reason:
        duplicate = _duplicate_key(text)
        if duplicate is not None:
            return duplicate
    match = re.search(r"at line (\d+)", reason)
    if match:
        number = int(match.group(1))
        lines = text.splitlines()
        line = lines[number - 1] if 0 < number <= len(lines) else ""
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if key:
            return f"line {number}: {key.group(1)}: not valid TOML: {reason}"
    return f"not valid TOML: {reason}"


def _duplicate_key(text: str) -> str | None:
    """The first key (or table) defined twice, as a problem line, or None."""
    table = ""
    seen: dict[tuple[str, str], int] = {}
    tables: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if header:
            table = header.group(1)
            if table in tables:
                return (f"line {number}: [{table}]: the table is defined twice (first on "
                        f"line {tables[table]}); merge the two")
            tables[table] = number
            continue
        if re.match(r"\s*\[\[", line):
            table = f"[{line.strip()}]#{number}"  # each [[array]] entry is its own table
            continue
        key = re.match(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=", line)
        if key:
            name = key.group(1).strip('"')
            if (table, name) in seen:
                where = f"[{table}] " if table and not table.startswith("[") else ""
                return (f"line {number}: {where}{name}: defined twice (first on line "
                        f"{seen[table, name]}); keep one")
            seen[table, name] = number
    return None


def _line_number(problem: str) -> int:
    """Problems in file order; those without a line (missing things) last."""
    match = re.match(r"line (\d+):", problem)
    return int(match.group(1)) if match else sys.maxsize

