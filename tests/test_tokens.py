"""Unsubscribe tokens and the secret they are signed with."""

from __future__ import annotations

import pytest

from digest.deliver.tokens import (
    make_confirm_token,
    make_manage_token,
    make_token,
    read_confirm_token,
    read_manage_token,
    read_token,
    secret_for,
)


def test_the_environment_secret_wins_and_the_stored_one_is_not_even_asked_for(
        monkeypatch: pytest.MonkeyPatch):
    asked: list[bool] = []

    def stored() -> bytes:
        asked.append(True)
        return b"stored"

    monkeypatch.setenv("DIGEST_SECRET", "from-env")
    assert secret_for(stored) == b"from-env" and not asked
    monkeypatch.delenv("DIGEST_SECRET")
    assert secret_for(stored) == b"stored" and asked


def test_a_token_reads_back_only_with_its_secret():
    token = make_token(b"one", 42)
    assert read_token(b"one", token) == 42
    assert read_token(b"two", token) is None
    assert read_token(b"one", token[:-2]) is None


def test_a_manage_token_reads_back_only_with_its_secret_and_purpose():
    token = make_manage_token(b"one", 42)
    assert read_manage_token(b"one", token) == 42
    assert read_manage_token(b"two", token) is None
    assert read_manage_token(b"one", token[:-2]) is None
    assert read_manage_token(b"one", "not a token") is None
    # Each purpose is signed: no token opens what another was made for.
    assert read_manage_token(b"one", make_token(b"one", 42)) is None
    assert read_token(b"one", token) is None
    assert read_confirm_token(b"one", token) is None
    assert read_manage_token(b"one", make_confirm_token(b"one", 42, 2**40)) is None
