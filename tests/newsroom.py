"""A newsroom for delivery tests: the bundled sample feeds, a config, a list of subscribers."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from support.project import SAMPLE, write_config

from digest.cli import cli

SAMPLE_DATE = "2026-11-25"  # the sample feeds' articles make an edition of this date
CATEGORIES = (("news", "News"), ("economy", "Economy"), ("energy", "Energy"))


def sample_config(folder: Path, smtp_port: int, *, email_extra: str = "",
                  smtp_extra: str = "", tail: str = "") -> Path:
    """A config over the sample feeds, mailing to 127.0.0.1:`smtp_port`."""
    categories = [(slug, title, [str(SAMPLE / "feeds" / f"{slug}.xml")])
                  for slug, title in CATEGORIES]
    path = write_config(folder, categories, smtp_port=smtp_port, email_extra=email_extra)
    # [smtp] is the config's last table: extra lines land in it, then any further tables.
    path.write_text(path.read_text(encoding="utf-8") + smtp_extra + "\n" + tail + "\n",
                    encoding="utf-8")
    return path


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def add_subscribers(config: Path, addresses: list[tuple[str, str, str]]) -> None:
    """Import (email, name, categories) rows through `digest subscribers import`."""
    file = config.parent / "subscribers.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "categories"])
        writer.writerows(addresses)
    out = run(config, "subscribers", "import", str(file))
    assert f"{len(addresses)} added" in out, out


def numbered(count: int) -> list[tuple[str, str, str]]:
    return [(f"reader{n:05d}@example.org", f"Reader {n}", "") for n in range(count)]
