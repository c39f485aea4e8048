"""Pure decisions of a delivery run, tested without a mail server or a store."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.deliver.policy import (
    SendPass,
    another_pass,
    classify_reply,
    edition_done,
    receives,
    send_passes,
    should_bounce,
    shown_problems,
)
from digest.models import Subscriber, SubscriberStatus


@pytest.mark.parametrize(("code", "meaning"), [
    (250, "sent"),
    (550, "failed"), (552, "failed"), (554, "failed"),
    (421, "deferred"), (450, "deferred"), (452, "deferred"),
    (0, "deferred"),  # no reply at all: tried again later, never counted as refused
    (251, "deferred"),  # only 250 accepts the message itself
])
def test_what_a_reply_to_a_message_means(code: int, meaning: str):
    assert classify_reply(code) == meaning


def test_the_first_pass_goes_at_once_and_retries_wait_twice_as_long_each_time():
    assert send_passes(3, 30.0, retry_unknown=False) == [
        SendPass(0.0, False), SendPass(30.0, False), SendPass(60.0, False),
        SendPass(120.0, False)]
    assert send_passes(0, 30.0, retry_unknown=False) == [SendPass(0.0, False)]


def test_unknown_deliveries_are_sent_again_only_when_asked_and_only_in_the_first_pass():
    passes = send_passes(2, 5.0, retry_unknown=True)
    assert [p.include_unknown for p in passes] == [True, False, False]


def test_another_pass_only_for_the_deferred_or_untried():
    assert not another_pass(0, 0)
    assert another_pass(1, 0)
    assert another_pass(0, 3)


def test_an_edition_is_done_only_when_nobody_is_owed_it_and_nothing_stopped_the_run():
    assert edition_done(None, 0, 0)
    assert not edition_done(None, 1, 0)
    assert not edition_done(None, 0, 2)
    assert not edition_done("the mail server refused the login", 0, 0)


def test_three_refusals_in_a_row_bounce_an_address():
    assert not should_bounce(2)
    assert should_bounce(3)


def test_problems_shown_are_capped_with_a_count_of_the_rest():
    assert shown_problems(["a", "b"], 2) == ["a", "b"]
    assert shown_problems(["a", "b"], 5) == ["a", "b", "... and 3 more"]


DAY = dt.date(2026, 12, 10)


@pytest.mark.parametrize(("status", "until", "expected"), [
    ("active", None, True),
    ("paused", DAY + dt.timedelta(days=1), False),  # paused past the edition's day
    ("paused", DAY, False),  # the pause's last day is still paused
    ("paused", DAY - dt.timedelta(days=1), True),  # the pause is over
    ("paused", None, False),  # a pause without a date is no licence to send
    ("pending", None, False), ("unsubscribed", None, False), ("bounced", None, False),
])
def test_who_receives_an_edition(status: SubscriberStatus, until: dt.date | None,
                                 expected: bool):
    subscriber = Subscriber(1, "a@example.org", "", status=status, paused_until=until)
    assert receives(subscriber, DAY) is expected
