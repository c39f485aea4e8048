"""The README's quick start, as a real subprocess of the installed `digest` command."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

import feedparser
import pytest
from localised import has_date

ROOT = Path(__file__).resolve().parents[1]
DIGEST = Path(sys.executable).with_name("digest")
EXECUTABLE = re.compile(rb"<script|<iframe|javascript:|\sonclick=|\sonerror=", re.I)


def digest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DIGEST), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    if not DIGEST.exists():
        pytest.skip(f"the digest command is not installed beside {sys.executable}")
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "sample", tmp_path / "sample")
    return tmp_path


def test_quick_start_runs_offline_and_is_idempotent(demo: Path):
    imported = digest(demo, "subscribers", "import", "sample/subscribers.csv")
    assert imported.returncode == 0, imported.stderr
    assert "4 added" in imported.stderr

    first = digest(demo, "send", "--date", "2026-11-25")
    assert first.returncode == 0, first.stderr
    assert "edition 2026-11-25: 31 articles; sent 4, deferred 0, failed 0" in first.stderr

    messages = sorted((demo / "outbox" / "2026-11-25").glob("*.eml"))
    assert [m.name for m in messages] == [
        "aysel.karimova@example.org.eml", "farid.ismayilov@example.org.eml",
        "gunel.hasanova@example.com.eml", "tural.huseynov@example.com.eml"]
    parser = BytesParser(policy=policy.default)
    farid = parser.parsebytes(messages[1].read_bytes())
    html = farid.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # Farid chose Economy and Energy: the cross-posted wind story comes under Energy.
    assert "Caspian offshore wind" in html
    assert ">Culture<" not in html and ">News<" not in html
    # The sample's pictures are 1200×800 (media:content): thumbnails keep that shape.
    assert re.search(r'<img[^>]*src="https://news\.example\.org/wp-content/uploads/[^"]+"'
                     r'[^>]*width="120" height="80"', html)

    public = demo / "public"
    for name in ("rss.xml", "atom.xml", "feed.json", "index.html", "archive.html",
                 "editions/2026-11-25.html"):
        assert (public / name).is_file(), name
    rss = feedparser.parse((public / "rss.xml").read_bytes())
    assert not rss.bozo and len(rss.entries) == 1
    # The opinion piece carries scripts, an iframe, onclick and a javascript: link.
    for path in [*public.rglob("*.*"), *messages]:
        assert not EXECUTABLE.search(path.read_bytes()), path
        # Its tracking pixel (an <img> written by a script) is no one's picture.
        assert b"tracker.example.net" not in path.read_bytes(), path

    again = digest(demo, "send", "--date", "2026-11-25")
    assert again.returncode == 0, again.stderr
    assert "sent 0" in again.stderr
    assert len(list((demo / "outbox" / "2026-11-25").glob("*.eml"))) == 4


def test_next_day_holds_only_the_new_article(demo: Path):
    assert digest(demo, "subscribers", "import", "sample/subscribers.csv").returncode == 0
    assert digest(demo, "send", "--date", "2026-11-25").returncode == 0
    config = demo / "config.toml"
    config.write_text(config.read_text().replace("science.xml", "science-late.xml"))
    nextday = digest(demo, "send", "--date", "2026-11-26")
    assert nextday.returncode == 0, nextday.stderr
    assert "edition 2026-11-26: 1 articles" in nextday.stderr
    messages = sorted((demo / "outbox" / "2026-11-26").glob("*.eml"))
    # Günel reads only Culture and Farid only Economy and Energy: nothing new for them.
    assert [m.name for m in messages] == ["aysel.karimova@example.org.eml",
                                          "tural.huseynov@example.com.eml"]
    text = messages[0].read_text()
    assert "Gobustan rock art" in text
    assert "Caspian offshore wind" not in text


def test_pages_follow_the_language_and_the_editors_words(demo: Path):
    config = demo / "config.toml"
    text = config.read_text().replace('language = "en"', 'language = "ru"')
    config.write_text(text + '\n[words]\narchive = "Все выпуски"\n')
    assert digest(demo, "fetch").returncode == 0
    built = digest(demo, "build", "--date", "2026-11-25")
    assert built.returncode == 0, built.stderr
    archive = (demo / "public" / "archive.html").read_text()
    assert "Все выпуски" in archive
    assert "31 статья" in archive  # CLDR plural: 31 takes the "one" form in Russian
    assert has_date(archive, dt.date(2026, 11, 25), "ru", weekday=False)
