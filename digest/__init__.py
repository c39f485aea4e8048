"""digest: a daily digest of a news site's category feeds, as feeds, web pages and email."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is read from the installed metadata only when asked for: importing
    # importlib.metadata would slow every command's start (see bench/startup.py).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("digest")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0.0.0+source"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
