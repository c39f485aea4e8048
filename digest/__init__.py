"""digest: a daily digest of a news site's category feeds, as feeds, web pages and email."""

# The one place the version is written (pyproject.toml reads it from here): reading it
# back from the installed metadata would slow `digest --version` (see bench/startup.py).
__version__ = "0.1.0"
