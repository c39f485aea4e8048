"""The `Digest` facade on its own: what its actions return and what they refuse, without
the CLI (the commands' behaviour is tested through the CLI elsewhere)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.project import write_config

from digest.app import Digest, InputError, NotFound, SubscriberChange, TokenAnswer
from digest.deliver.tokens import make_token, secret_for
from digest.errors import LockedError


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, [("sport", "Sport", ["http://127.0.0.1:9/sport.xml"])],
                        transport="file")


def test_opening_a_digest_creates_no_state_file_until_an_action_needs_one(config_path: Path):
    with Digest.open(config_path) as digest:
        assert digest.feed_locations() == ["http://127.0.0.1:9/sport.xml"]
        assert digest.edition_dates() == []
        assert not digest.config.state.exists()
        assert digest.subscribers() is not None
        assert digest.config.state.exists()


def test_the_run_lock_is_held_while_a_locked_digest_is_open(config_path: Path):
    with Digest.open(config_path, lock=True), pytest.raises(LockedError), \
            Digest.open(config_path, lock=True):
        pass
    with Digest.open(config_path, lock=True):  # released on leaving
        pass


def test_subscribers_are_managed_through_the_facade(config_path: Path):
    with Digest.open(config_path) as digest:
        assert digest.add_subscriber(" Reader@Example.ORG ", "Ayla", ["sport"]) == \
            SubscriberChange("Reader@example.org", "added")
        assert digest.add_subscriber("Reader@example.org", "Ayla", ["sport"]).outcome == \
            "unchanged"
        with pytest.raises(InputError, match="not-an-address"):
            digest.add_subscriber("not-an-address")
        with pytest.raises(InputError, match="unknown"):
            digest.add_subscriber("other@example.org", categories=["weather"])
        assert digest.unsubscribe("Reader@example.org") == \
            SubscriberChange("Reader@example.org", "unsubscribed")
        with pytest.raises(NotFound, match="no such subscriber"):
            digest.unsubscribe("nobody@example.org")
        assert [(s.email, s.status) for s in digest.subscribers()] == \
            [("Reader@example.org", "unsubscribed")]


def test_a_token_is_read_and_only_a_confirmed_one_unsubscribes(config_path: Path):
    with Digest.open(config_path) as digest:
        digest.add_subscriber("reader@example.org")
        token = make_token(secret_for(digest.store.secret), 1)
        assert digest.unsubscribe_by_token(token, confirmed=False) == \
            TokenAnswer("confirm", "reader@example.org")
        assert next(digest.subscribers()).status == "active"  # a GET changes nothing
        assert digest.unsubscribe_by_token(token, confirmed=True) == \
            TokenAnswer("done", "reader@example.org")
        assert next(digest.subscribers()).status == "unsubscribed"
        assert digest.unsubscribe_by_token(token, confirmed=False).state == "done"
        assert digest.unsubscribe_by_token(make_token(b"forged", 1), confirmed=True) == \
            TokenAnswer("invalid")
        assert digest.unsubscribe_by_token(None, confirmed=True) == TokenAnswer("invalid")
        assert digest.unsubscribe_by_token(make_token(secret_for(digest.store.secret), 7),
                                           confirmed=True) == TokenAnswer("not_listed")


def test_editions_that_do_not_exist_are_reported_not_returned_empty(config_path: Path):
    with Digest.open(config_path) as digest:
        assert digest.editions() == []
        with pytest.raises(NotFound, match="no edition yet"):
            digest.latest_edition_date()
        with pytest.raises(NotFound, match="no edition of 2026-11-25"):
            digest.edition(dt.date(2026, 11, 25))
        with pytest.raises(NotFound, match="run `digest fetch` first"):
            digest.preview(dt.date(2026, 11, 25))
        with pytest.raises(InputError, match="not a feed"):
            digest.reenable_feed("http://127.0.0.1:9/other.xml")
