"""One hierarchy of user errors: each is a DigestError the CLI prints with its exit code."""

from __future__ import annotations

import pytest

from digest.errors import (
    AddressError,
    CategoryError,
    DigestError,
    DiscoveryError,
    FeedParseError,
    ImportRefused,
    ProjectExists,
)
from digest.subscribers import check_categories, import_rows, normalise_address


@pytest.mark.parametrize(("error", "code"), [
    (FeedParseError, 1), (DiscoveryError, 1), (ProjectExists, 2), (AddressError, 2),
    (CategoryError, 2), (ImportRefused, 2)])
def test_every_user_error_is_a_digest_error_with_its_exit_code(error: type[DigestError],
                                                                code: int):
    assert issubclass(error, DigestError)
    assert error.exit_code == code


def test_bad_subscriber_input_raises_the_named_errors_still_value_errors():
    with pytest.raises(AddressError, match=r"looks like name@example\.org") as caught:
        normalise_address("nobody")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(CategoryError, match="unknown category: sport"):
        check_categories(["sport"], ["news"])
    with pytest.raises(ImportRefused, match="the first line must name the columns"):
        import_rows(b"name\nAli\n", "list.csv", None, ["news"])  # type: ignore[arg-type]
