"""Real parts on loopback: an HTTP server for feeds, aiosmtpd for mail, SQLite in tmp.

The fixtures start and stop them; the classes and helpers are in tests/support/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dovecot_site
import postfix_site
import pytest
from aiosmtpd.controller import Controller
from dovecot_site import DovecotSite
from postfix_site import PostfixSite
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


# Real mail servers from Debian packages (tests/postfix_site.py, tests/dovecot_site.py). A
# missing package FAILS these fixtures rather than skipping: .ci/run installs both, so a
# skip would hide that the bounce tests did not run.


@pytest.fixture(scope="session")
def postfix_server() -> Iterator[PostfixSite]:
    """One private Postfix per session on a loopback port, stopped after."""
    missing = postfix_site.missing_packages()
    if missing:
        pytest.fail(f"a real Postfix needs the Debian package {postfix_site.PACKAGE} "
                    f"(.ci/run installs it); missing: {missing}", pytrace=False)
    with postfix_site.start_postfix() as site:
        yield site


@pytest.fixture
def postfix(postfix_server: PostfixSite) -> PostfixSite:
    return postfix_server


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotSite]:
    """One private Dovecot (IMAP) per session on a loopback port, stopped after."""
    missing = dovecot_site.missing_packages()
    if missing:
        pytest.fail(f"a real IMAP server needs the Debian package {dovecot_site.PACKAGE} "
                    f"(.ci/run installs it); missing: {missing}", pytrace=False)
    with dovecot_site.start_dovecot() as site:
        yield site


@pytest.fixture
def dovecot(dovecot_server: DovecotSite) -> DovecotSite:
    return dovecot_server
