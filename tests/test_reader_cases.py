"""Reader cases: each feed in tests/data/parse/ beside the articles it must give.

A case is a feed document (its comment says what it checks) and a JSON file of the
fields the digest uses for each article, in feed order. The document's URL is
DOCUMENT_URL, the base of its relative URLs when it has no xml:base.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.project import DATA

from digest.models import Article
from digest.sources.parse import parse_feed

CASES = DATA / "parse"
NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
DOCUMENT_URL = "https://news.example.org/feeds/atom.xml"


HREF = re.compile(r'href="([^"]*)"')


def fields(a: Article) -> dict[str, Any]:
    return {
        "key": a.key, "link": a.link, "title": a.title, "author": a.author,
        "published": a.published.isoformat() if a.published else None,
        "excerpt": a.excerpt, "image": a.image,
        "image_size": list(a.image_size) if a.image_size else None,
        "links_in_text": HREF.findall(a.summary_html),
    }


def read(path: Path) -> list[dict[str, Any]]:
    return [fields(a) for a in parse_feed(path.read_bytes(), DOCUMENT_URL, now=NOW).articles]


@pytest.mark.parametrize("case", sorted(p.stem for p in CASES.glob("*.xml")))
def test_reader_case(case: str):
    expected = json.loads((CASES / f"{case}.json").read_text(encoding="utf-8"))
    assert read(CASES / f"{case}.xml") == expected


def test_every_case_has_its_expected_result():
    assert sorted(p.stem for p in CASES.glob("*.xml")) == sorted(
        p.stem for p in CASES.glob("*.json"))
    assert len(list(CASES.glob("*.xml"))) >= 10
