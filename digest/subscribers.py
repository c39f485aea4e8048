"""Subscriber lists: checking addresses, importing CSV files in bulk, exporting them safely."""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from digest.errors import AddressError, CategoryError, ImportRefused
from digest.models import ImportOutcome, Subscriber
from digest.store import Store
from digest.text import one_line

MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3: a path of 256 octets, less the angle brackets
MAX_LOCAL = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 100
IMPORT_BATCH = 5000  # rows per transaction
# Plain ASCII addresses (nearly all of them): a dot-atom, then a domain of LDH labels
# ending in letters. Anything else, or anything that may need IDNA, goes to email-validator.
FAST_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# Special-use names (RFC 6761) email-validator refuses; such domains take the slow path.
SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def normalise_address(raw: str) -> str:
    """A deliverable address (domain lower-cased, IDNA 2008 / UTS 46 A-labels), or
    AddressError (a ValueError) saying why not.

    Plain ASCII addresses are checked with one compiled pattern; the rest (an
    international domain, anything unusual) by email-validator, so that
    `user@straße.example` becomes `user@xn--strae-oqa.example` and not the
    different domain `strasse.example` that IDNA 2003 made of it.
    """
    address = raw.strip()
    if FAST_ADDRESS.fullmatch(address) and len(address) <= MAX_ADDRESS:
        split = address.index("@")  # a dot-atom holds no @: the local part's length
        domain = address[split + 1:].lower()
        # "--" (xn-- labels, and others IDNA refuses) goes to the slow path.
        if split <= MAX_LOCAL and "--" not in domain and \
                domain[domain.rindex(".") + 1:] not in SPECIAL_USE_TLDS:
            return address[:split + 1] + domain
    if not address:
        raise AddressError("the address is empty")
    if len(address) > MAX_ADDRESS:
        raise AddressError(f"the address is {len(address)} characters long; at most "
                           f"{MAX_ADDRESS} are allowed (RFC 5321)")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError("an address looks like name@example.org")
    if len(local) > MAX_LOCAL:
        raise AddressError(f"the part before the @ is {len(local)} characters long; at most "
                           f"{MAX_LOCAL} are allowed (RFC 5321)")
    return _checked_address(local, domain.removesuffix("."))


def _checked_address(local: str, domain: str) -> str:
    """The slow path: email-validator's syntax checks and IDNA (imported only when needed)."""
    if not local.isascii():
        raise AddressError(f"{local!r}: addresses with characters beyond ASCII before the @ "
                           "are not supported (the digest does not send SMTPUTF8 mail); "
                           "ask the subscriber for an ASCII address")
    if any(c.isspace() or ord(c) < 32 for c in local + domain):
        raise AddressError("an address holds no spaces or control characters")
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(f"{local}@{domain}", check_deliverability=False,
                                 allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc).rstrip(".")) from None
    ascii_domain = (checked.ascii_domain or domain).lower()
    if len(checked.ascii_email or "") > MAX_ADDRESS:
        raise AddressError(f"the address is {len(checked.ascii_email or '')} characters long "
                           f"once its domain is in ASCII (IDNA); at most {MAX_ADDRESS} are "
                           "allowed (RFC 5321)")
    return f"{checked.local_part}@{ascii_domain}"


def normalise_name(raw: str) -> str:
    """One line of text, at most MAX_NAME characters."""
    # Printable text holds no control or XML-forbidden character and no whitespace
    # but the space: with no double or outer space, one_line would return it as it is.
    if raw.isprintable() and "  " not in raw and raw[:1] != " " and raw[-1:] != " ":
        return raw[:MAX_NAME]
    return one_line(raw)[:MAX_NAME]


def check_categories(wanted: Iterable[str], known: Iterable[str]) -> frozenset[str]:
    """The categories, or CategoryError (a ValueError) naming the unknown ones and the
    known ones."""
    wanted_set = frozenset(w.strip() for w in wanted if w.strip())
    known_set = set(known)
    unknown = sorted(wanted_set - known_set)
    if unknown:
        raise CategoryError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'}: "
                            f"{', '.join(unknown)} (known: {', '.join(sorted(known_set))})")
    return wanted_set


# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """`value` for a CSV cell: a leading formula character gets a `'` in front."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _from_spreadsheet_safe(value: str) -> str:
    """Undo `spreadsheet_safe`, so an exported file imports back unchanged."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) \
        else value


class ImportLine(NamedTuple):  # a tuple: 100,000 of them are made in a blink
    line: int
    email: str
    outcome: ImportOutcome
    reason: str | None = None  # why rejected: "invalid address: …", "unknown category: …",
    # "duplicate: …", or "unreadable CSV: …"


FORGOTTEN = "forgotten (erased by `digest subscribers forget`); use --force to add it again"


def import_csv(path: Path, store: Store, categories: Iterable[str], *,
               force: bool = False) -> Iterator[list[ImportLine]]:
    """Import `email,name,categories` rows; each line's outcome, nothing lost silently.

    Existing addresses are updated (name, categories) but an unsubscribed or
    bounced address is not re-activated by an import. The rows are stored in
    transactions of IMPORT_BATCH rows; each transaction's lines (with the
    rejected lines among them), in file order, come as a list when it commits. An
    address erased by `subscribers forget` is rejected unless `force`.
    """
    return import_rows(path.read_bytes(), str(path), store, categories, force=force)


def import_rows(data: bytes, name: str, store: Store, categories: Iterable[str], *,
                force: bool = False) -> Iterator[list[ImportLine]]:
    """Like import_csv, from the bytes of a CSV file (or stdin) that `name` stands for.

    The whole text is decoded and its first line checked before the first row
    is stored (ImportRefused otherwise), so a file in the wrong encoding is refused
    as a whole, never half imported.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportRefused(f"{name}:{line}: not UTF-8 text ({exc.reason}); nothing was "
                            "imported: save the file as UTF-8 CSV and import it again") from None
    records = _csv_records(list(io.StringIO(text, newline="")))
    header = next(records, None)
    fields = [x.strip().lower() for x in (header[1] or [])] if header else []
    if "email" not in fields:
        raise ImportRefused(f"{name}: the first line must name the columns "
                            "email,name,categories")
    return _import(records, fields, store, list(categories), force)


