"""Real parts on loopback: an HTTP server for feeds, aiosmtpd for mail, SQLite in tmp.

The fixtures start and stop them; the classes and helpers are in tests/support/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support.project import SAMPLE
from support.servers import FeedServer, Mailbox, SmtpServer, free_port
from wordpress_site import PACKAGES, WordPressSite, missing_packages, start_site


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller, mailbox)
    controller.stop()


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A copy of the bundled sample feeds in a temporary folder."""
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture(scope="session")
def wordpress_server() -> Iterator[WordPressSite]:
    """One real WordPress per session (tests/wordpress_site.py), stopped after."""
    missing = missing_packages()
    if missing:
        pytest.skip(f"a real WordPress needs the Debian packages {PACKAGES} "
                    f"(.ci/run installs them); missing: {missing}")
    with start_site() as site:
        yield site


@pytest.fixture
def wordpress(wordpress_server: WordPressSite) -> WordPressSite:
    """The session's WordPress, as seeded: reset first if an earlier test changed it."""
    wordpress_server.reset_if_changed()
    return wordpress_server
