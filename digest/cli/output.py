"""How the CLI presents data: JSON documents and lines, aligned tables, times, sizes.

Data goes to stdout; messages (progress, warnings, errors, the closing summary) go
to stderr through Settings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from digest.config import Config


def jsonable(value: Any) -> Any:
    """Dataclasses, dates and paths as JSON-ready values (dates in ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(data: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def emit_json_line(data: Any) -> None:
    click.echo(json.dumps(jsonable(data), ensure_ascii=False))


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns aligned with spaces, headers in capitals; the last column is not padded."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


def when(value: dt.datetime | None, config: Config) -> str:
    """A stored time as the editor reads it: local to the digest, to the minute."""
    if value is None:
        return "-"
    return value.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M")


def size(n: int) -> str:
    """A file size as people read it: 812 bytes, 1.4 MB."""
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"