def _csv_records(lines: list[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, fields, "") per CSV record, or (line, None, why) for one unreadable.

    A stray quote makes the csv module read on into the following lines, until
    a field passes 128 KiB (csv.Error) or the quote closes lines later. Either
    way that first line is reported and reading starts again on the line after
    it, so one bad line costs only itself. (No column of ours holds a line
    break, so a quoted field that spans lines is always such a mistake.)
    """
    pos = 0  # index in `lines` where the current reader started
    while pos < len(lines):
        reader = csv.reader(itertools.islice(lines, pos, None))
        consumed = 0  # lines the reader has read
        try:
            for row in reader:
                first = pos + consumed + 1
                consumed = reader.line_num
                if pos + consumed > first and any("\n" in f or "\r" in f for f in row):
                    yield first, None, (f"a quoted field runs over lines {first}-"
                                        f"{pos + consumed}, probably a stray quote (\"); "
                                        "the lines after it were read again")
                    pos = first
                    break
                yield first, row, ""
            else:
                return
        except csv.Error as exc:
            first = pos + consumed + 1
            yield first, None, (f"unreadable CSV ({exc}), probably a stray quote (\"); "
                                "the lines after it were read again")
            pos = first


def _repeated_or_forgotten(address: str, line: int, seen: dict[str, int], store: Store,
                           check: bool) -> str | None:
    """Why an import refuses an address it has already seen or that was forgotten."""
    key = address.lower()
    if key in seen:
        return f"duplicate: the same address as line {seen[key]}"
    seen[key] = line
    if check and store.is_forgotten(address):
        return FORGOTTEN
    return None


def _import(records: Iterator[tuple[int, list[str] | None, str]], fields: list[str],
            store: Store, known: list[str], force: bool = False
            ) -> Iterator[list[ImportLine]]:
    check = not force and store.has_forgotten()  # else no query per row
    at_email = fields.index("email")
    at_name = fields.index("name") if "name" in fields else None
    at_categories = fields.index("categories") if "categories" in fields else None
    seen: dict[str, int] = {}  # address (lower case) -> the line that first had it
    # The categories cell -> (True, the stored form) or (False, why it is refused).
    categories_of: dict[str, tuple[bool, str]] = {}
    # The batch: the rows to store (address, name, categories) and their lines, and
    # the lines rejected meanwhile; both in file order.
    rows: list[tuple[str, str, str]] = []
    row_lines: list[int] = []
    rejected: list[ImportLine] = []

    def flush() -> list[ImportLine]:
        outcomes = store.import_subscribers(rows)
        stored = [ImportLine(line, row[0], outcome)
                  for line, row, outcome in zip(row_lines, rows, outcomes, strict=True)]
        # Line numbers are distinct: merging the tuples puts the lines in file order.
        lines = list(heapq.merge(stored, rejected)) if rejected else stored
        rows.clear()
        row_lines.clear()
        rejected.clear()
        return lines

    width = len(fields)
    for line, row, problem in records:
        if row is None:
            rejected.append(ImportLine(line, "", "rejected", problem))
            continue
        if len(row) < width:
            if not any(row):
                continue  # a blank line
            row += [""] * (width - len(row))
        raw = row[at_email].strip()
        if raw[:1] == "'":
            raw = _from_spreadsheet_safe(raw)
        try:
            address = normalise_address(raw)
        except ValueError as exc:
            rejected.append(ImportLine(line, raw, "rejected", f"invalid address: {exc}"))
            continue
        wanted = row[at_categories] if at_categories is not None else ""
        checked = categories_of.get(wanted)
        if checked is None:
            try:
                checked = (True, " ".join(sorted(check_categories(wanted.split(), known))))
            except ValueError as exc:
                checked = (False, str(exc))
            categories_of[wanted] = checked
        good, cats = checked
        if not good:
            rejected.append(ImportLine(line, address, "rejected", cats))
            continue
        refused = _repeated_or_forgotten(address, line, seen, store, check)
        if refused:
            rejected.append(ImportLine(line, address, "rejected", refused))
            continue
        name = row[at_name] if at_name is not None else ""
        if name[:1] == "'":
            name = _from_spreadsheet_safe(name)
        name = normalise_name(name)
        rows.append((address, name, cats))
        row_lines.append(line)
        if len(rows) >= IMPORT_BATCH:
            yield flush()
    last = flush()
    if last:
        yield last


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
    """Write subscribers as CSV that `import_csv` reads back; return how many.

    Cells that a spreadsheet would take for a formula (starting with =, +, -,
    @, tab or carriage return) get a `'` in front; the import removes it again.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for subscriber in subscribers:
        record = subscriber_record(subscriber)
        record["categories"] = " ".join(record["categories"])
        writer.writerow([spreadsheet_safe(str(record[k] or "")) for k in EXPORT_FIELDS])
        count += 1
    return count


def write_json(subscribers: Iterable[Subscriber], out: TextIO) -> int:
    """Write subscribers as one JSON array, a record at a time; return how many.

    The same text as `json.dumps(records, indent=2)`, never the whole list in memory.
    """
    count = 0
    for subscriber in subscribers:
        text = json.dumps(subscriber_record(subscriber), indent=2, ensure_ascii=False)
        out.write(("[\n  " if count == 0 else ",\n  ") + text.replace("\n", "\n  "))
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count


def domain_takes_mail(address: str, nameserver: tuple[str, int] | None = None,
                      timeout: float = 5.0) -> bool:
    """Whether the address's domain has somewhere to deliver mail: an MX record (not the
    null MX of RFC 7505) or, failing that, a globally reachable A or AAAA one, asked of
    `nameserver` (IP, port) or the system's resolver. email-validator's check with
    dnspython: a domain that does not exist, or has none of them, is False; a DNS server
    that does not answer in `timeout` seconds lets the address through (True)."""
    import dns.resolver
    from email_validator import EmailUndeliverableError
    from email_validator.deliverability import validate_email_deliverability

    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.lifetime = timeout
    domain = address.rpartition("@")[2]
    try:
        validate_email_deliverability(domain, domain, dns_resolver=resolver)
    except EmailUndeliverableError:
        return False
    return True
