"""Writing published files safely: a temporary file renamed into place."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> bool:
    """Write `data` to `path` via a rename; return False when the file already held it."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.read_bytes() == payload:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            # On disk before the rename, so a crash never leaves an empty file in place.
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


# Files the digest itself publishes and may therefore remove when they are no
# longer wanted (an edition deleted, a category dropped from the config).
# Anything else in the output folder is the editor's and is never touched.
_OWNED = re.compile(
    r"editions/\d{4}-\d{2}-\d{2}\.html|categories/[a-z0-9_-]+/(rss\.xml|atom\.xml|feed\.json)")


# write_atomic's temporary files: ".NAME.XXXXXXXX.tmp" (mkstemp's 8 random characters).
_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def remove_leftovers(output: Path) -> list[Path]:
    """Remove temporary files a killed run left in the output folder; return them."""
    removed = []
    for path in sorted(output.rglob(".*.tmp")):
        if path.is_file() and _LEFTOVER.fullmatch(path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def owned(name: str) -> bool:
    """Whether a path (relative to the output folder) is one the digest publishes."""
    return _OWNED.fullmatch(name) is not None


def prune(output: Path, keep: set[str]) -> list[Path]:
    """Remove published files not in `keep` (paths relative to `output`), and temporary
    files left by a killed run; return them."""
    leftovers = remove_leftovers(output)
    removed: list[Path] = []
    for folder in ("editions", "categories"):
        # Names first, by folder listing (a thousand editions: no stat for each).
        for root, _dirs, files in os.walk(output / folder):
            where = Path(root).relative_to(output).as_posix()
            for file in files:
                name = f"{where}/{file}"
                if name not in keep and _OWNED.fullmatch(name):
                    removed.append(output / name)
    removed.sort()
    for path in removed:
        path.unlink()
    for path in sorted((output / "categories").glob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return leftovers + removed
