"""`digest subscribers forget`: a privacy request erases a person, keeping only a salted
hash so that an import or `add` does not bring them back by accident."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config

GONE = "reader00001@example.org"


def test_forget_erases_the_address_name_consent_and_deliveries(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(3))
        run(config, "send", "--date", SAMPLE_DATE)
    state = config.parent / "state" / "digest.sqlite3"
    db = sqlite3.connect(state)
    [(gone_id,)] = db.execute("SELECT id FROM subscribers WHERE email = ?", (GONE,))
    assert db.execute("SELECT count(*) FROM deliveries WHERE subscriber_id = ?",
                      (gone_id,)).fetchone()[0] == 1
    db.close()

    assert "forgotten" in run(config, "subscribers", "forget", GONE.upper())
    db = sqlite3.connect(state)
    assert db.execute("SELECT count(*) FROM deliveries WHERE subscriber_id = ?",
                      (gone_id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2
    db.close()
    assert GONE not in run(config, "subscribers", "list")
    assert "reader00000@example.org" in run(config, "subscribers", "list")
    db = sqlite3.connect(state)
    assert db.execute("SELECT count(*) FROM subscribers WHERE email = ? OR name = ?",
                      (GONE, "Reader 1")).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM forgotten").fetchone()[0] == 1
    db.close()
    run(config, "subscribers", "forget", GONE, code=1)  # no longer there


def test_a_forgotten_address_comes_back_only_with_force(tmp_path: Path):
    config = sample_config(tmp_path, 2525)
    add_subscribers(config, numbered(2))
    run(config, "subscribers", "forget", GONE)

    csv = config.parent / "again.csv"
    csv.write_text(f"email,name\n{GONE},Again\nnew@example.org,New\n", encoding="utf-8")
    out = run(config, "subscribers", "import", str(csv))
    assert f"{GONE}: rejected (forgotten" in out and "new@example.org: added" in out
    assert GONE not in run(config, "subscribers", "list")
    out = run(config, "subscribers", "add", GONE, code=2)
    assert "forget" in out and "--force" in out

    assert f"{GONE}: added" in run(config, "subscribers", "import", "--force", str(csv))
    assert GONE in run(config, "subscribers", "list")


def test_a_forgotten_persons_links_never_reach_whoever_subscribes_next(tmp_path: Path):
    """The forgotten subscriber's id is not handed to the next one: the links in the
    mail they kept (unsubscribe, manage, the VERP tag) are signed over that id."""
    from digest.app import Digest
    from digest.config import load_config
    from digest.deliver.tokens import make_manage_token, make_token, secret_for

    config = sample_config(tmp_path, 2525)
    add_subscribers(config, numbered(2))  # GONE is the last one added
    state = config.parent / "state" / "digest.sqlite3"
    with sqlite3.connect(state) as db:
        [(gone_id,)] = db.execute("SELECT id FROM subscribers WHERE email = ?", (GONE,))
    run(config, "subscribers", "forget", GONE)
    run(config, "subscribers", "add", "newcomer@example.org")
    with sqlite3.connect(state) as db:
        [(new_id,)] = db.execute("SELECT id FROM subscribers WHERE email = ?",
                                 ("newcomer@example.org",))
    assert new_id != gone_id

    with Digest(load_config(config), create=False) as digest:
        key = secret_for(digest.store.secret)
        assert digest.manage(make_manage_token(key, gone_id)).state == "invalid"
        assert digest.unsubscribe_by_token(make_token(key, gone_id),
                                           confirmed=True).state == "not_listed"
    assert "newcomer@example.org" in run(config, "subscribers", "list", "--status", "active")
