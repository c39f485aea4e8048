"""The whole sign-up flow in headless Chromium on a 320 px phone screen, against `digest
serve` on loopback with a real SMTP server: fill the form and submit it, open the
confirmation link from the captured mail and press its button, then open the manage
link of the newsletter, change the categories, pause, and save. Every page fits the
screen, and the state file follows each step. docs/signup-320.png, confirm-320.png and
manage-320.png are the pictures it takes (DIGEST_SCREENSHOTS=docs)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from chromium import Chromium, Tab, chromium_or_skip
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, run, sample_config
from test_manage import manage_link
from test_subscribe import ACTIVE, confirm_link, mails, row, served

from digest.config import load_config

WIDTH = 320
READER = "phone.reader@example.org"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    chromium = Chromium(chromium_or_skip("the flow needs a real browser"))
    yield chromium
    chromium.close()


def fits(tab: Tab, page: str) -> None:
    assert tab.overflow() <= 0, f"{page}: wider than {WIDTH}px by {tab.overflow()}px"


def test_sign_up_confirm_and_manage_in_a_phone_browser(browser: Chromium, tmp_path: Path):
    folder = os.environ.get("DIGEST_SCREENSHOTS")
    shots = Path(folder) if folder else tmp_path / "shots"
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, [(ACTIVE, "", "")])
        slugs = list(load_config(config).category_slugs)
        chosen, later = slugs[:2], slugs[2:3]
        with served(config) as base:
            tab = Tab(browser, base, width=WIDTH)
            try:
                tab.go(f"{base}/subscribe")
                fits(tab, "the form")
                tab.screenshot(shots / "signup-320.png")
                tab.run(f"""(() => {{
                    document.querySelector('#email').value = '{READER}';
                    document.querySelector('#name').value = 'Phone Reader';
                    for (const slug of {chosen!r})
                      document.querySelector(`input[name=category][value="${{slug}}"]`)
                        .checked = true;
                    return true; }})()""")
                tab.press("form button[type=submit]")
                assert "Check your inbox" in tab.text()
                fits(tab, "check your inbox")
                found = row(config, READER)
                assert found is not None and found["status"] == "pending"
                assert found["name"] == "Phone Reader"
                assert found["categories"].split() == sorted(chosen)

                [message] = mails(sink, READER)
                tab.go(base + confirm_link(message))
                fits(tab, "the confirmation page")
                tab.screenshot(shots / "confirm-320.png")
                assert row(config, READER)["status"] == "pending"  # type: ignore[index]
                tab.press("form button[type=submit]")
                assert "You are subscribed" in tab.text()
                fits(tab, "subscribed")
                assert row(config, READER)["status"] == "active"  # type: ignore[index]

                run(config, "send", "--date", SAMPLE_DATE)
                newsletter = mails(sink, READER)[-1]
                target = manage_link(newsletter)
                tab.go(base + target)
                fits(tab, "the manage page")
                tab.screenshot(shots / "manage-320.png")
                ticked = tab.run("[...document.querySelectorAll('input[name=category]')]"
                                 ".filter(b => b.checked).map(b => b.value)")
                assert sorted(ticked) == sorted(chosen)
                until = (dt.date.today() + dt.timedelta(days=10)).isoformat()
                tab.run(f"""(() => {{
                    for (const box of document.querySelectorAll('input[name=category]'))
                      box.checked = {later!r}.includes(box.value);
                    document.querySelector('#pause_until').value = '{until}';
                    return true; }})()""")
                tab.press("button[name=action][value=save]")
                fits(tab, "saved")
                assert until in tab.text()
            finally:
                tab.close()
    found = row(config, READER)
    assert found is not None
    assert (found["status"], found["categories"], found["paused_until"]) == (
        "paused", " ".join(later), until)
    assert urlsplit(target).path == "/manage"
