"""The feed's next state after one read: a pure decision, tested without servers."""

from __future__ import annotations

import datetime as dt

from digest.models import Article, FeedState
from digest.sources.feed_state import next_feed_state, withdrawn
from digest.sources.fetch import Download
from digest.sources.normalise import ParsedFeed
from digest.sources.reading import Reading

URL = "https://news.example.org/feed/"
NOW = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
EARLIER = NOW - dt.timedelta(days=2)
ARTICLE = Article(key="1", link="https://news.example.org/a/", title="A", summary_html="<p>A</p>",
                  excerpt="A", author=None, published=EARLIER, image=None, reading_minutes=1,
                  feed_url=URL)
FAILING = FeedState(URL, etag='"old"', last_modified="Mon, 01 Mar 2026 06:00:00 GMT",
                    last_error="HTTP 500", failing_since=EARLIER, last_success=EARLIER)


def parsed(*articles: Article, warning: str | None = None) -> ParsedFeed:
    return ParsedFeed("News", "https://news.example.org/", articles, warning)


def test_a_read_feed_clears_the_failure_and_keeps_the_new_validators():
    reading = Reading(Download(URL, "ok", etag='"new"', last_modified=None), parsed(ARTICLE),
                      None)
    step = next_feed_state(FAILING, reading, NOW)
    assert step.outcome == "ok" and step.message is None
    assert step.articles == (ARTICLE,)
    assert step.state == FeedState(URL, etag='"new"', last_modified=None, last_success=NOW)


def test_an_unchanged_feed_keeps_its_validators_and_stores_nothing():
    step = next_feed_state(FAILING, Reading(Download(URL, "not_modified"), None, None), NOW)
    assert step.outcome == "not_modified" and step.articles is None
    assert (step.state.etag, step.state.last_modified) == (FAILING.etag, FAILING.last_modified)
    assert (step.state.last_error, step.state.failing_since, step.state.last_success) == (
        None, None, NOW)


def test_a_failure_keeps_when_failing_began_and_the_validators():
    reading = Reading(Download(URL, "error", error="HTTP 502"), None, "HTTP 502")
    step = next_feed_state(FAILING, reading, NOW)
    assert (step.outcome, step.message, step.articles) == ("error", "HTTP 502", None)
    assert step.state.failing_since == EARLIER and step.state.last_error == "HTTP 502"
    assert step.state.etag == FAILING.etag and step.state.last_success == EARLIER
    first = next_feed_state(FeedState(URL), reading, NOW)
    assert first.state.failing_since == NOW


def test_an_answer_that_parsed_to_nothing_is_a_failure():
    step = next_feed_state(FeedState(URL), Reading(Download(URL, "ok"), None, None), NOW)
    assert step.outcome == "error" and step.state.failing_since == NOW


def test_a_gone_feed_is_marked_and_a_waiting_one_keeps_retry_after():
    gone = next_feed_state(FeedState(URL), Reading(Download(URL, "gone"), None, "HTTP 410"), NOW)
    assert (gone.outcome, gone.message, gone.state.gone) == ("gone", "HTTP 410", True)
    assert gone.state.failing_since == NOW
    later = NOW + dt.timedelta(hours=1)
    waiting = next_feed_state(
        FeedState(URL), Reading(Download(URL, "waiting", retry_after=later), None, "HTTP 429"),
        NOW)
    assert (waiting.outcome, waiting.state.retry_after) == ("waiting", later)
    assert waiting.state.failing_since is None and not waiting.state.gone


def test_a_move_is_told_once_and_remembered():
    moved = "https://news.example.org/new-feed/"
    reading = Reading(Download(URL, "ok", moved_to=moved), parsed(ARTICLE), None)
    step = next_feed_state(FeedState(URL), reading, NOW)
    assert step.message == f"moved permanently to {moved}; update the config"
    assert step.state.moved_to == moved
    again = next_feed_state(step.state, reading, NOW)
    assert again.message is None and again.state.moved_to == moved


def test_warnings_and_notes_are_told_and_the_covered_date_kept():
    reading = Reading(Download(URL, "ok"), parsed(ARTICLE, warning="malformed XML"), None,
                      covered_from=EARLIER, note="the feed reaches back only to 28 Feb")
    step = next_feed_state(FeedState(URL), reading, NOW)
    assert step.message == "malformed XML; the feed reaches back only to 28 Feb"
    assert step.state.covered_from == EARLIER


def test_what_a_wordpress_source_looked_up_is_kept_even_when_reading_failed():
    reading = Reading(Download(URL, "error"), None, "the posts answer is not JSON",
                      api_root="https://news.example.org/wp-json/", category_id=7)
    step = next_feed_state(FeedState(URL), reading, NOW)
    assert (step.state.api_root, step.state.category_id) == (
        "https://news.example.org/wp-json/", 7)
    kept = next_feed_state(step.state, Reading(Download(URL, "not_modified"), None, None), NOW)
    assert (kept.state.api_root, kept.state.category_id) == (
        "https://news.example.org/wp-json/", 7)


def test_withdrawn_are_the_articles_given_before_that_a_complete_read_no_longer_lists():
    since = NOW - dt.timedelta(hours=48)
    given = [("1", EARLIER + dt.timedelta(hours=1)),  # listed again
             ("2", NOW - dt.timedelta(hours=3)),  # retracted
             ("3", since),  # at the limit: the read may not reach it
             ("4", since - dt.timedelta(hours=1)),  # before it
             ("5", None)]  # undated: tells nothing
    assert withdrawn([ARTICLE], given, since) == {"2"}
    assert withdrawn([], [], since) == frozenset()
