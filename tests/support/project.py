"""The project's files as the tests see them: where things are, and configs written."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample"
DATA = ROOT / "tests" / "data"
CORPUS = ROOT.parent / "shared" / "corpus" / "feedparser-6.0.14"


def write_config(folder: Path, categories: list[tuple[str, str, list[str]]], *,
                 transport: str = "smtp", smtp_port: int = 25, extra: str = "",
                 lookback_hours: int = 48, email_extra: str = "") -> Path:
    """A config.toml in `folder` for the given (slug, title, feeds) categories."""
    lines = [
        "[digest]",
        'title = "Aze Daily Digest"',
        'link = "https://news.example.org/"',
        'public_url = "https://news.example.org/digest/"',
        'description = "New articles, by category, every morning"',
        'language = "en"',
        'timezone = "Asia/Baku"',
        'state = "state/digest.sqlite3"',
        'output = "public"',
        f"lookback_hours = {lookback_hours}",
        extra,
        "",
    ]
    for slug, title, feeds in categories:
        quoted = ", ".join(f'"{f}"' for f in feeds)
        lines += ["[[categories]]", f'slug = "{slug}"', f'title = "{title}"',
                  f"feeds = [{quoted}]", ""]
    lines += [
        "[email]",
        'from = "Aze Daily Digest <digest@news.example.org>"',
        f'transport = "{transport}"',
        'outbox = "outbox"',
        'unsubscribe_url = "https://news.example.org/digest/unsubscribe"',
        email_extra,
        "",
        "[smtp]",
        'host = "127.0.0.1"',
        f"port = {smtp_port}",
        'security = "none"',
        "retry_delay = 0.05",  # deferred recipients are retried within the run at once
        "",
    ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
