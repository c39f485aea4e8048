"""The email as a reader sees it: headless Chromium at 320 and 600 px, light and dark,
with every <style> removed and with images blocked (EMAIL.md 13, 14, 16, 19, 21).

The messages are the ones `digest send` wrote (file transport), decoded from the .eml
bytes. Screenshots go to $DIGEST_SCREENSHOTS when set, else to pytest's temporary folder;
docs/email-light.png and docs/email-dark.png are the demo edition's, made this way.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from chromium import Chromium, chromium_or_skip
from click.testing import CliRunner
from email_site import site_config
from support.project import SAMPLE
from support.servers import FeedServer

from digest.cli import cli

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (320, 600)


def run(config: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, (result.output, result.exception)


def html_of(eml: Path) -> str:
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def without_styles(html: str) -> str:
    """The page as a client that drops every <style> shows it (inline styles stay)."""
    doc = lxml.html.document_fromstring(html)
    for style in list(doc.iter("style")):
        style.drop_tree()
    return "<!doctype html>\n" + lxml.html.tostring(doc, encoding="unicode")


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    chromium = Chromium(chromium_or_skip("the rendering checks need a real browser"))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("DIGEST_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo edition (config.toml, sample/, 2026-11-25) and the largest the caps allow."""
    found: dict[str, Path] = {}
    for name, language in (("demo", "en"), ("demo-ru", "ru")):
        demo = tmp_path_factory.mktemp(name)
        shutil.copytree(SAMPLE, demo / "sample")
        config = demo / "config.toml"
        text = (ROOT / "config.toml").read_text(encoding="utf-8")
        config.write_text(text.replace('language = "en"', f'language = "{language}"'),
                          encoding="utf-8")
        run(config, "subscribers", "import", str(demo / "sample" / "subscribers.csv"))
        run(config, "send", "--date", "2026-11-25")
        eml = demo / "outbox" / "2026-11-25" / "aysel.karimova@example.org.eml"
        found[name] = demo / f"{name}.html"
        found[name].write_text(html_of(eml), encoding="utf-8")

    big = tmp_path_factory.mktemp("largest")
    server = FeedServer()
    try:
        config = site_config(big, server, transport="file")
        run(config, "subscribers", "add", "reader@example.org")
        run(config, "send")
    finally:
        server.close()
    [eml] = (big / "outbox").glob("*/reader@example.org.eml")
    found["largest"] = big / "largest.html"
    found["largest"].write_text(html_of(eml), encoding="utf-8")
    for name in list(found):
        bare = found[name].with_name(f"{name}-nostyle.html")
        bare.write_text(without_styles(found[name].read_text(encoding="utf-8")),
                        encoding="utf-8")
        found[f"{name}-nostyle"] = bare
    return found


def colour(value: str) -> tuple[float, float, float]:
    found = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", value)
    assert found, value
    assert found.group(4) in (None, "1"), f"translucent text colour {value}"
    r, g, b = (int(found.group(i)) / 255 for i in (1, 2, 3))
    return r, g, b


def contrast(fore: str, back: str) -> float:
    def luminance(value: str) -> float:
        c = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in colour(value)]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    high, low = sorted((luminance(fore), luminance(back)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def top(page: str) -> int | None:
    """Screenshot height: the demo whole, the largest edition's first screens only."""
    return 1800 if page.startswith("largest") else None


def check_reads_well(m: dict[str, Any], width: int, what: str) -> None:
    """No horizontal scroll, text at least 14px, contrast at least 4.5:1."""
    assert m["viewport"] == width
    assert m["scrollWidth"] <= width and m["bodyScrollWidth"] <= width, (what, m["widest"])
    assert m["widest"]["right"] <= width + 0.5, (what, m["widest"])
    assert len(m["texts"]) > 50, what
    for t in m["texts"]:
        assert t["size"] >= 14, (what, t)
        assert t["right"] <= width + 0.5, (what, t)
        ratio = contrast(t["color"], t["background"])
        assert ratio >= 4.5, (what, round(ratio, 2), t)


@pytest.mark.parametrize("page", ["demo", "largest"])
@pytest.mark.parametrize("width", WIDTHS)
def test_reads_well_light_and_dark(browser: Chromium, pages: dict[str, Path], shots: Path,
                                   page: str, width: int) -> None:
    light = browser.render(pages[page], width=width, screenshot=shots / f"{page}-{width}.png",
                           height=top(page))
    check_reads_well(light, width, f"{page} {width}px light")
    dark = browser.render(pages[page], width=width, dark=True, height=top(page),
                          screenshot=shots / f"{page}-{width}-dark.png")
    check_reads_well(dark, width, f"{page} {width}px dark")
    # The dark scheme really changes the colours: the page background turns dark.
    assert colour(dark["texts"][0]["background"]) < (0.2, 0.2, 0.2)
    assert colour(light["texts"][0]["background"]) > (0.8, 0.8, 0.8)
    # The column never passes 600px, and on a phone it fills the screen.
    sheet = [t for t in light["texts"] if t["cls"] == "brand"]
    assert sheet, "masthead missing"
    if page == "largest":
        shown = [i for i in light["imgs"] if i["src"].startswith("https://")]
        assert shown and all(i["natural"] > 0 for i in shown)  # pictures loaded
        assert all(i["width"] <= 120 for i in shown)


@pytest.mark.parametrize("page", ["demo", "largest"])
@pytest.mark.parametrize("width", WIDTHS)
def test_reads_well_without_any_style_block(browser: Chromium, pages: dict[str, Path],
                                            shots: Path, page: str, width: int) -> None:
    m = browser.render(pages[f"{page}-nostyle"], width=width, height=top(page),
                       screenshot=shots / f"{page}-{width}-nostyle.png")
    check_reads_well(m, width, f"{page} {width}px without <style>")


def test_on_a_desktop_the_column_stays_600px_and_centred(
        browser: Chromium, pages: dict[str, Path], shots: Path) -> None:
    """The screenshots in docs/ (email-light.png, email-dark.png) are these two."""
    for dark, name in ((False, "email-light.png"), (True, "email-dark.png")):
        m = browser.render(pages["demo"], width=760, dark=dark, screenshot=shots / name)
        check_reads_well(m, 760, f"demo 760px {'dark' if dark else 'light'}")
        title = next(t for t in m["texts"] if t["cls"] == "brand")
        assert title["right"] < 760 - 80  # centred in a column, margins either side
        assert max(t["right"] for t in m["texts"]) <= (760 + 600) / 2


def test_longer_russian_words_still_fit_a_phone(browser: Chromium, pages: dict[str, Path],
                                                shots: Path) -> None:
    m = browser.render(pages["demo-ru"], width=320, height=1800,
                       screenshot=shots / "demo-ru-320.png")
    check_reads_well(m, 320, "demo in Russian, 320px")
    assert any("Новые статьи" in t["text"] for t in m["texts"])


@pytest.mark.parametrize("width", WIDTHS)
def test_reads_well_with_images_blocked(browser: Chromium, pages: dict[str, Path],
                                        shots: Path, width: int) -> None:
    m = browser.render(pages["largest"], width=width, images=False, height=top("largest"),
                       screenshot=shots / f"largest-{width}-noimages.png")
    check_reads_well(m, width, f"largest {width}px, images blocked")
    assert m["imgs"] and all(i["natural"] == 0 for i in m["imgs"])  # really blocked
    # A blocked picture keeps its declared box, so the text beside it does not jump.
    assert all(i["width"] <= 120 for i in m["imgs"])
