"""Subscriber lists: checking addresses and importing CSV files, line by line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from digest.models import Subscriber
from digest.sources.sanitize import one_line
from digest.store import Store

LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_NAME = 100


def normalise_address(raw: str) -> str:
    """A deliverable address (domain lower-cased and IDNA-encoded), or ValueError why not."""
    address = raw.strip()
    if not address:
        raise ValueError("the address is empty")
    if any(c.isspace() or ord(c) < 32 for c in address) or "<" in address or "," in address:
        raise ValueError("an address holds no spaces, commas, brackets or control characters")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("an address looks like name@example.org")
    if len(local) > 64 or not LOCAL_PART.match(local) or ".." in local or \
            local.startswith(".") or local.endswith("."):
        raise ValueError(f"{local!r} is not a valid mailbox name")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{domain!r} is not a valid domain") from None
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError(f"{domain!r} is not a valid domain")
    return f"{local}@{ascii_domain.rstrip('.')}"


def normalise_name(raw: str) -> str:
    return one_line(raw)[:MAX_NAME]


def check_categories(wanted: Iterable[str], known: Iterable[str]) -> frozenset[str]:
    """The categories, or ValueError naming the unknown ones and the known ones."""
    wanted_set = frozenset(w.strip() for w in wanted if w.strip())
    known_set = set(known)
    unknown = sorted(wanted_set - known_set)
    if unknown:
        raise ValueError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'}: "
                         f"{', '.join(unknown)} (known: {', '.join(sorted(known_set))})")
    return wanted_set


@dataclass(frozen=True)
class ImportLine:
    line: int
    email: str
    outcome: str  # "added", "updated", "unchanged", "rejected"
    reason: str | None = None  # why rejected: "invalid address: …", "unknown category: …",
    # or "duplicate: …"


def import_csv(path: Path, store: Store, categories: Iterable[str]) -> list[ImportLine]:
    """Import `email,name,categories` rows; each line's outcome, nothing lost silently.

    Existing addresses are updated (name, categories) but an unsubscribed or
    bounced address is not re-activated by an import.
    """
    return import_rows(path.read_bytes(), str(path), store, categories)


def import_rows(data: bytes, name: str, store: Store,
                categories: Iterable[str]) -> list[ImportLine]:
    """Like import_csv, from the bytes of a CSV file (or stdin) that `name` stands for.

    The whole text is decoded before the first row is stored, so a file in the
    wrong encoding is refused as a whole, never half imported.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ValueError(f"{name}:{line}: not UTF-8 text ({exc.reason}); nothing was "
                         "imported: save the file as UTF-8 CSV and import it again") from None
    known = list(categories)
    results: list[ImportLine] = []
    seen: dict[str, int] = {}  # address -> the line that first had it
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [x.strip().lower() for x in reader.fieldnames or []]
    if "email" not in fields:
        raise ValueError(f"{name}: the first line must name the columns "
                         "email,name,categories")
    reader.fieldnames = fields
    for row in reader:
        line = reader.line_num
        raw = (row.get("email") or "").strip()
        try:
            address = normalise_address(raw)
        except ValueError as exc:
            results.append(ImportLine(line, raw, "rejected", f"invalid address: {exc}"))
            continue
        try:
            cats = check_categories((row.get("categories") or "").split(), known)
        except ValueError as exc:
            results.append(ImportLine(line, address, "rejected", str(exc)))
            continue
        if address.lower() in seen:
            results.append(ImportLine(
                line, address, "rejected",
                f"duplicate: the same address as line {seen[address.lower()]}"))
            continue
        seen[address.lower()] = line
        _, outcome = store.upsert_subscriber(address, normalise_name(row.get("name") or ""),
                                             cats, reactivate=False)
        results.append(ImportLine(line, address, outcome))
    return results


EXPORT_FIELDS = ("email", "name", "categories", "status", "created_at")


def subscriber_record(subscriber: Subscriber) -> dict[str, Any]:
    """A subscriber as plain data; `categories` is a sorted list (empty: all)."""
    created = subscriber.created_at
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "categories": sorted(subscriber.categories),
        "status": subscriber.status,
        "created_at": created.isoformat() if created else None,
    }


def write_csv(subscribers: Iterable[Subscriber], out: TextIO) -> int:
    """Write subscribers as CSV that `import_csv` reads back; return how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for subscriber in subscribers:
        record = subscriber_record(subscriber)
        record["categories"] = " ".join(record["categories"])
        writer.writerow([record[k] or "" for k in EXPORT_FIELDS])
        count += 1
    return count
