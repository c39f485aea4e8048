"""Commands start at once: --help, --version and shell completion import only click and
the CLI's own module, never the pipeline's libraries (timing is bench/startup.py's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What a command that needs them imports; none of it has any business in --help.
HEAVY = ("digest.app", "digest.config", "digest.store", "digest.render", "digest.sources",
         "digest.deliver", "digest.serve", "digest.scaffold", "digest.subscribers",
         "jinja2", "babel", "requests", "urllib3", "feedparser", "fastfeedparser", "feedgen",
         "lxml", "nh3", "css_inline", "dkim", "sqlite3", "importlib.metadata", "email.utils")

PROBE = """
import json, runpy, sys
sys.argv = ["digest", *json.loads(sys.argv[1])]
try:
    runpy.run_module("digest", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported(*args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """Run `digest ARGS` in a fresh interpreter; return its output and the modules it loaded."""
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, **(env or {})},
                            cwd=Path(__file__).parents[1])
    modules = set(json.loads(result.stderr.strip().splitlines()[-1]))
    return result.stdout, modules


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["build", "--help"], ["subscribers", "--help"],
                                  ["subscribers", "import", "--help"]])
def test_help_imports_only_click_and_the_cli(args: list[str]):
    out, modules = imported(*args)
    assert "Usage: digest" in out
    assert "digest.cli" in modules and "click" in modules
    assert heavy(modules) == []


def test_version_reads_the_version_and_nothing_else():
    out, modules = imported("--version")
    assert out.startswith("digest ") and len(out.split()) == 2
    assert heavy(modules) == []


def test_shell_completion_of_command_names_imports_nothing_heavy():
    out, modules = imported(env={"_DIGEST_COMPLETE": "bash_complete", "COMP_WORDS": "digest su",
                                 "COMP_CWORD": "1"})
    assert "subscribers" in out
    assert heavy(modules) == []


def test_a_command_imports_what_it_uses(tmp_path: Path):
    _, modules = imported("--config", str(tmp_path / "missing.toml"), "status")
    assert "digest.config" in modules  # it went as far as reading the config
