"""The pure choice of an edition's articles: window, dedupe across categories, order."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from digest.config import CategoryConfig
from digest.deliver.policy import sections_for
from digest.edition import edition_cutoff, select_edition
from digest.models import StoredArticle, Subscriber

UTC = dt.UTC
BAKU = zoneinfo.ZoneInfo("Asia/Baku")
CATEGORIES = (
    CategoryConfig("news", "News", ("n",)),
    CategoryConfig("economy", "Economy", ("e",)),
    CategoryConfig("energy", "Energy", ("g",)),
)
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def article(id: int, hours_ago: float | None, *cats: str, seen_hours_ago: float = 0,
            terms: tuple[str, ...] = ()) -> StoredArticle:
    published = NOW - dt.timedelta(hours=hours_ago) if hours_ago is not None else None
    return StoredArticle(
        id=id, key=f"k{id}", link=f"https://news.example.org/{id}/", title=f"Article {id}",
        summary_html="", excerpt="", author=None, published=published,
        first_seen=NOW - dt.timedelta(hours=seen_hours_ago), image=None, reading_minutes=3,
        categories=frozenset(cats), terms=frozenset(terms),
    )


def select(*articles: StoredArticle, lookback: float = 48):
    return select_edition(dt.date(2026, 11, 25), articles, CATEGORIES, cutoff=NOW,
                          lookback=dt.timedelta(hours=lookback), created_at=NOW)


def test_sections_follow_config_order_and_articles_newest_first():
    edition = select(article(1, 5, "energy"), article(2, 1, "news"), article(3, 2, "news"),
                     article(4, 3, "economy"))
    assert edition is not None
    assert [s.slug for s in edition.sections] == ["news", "economy", "energy"]
    assert [a.id for a in edition.sections[0].articles] == [2, 3]


def test_article_in_several_categories_appears_once_under_the_first():
    edition = select(article(1, 2, "energy", "economy"), article(2, 1, "energy"))
    assert edition is not None
    assert [(s.slug, [a.id for a in s.articles]) for s in edition.sections] == [
        ("economy", [1]), ("energy", [2])]


def test_window_is_lookback_hours_before_the_cutoff():
    edition = select(article(1, 47, "news"), article(2, 49, "news"), article(3, -1, "news"))
    assert edition is not None
    assert [a.id for a in edition.sections[0].articles] == [1]


def test_first_seen_counts_when_the_source_gives_no_date():
    edition = select(article(1, None, "news", seen_hours_ago=3),
                     article(2, None, "news", seen_hours_ago=60))
    assert edition is not None
    assert [a.id for a in edition.sections[0].articles] == [1]


def test_no_articles_means_no_edition():
    assert select(article(1, 100, "news")) is None
    assert select() is None


def test_articles_of_categories_no_longer_configured_are_left_out():
    assert select(article(1, 1, "sport")) is None


def test_cutoff_is_now_for_today_and_end_of_day_for_a_past_date():
    now = dt.datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 09:00 in Baku
    assert edition_cutoff(dt.date(2026, 11, 26), BAKU, now) == now
    assert edition_cutoff(dt.date(2026, 11, 25), BAKU, now) == dt.datetime(
        2026, 11, 25, 20, 0, tzinfo=UTC)  # midnight in Baku (UTC+4)


def test_subscriber_categories_pick_sections():
    edition = select(article(1, 1, "news"), article(2, 1, "energy"))
    assert edition is not None
    everyone = Subscriber(1, "a@example.org", "A")
    energy = Subscriber(2, "b@example.org", "B", frozenset({"energy", "culture"}))
    culture = Subscriber(3, "c@example.org", "C", frozenset({"culture"}))
    assert sections_for(everyone, edition) == {"news", "energy"}
    assert sections_for(energy, edition) == {"energy"}
    assert sections_for(culture, edition) == frozenset()
    assert [s.slug for s in edition.for_categories(frozenset({"energy"})).sections] == [
        "energy"]


def sections(edition) -> list[tuple[str, list[int]]]:
    assert edition is not None
    return [(s.slug, [a.id for a in s.articles]) for s in edition.sections]


def test_an_article_is_filed_under_the_categories_it_names_itself():
    # News's feed carries its child Economy's posts: each goes where it says it belongs.
    edition = select(article(1, 1, "news", terms=("Economy",)),
                     article(2, 2, "news", terms=("News",)),
                     article(3, 3, "news", terms=("Energy", "Economy")),
                     article(4, 4, "news", "energy", terms=("Energy",)))
    assert sections(edition) == [("news", [2]), ("economy", [1, 3]), ("energy", [4])]


def test_terms_match_by_slug_or_title_case_and_entities_aside():
    categories = (CategoryConfig("news", "News", ("n",)),
                  CategoryConfig("climate", "Climate & Ecology", ("c",)),
                  CategoryConfig("logistics-transport", "Logistics", ("l",)))
    edition = select_edition(
        dt.date(2026, 11, 25),
        [article(1, 1, "news", terms=("climate &amp; ecology",)),
         article(2, 2, "news", terms=("CLIMATE",)),
         article(3, 3, "news", terms=("Logistics-Transport",)),
         article(4, 4, "news", terms=("Logistics Transport",)),
         article(5, 5, "news", terms=("Opinion", "uncategorized"))],
        categories, cutoff=NOW, lookback=dt.timedelta(hours=48), created_at=NOW)
    assert sections(edition) == [("news", [5]), ("climate", [1, 2]),
                                 ("logistics-transport", [3, 4])]


def test_a_named_category_counts_even_when_no_source_of_it_carried_the_article():
    edition = select(article(1, 1, "gone-category", terms=("Energy",)),
                     article(2, 1, "gone-category", terms=("Sports",)))
    assert sections(edition) == [("energy", [1])]


def test_subscribers_of_a_category_get_every_article_filed_in_it():
    edition = select(article(1, 1, "news", terms=("Economy",)), article(2, 2, "news"))
    assert edition is not None
    economy = edition.for_categories(frozenset({"economy"}))
    assert sections(economy) == [("economy", [1])]
