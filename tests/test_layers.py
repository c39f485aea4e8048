"""The layers of docs/architecture.md hold: no module imports from a layer above its own,
and the fronts (the CLI and `digest serve`) go through the `Digest` facade only.

The imports are read with ast from the source (every import: at the top, inside
functions, under TYPE_CHECKING), so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "digest"

# Lowest first; a module may import from its own layer and those below it. A module is
# placed by its longest matching prefix (docs/architecture.md draws the same list).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("digest", "digest.models", "digest.errors", "digest.text", "digest.clock",
              "digest.words", "digest.csvfile")),
    ("config", ("digest.config",)),
    ("sources and store", ("digest.sources", "digest.store", "digest.lock",
                           "digest.subscribers")),
    ("edition", ("digest.edition",)),
    ("render", ("digest.render",)),
    ("deliver", ("digest.deliver", "digest.scaffold")),
    ("app", ("digest.app",)),
    ("fronts", ("digest.cli", "digest.serve", "digest.clidoc", "digest.__main__")),
)

# Imports that go up a layer today, each with the change that removes it. An entry that
# no longer matches an import fails the test, so the list only ever shrinks.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}  # none left

# What the fronts may import: the facade, the config loader, errors and models, and
# presentation helpers (the page templates `serve` renders its answers with).
FRONT_ALLOWED = ("digest", "digest.app", "digest.app.setup", "digest.config",
                 "digest.errors", "digest.models", "digest.render.templates",
                 "digest.cli", "digest.serve")
FRONTS = ("digest.cli", "digest.serve", "digest.clidoc", "digest.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str) -> set[str]:
    """Every digest module `source` imports (`from digest import x` counts as digest.x
    when digest/x is a module, else as digest)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{module}: relative import; write it absolute")
            if node.module is None or not _ours(node.module):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return found


def _ours(name: str) -> bool:
    return name == "digest" or name.startswith("digest.")


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer_of(module: str) -> int:
    best, found = -1, None
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    if found is None or (best == len("digest") and module != "digest"):
        raise AssertionError(f"{module} has no layer: add it to LAYERS in {__file__} and "
                             "to docs/architecture.md")
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p.read_text(encoding="utf-8"), module_name(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_imports_from_a_layer_above_its_own():
    upward = set()
    for module, imported in graph().items():
        for target in imported:
            if layer_of(target) > layer_of(module):
                upward.add((module, target))
    unexplained = sorted(upward - KNOWN_UPWARD.keys())
    assert unexplained == [], "\n".join(
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, t in unexplained)
    assert sorted(KNOWN_UPWARD.keys() - upward) == [], "fixed: remove from KNOWN_UPWARD"


def test_the_cli_and_serve_go_through_the_facade_only():
    wrong = sorted(
        f"{module} imports {target}"
        for module, imported in graph().items()
        if any(module == f or module.startswith(f + ".") for f in FRONTS)
        for target in imported
        if not (target in FRONT_ALLOWED or target.startswith(("digest.cli.", "digest.serve.")))
    )
    assert wrong == []


def test_every_command_module_of_the_cli_is_walked():
    modules = graph()
    assert {"digest.cli", "digest.cli.framework", "digest.serve", "digest.app"} <= set(modules)
    assert "digest.app" in modules["digest.serve"]


@pytest.mark.parametrize(("source", "expected"), [
    ("from digest.store import Store", {"digest.store"}),
    ("def f():\n    from digest.sources.gather import gather", {"digest.sources.gather"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import digest.render.site",
     {"digest.render.site"}),
    ("from digest import __version__, edition", {"digest", "digest.edition"}),
    ("import json\nfrom email import utils", set()),
])
def test_the_walk_sees_every_kind_of_import(source: str, expected: set[str]):
    assert imports_of(source, "example") == expected


def test_a_module_is_placed_by_its_longest_prefix():
    assert layer_of("digest.text") < layer_of("digest.config")
    assert layer_of("digest.sources.gather") > layer_of("digest.config")
    assert layer_of("digest.app.pipeline") > layer_of("digest.deliver.mailing")
    with pytest.raises(AssertionError, match="has no layer"):
        layer_of("digest.newthing")
