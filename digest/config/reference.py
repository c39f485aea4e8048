"""What the declaration says, written out: the README's tables of keys and the commented
settings of the config.toml `digest init` writes (digest/scaffold/config.toml.j2).

`python -m digest.config.reference` rewrites the tables in README.md; a test fails when
they are not what the declaration says.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digest.config.declaration import Setting, settings

README = Path(__file__).resolve().parents[2] / "README.md"
# Each generated table sits between these two lines; NAME is the TOML table.
BEGIN = "<!-- config keys: {name} (generated from digest/config/declaration.py by " \
        "`python -m digest.config.reference`; do not edit) -->"
END = "<!-- end of config keys -->"
_BLOCK = re.compile(r"<!-- config keys: (?P<name>[a-z]+) .*?-->\n.*?" + re.escape(END),
                    re.DOTALL)


def toml_value(value: Any) -> str:
    """A TOML literal for a default or an example."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def _default(s: Setting) -> str:
    if s.shown is not None:
        return s.shown
    if s.required:
        return "required"
    if s.default == "":
        return "none" if s.kind not in ("text", "mailbox") else '`""`'
    return f"`{toml_value(s.default)}`"


def _bounds(s: Setting) -> str:
    if s.kind not in ("number", "integer") or s.minimum is None:
        return ""
    if s.maximum is None:
        return f" (at least {s.minimum:g})"
    return f" ({s.minimum:g} to {s.maximum:g})"


def table(name: str) -> str:
    """The Markdown table of one TOML table's keys."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{s.key}` | {_default(s)} | {s.help}{_bounds(s)} |" for s in settings(name)]
    return "\n".join(rows)


def readme(text: str) -> str:
    """`text` (README.md) with every generated table as the declaration says."""
    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        return f"{BEGIN.format(name=name)}\n{table(name)}\n{END}"
    return _BLOCK.sub(block, text)


def template_settings(name: str, values: Mapping[str, Any] | None = None,
                      notes: Mapping[str, str] | None = None,
                      examples: Mapping[str, Any] | None = None) -> str:
    """The keys of one table for the config `digest init` writes, each after its help:
    those in `values` set, every other one commented out with its example (from
    `examples`, else the declaration's) or its default; `notes` go before a key's help."""
    values, notes, examples = values or {}, notes or {}, examples or {}
    lines: list[str] = []
    for s in settings(name):
        if notes.get(s.key):
            lines.append(f"# {notes[s.key]}")
        first = re.split(r"\. (?=[A-Z])", s.help.replace("`", ""))[0]  # its first sentence
        help_text = first + _bounds(s)
        lines += textwrap.wrap(help_text, 86, initial_indent="# ", subsequent_indent="# ",
                               break_on_hyphens=False)
        if s.key in values:
            lines.append(f"{s.key} = {toml_value(values[s.key])}")
        else:
            shown = examples.get(s.key, s.example if s.example is not None else s.default)
            lines.append(f"# {s.key} = {toml_value(shown)}")
    return "\n".join(lines)


def main() -> int:
    """Rewrite the tables in README.md; with --check, exit 1 when they are out of date."""
    text = README.read_text(encoding="utf-8")
    fresh = readme(text)
    if "--check" in sys.argv[1:]:
        return int(fresh != text)
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
