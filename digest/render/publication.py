"""What the published files are made from, as signatures, so a build renders only what changed.

- The fingerprint covers what every page depends on besides its edition: the whole
  config (words, language, time zone, design, feeds...), every template file (the
  editor's and the defaults), the digest's own code, Babel's version (dates) and the
  state file's schema. When it changes, every page is rendered again.
- An edition page's signature adds its edition's content and its neighbours' links.
- A category feed's signature adds the articles it shows.
- The site's signature adds all of those: when it is the one last published (and the
  files are there), there is nothing to render at all.

Signatures are SHA-256 hex digests of canonical text; they are kept in the state file.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import babel

from digest.config import Config
from digest.models import StoredArticle
from digest.render.templates import default_templates

CODE = Path(__file__).resolve().parents[1]  # the digest package: how pages are made


def _files(folder: Path, pattern: str) -> Iterable[tuple[str, bytes]]:
    for path in sorted(p for p in folder.rglob(pattern) if p.is_file()):
        yield path.relative_to(folder).as_posix(), path.read_bytes()


def fingerprint(config: Config, schema_version: int) -> str:
    """A digest of everything the pages depend on other than their editions."""
    h = hashlib.sha256()
    h.update(f"babel {babel.__version__}; schema {schema_version}\n".encode())
    h.update(repr(config).encode())
    folders = [("templates", config.templates, "*"), ("defaults", default_templates(), "*"),
               ("code", CODE, "*.py")]
    for label, folder, pattern in folders:
        h.update(f"\n[{label}]\n".encode())
        if folder is None or not folder.is_dir():
            continue
        for name, data in _files(folder, pattern):
            h.update(f"{name} {len(data)}\n".encode())
            h.update(data)
    return h.hexdigest()


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        h.update(b"%d:" % len(data))  # lengths first: no two lists of parts run together
        h.update(data)
    return h.hexdigest()


def page_signature(fingerprint: str, content: str, newer: Any, older: Any) -> str:
    """An edition page's signature: its edition's content and its neighbours (as listed)."""
    return _digest("page", fingerprint, content, repr(newer), repr(older))


def body_signature(fingerprint: str, content: str) -> str:
    """An edition's web body's signature (the body the digest feeds carry)."""
    return _digest("body", fingerprint, content)


def _canonical(value: Any) -> str:
    if isinstance(value, frozenset | set):
        return repr(sorted(value))  # sets have no order
    return value if isinstance(value, str) else repr(value)


def category_signature(fingerprint: str, articles: Sequence[StoredArticle]) -> str:
    """A category feed's signature: every field of every article it shows, in order."""
    names = [f.name for f in dataclasses.fields(StoredArticle)]
    return _digest("category", fingerprint, *(
        _canonical(getattr(a, name)) for a in articles for name in names))


def site_signature(fingerprint: str, signatures: Mapping[str, str]) -> str:
    """Everything the published files are made from: the fingerprint and the signature of
    each edition page (which covers the editions and their order) and category feed."""
    return _digest("site", fingerprint, *(f"{path} {sig}" for path, sig in signatures.items()))
