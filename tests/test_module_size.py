"""No module of the product grows past what one reader can take in (issue 16).

Function size and complexity are ruff's C901 and PLR0915, configured in
pyproject.toml; a module's length has no ruff rule, so it is checked here.
"""

from __future__ import annotations

from pathlib import Path

MAX_LINES = 500
PACKAGE = Path(__file__).resolve().parents[1] / "digest"


def test_no_module_is_over_500_lines():
    long = {str(path.relative_to(PACKAGE.parent)): n
            for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules by what they do: {long}"
