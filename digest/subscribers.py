"""Subscriber lists: checking addresses, importing CSV files in bulk, exporting them safely."""

from __future__ import annotations

import array
import csv
import functools
import heapq
import io
import itertools
import json
import re
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO

from digest.csvfile import Record, checked_text, csv_records
from digest.errors import AddressError, CategoryError, ImportRefused
from digest.models import ImportOutcome, StoredOutcome, Subscriber
from digest.store import BulkImport, Store
from digest.text import one_line

MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3: a path of 256 octets, less the angle brackets
MAX_LOCAL = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 100
IMPORT_BATCH = 5000  # rows per transaction
ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"  # RFC 5322 §3.2.3


def _address_pattern(letters: str) -> re.Pattern[str]:
    """A dot-atom of at most MAX_LOCAL characters, then a domain (group 1) of LDH labels of
    `letters` and digits ending in `letters`, at most MAX_ADDRESS in all; no "--" in the
    domain (xn-- labels, and others IDNA refuses) and none of the special-use names
    (RFC 6761) email-validator refuses."""
    label = f"[{letters}0-9](?:[{letters}0-9-]{{0,61}}[{letters}0-9])?"
    return re.compile(
        rf"(?=[^@]{{1,{MAX_LOCAL}}}@)(?=.{{1,{MAX_ADDRESS}}}\Z){ATEXT}+(?:\.{ATEXT}+)*"
        rf"@(?!.*--)((?:{label}\.)+"
        rf"(?!(?i:arpa|invalid|local|localhost|onion|test)\Z)[{letters}]{{2,63}})")


# Plain ASCII addresses (nearly all of them), checked with one compiled pattern; anything
# else goes to email-validator. PLAIN_ADDRESS: those whose domain is in lower case
# already, which are stored as they are.
FAST_ADDRESS = _address_pattern("A-Za-z")
PLAIN_ADDRESS = _address_pattern("a-z")


def normalise_address(raw: str) -> str:
    """A deliverable address (domain lower-cased, IDNA 2008 / UTS 46 A-labels), or
    AddressError (a ValueError) saying why not.

    Plain ASCII addresses are checked with one compiled pattern; the rest (an
    international domain, anything unusual) by email-validator, so that
    `user@straße.example` becomes `user@xn--strae-oqa.example` and not the
    different domain `strasse.example` that IDNA 2003 made of it.
    """
    address = raw.strip()
    fast = FAST_ADDRESS.fullmatch(address)
    if fast:
        return address[:fast.start(1)] + fast[1].lower()
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
    address erased by `subscribers forget` is rejected unless `force`. The file
    is read as a stream, never whole. Into a new list memory stays flat; into one
    that has subscribers already, the addresses read are kept (to name a
    duplicate's first line), some 170 bytes each.
    """
    return import_rows(path.open("rb"), str(path), store, categories, force=force)


def import_rows(data: bytes | BinaryIO, name: str, store: Store, categories: Iterable[str], *,
                force: bool = False) -> Iterator[list[ImportLine]]:
    """Like import_csv, from a CSV file's bytes or a binary stream (stdin) that `name`
    stands for; the stream is closed when the import ends.

    All of it is checked to be UTF-8, and its first line read, before the first
    row is stored (ImportRefused otherwise), so a file in the wrong encoding is
    refused as a whole, never half imported. A stream that cannot go back (a
    pipe) is copied to a temporary file meanwhile.
    """
    binary = io.BytesIO(data) if isinstance(data, bytes) else data
    text = checked_text(binary, name)
    try:
        header = next(csv.reader(itertools.islice(text, 1)), None)
    except csv.Error:
        header = None
    fields = [x.strip().lower() for x in header or []]
    if "email" not in fields:
        text.close()
        raise ImportRefused(f"{name}: the first line must name the columns "
                            "email,name,categories")
    return _import(text, fields, store, list(categories), force)


def _import(text: TextIO, fields: list[str], store: Store, known: list[str],
            force: bool = False) -> Iterator[list[ImportLine]]:
    with text:
        yield from _import_records(csv_records(text, 2), fields, store, known, force)


def _import_records(records: Iterator[tuple[int, list[str] | None, str]], fields: list[str],
                    store: Store, known: list[str], force: bool = False
                    ) -> Iterator[list[ImportLine]]:
    reader = _Rows(fields, store, known, force)
    read, read_plain = reader.read, reader.read_plain
    saver = _Saver(store, reader)
    # The batch: the rows to store (address, name, categories) and their lines, and
    # the lines rejected meanwhile; both in file order.
    rows: list[tuple[str, str, str]] = []
    row_lines: list[int] = []
    rejected: list[ImportLine] = []

    def flush() -> list[ImportLine]:
        lines = saver.save(rows, row_lines, rejected)
        rows.clear()
        row_lines.clear()
        rejected.clear()
        return lines

    while True:
        # A block of records that can at most fill the batch: read in one go when every
        # row in it is plain (most are), else row by row.
        block = list(itertools.islice(records, IMPORT_BATCH - len(rows)))
        if not block:
            break
        plain = read_plain(block)
        if plain is not None:
            rows += plain
            row_lines += [line for line, _, _ in block]
        else:
            for line, row, problem in block:
                found = read(line, row) if row is not None else \
                    ImportLine(line, "", "rejected", problem)
                if found is None:
                    continue  # a blank line
                if isinstance(found, ImportLine):
                    rejected.append(found)
                    continue
                rows.append(found)
                row_lines.append(line)
        if len(rows) >= IMPORT_BATCH:
            yield flush()
    last = flush()
    if last:
        yield last


class _Saver:
    """Stores each batch of rows, and says what became of each line.

    While the state file holds only this import's subscribers (a new list: the
    usual bulk import), the addresses of earlier batches are not kept in
    memory: adding a row whose address an earlier batch added fails, and only
    then is it looked up; its first line is that subscriber's entry in
    `added_lines` (8 bytes a row, the subscriber with id n + 1 at index n, as
    SQLite numbers the rows of a table that was empty). Once another connection
    writes to the state file, the addresses are read back from it into the
    reader's memory, which keeps them from then on, as for an import into a list
    that already had subscribers.
    """

    def __init__(self, store: Store, reader: _Rows) -> None:
        self.store = store
        self.reader = reader
        self.bulk = BulkImport()
        self.alone = not reader.check  # (a forgotten address is checked row by row)
        self.added_lines = array.array("q")

    def save(self, rows: list[Row], row_lines: list[int], rejected: list[ImportLine]
             ) -> list[ImportLine]:
        """The batch's lines in file order, once its rows are stored."""
        if self.alone:
            found = self.store.add_new_subscribers(rows, self.bulk)
            if found is not None:
                if any(found):  # addresses added by earlier batches
                    rows, row_lines, rejected = self._duplicates(
                        rows, row_lines, rejected,
                        [None if f is None else self.added_lines[f - 1] for f in found])
                self.added_lines.extend(row_lines)
                self.reader.seen.clear()  # this batch's addresses are in the store now
                return _lines(rows, row_lines, ["added"] * len(rows), rejected)
            self.alone = False
            earlier = {email.lower(): self.added_lines[n - 1] for n, email in
                       self.store.subscriber_emails(len(self.added_lines))}
            rows, row_lines, rejected = self._duplicates(
                rows, row_lines, rejected, [earlier.get(row[0].lower()) for row in rows])
            self.reader.seen.update(earlier)  # (their lines come before this batch's)
        return _lines(rows, row_lines, self.store.import_subscribers(rows, self.bulk),
                      rejected)

    @staticmethod
    def _duplicates(rows: list[Row], row_lines: list[int], rejected: list[ImportLine],
                    firsts: list[int | None]
                    ) -> tuple[list[Row], list[int], list[ImportLine]]:
        """The rows whose first line is None, and the others rejected as duplicates."""
        kept: list[Row] = []
        kept_lines: list[int] = []
        rejected = [*rejected]
        for row, line, first in zip(rows, row_lines, firsts, strict=True):
            if first is None:
                kept.append(row)
                kept_lines.append(line)
            else:
                rejected.append(ImportLine(line, row[0], "rejected",
                                           f"duplicate: the same address as line {first}"))
        rejected.sort()
        return kept, kept_lines, rejected


def _lines(rows: list[Row], row_lines: list[int], outcomes: list[StoredOutcome],
           rejected: list[ImportLine]) -> list[ImportLine]:
    """Every line of a batch, in file order: the stored rows' and the rejected ones."""
    # tuple.__new__ makes the named tuples without a Python call per line.
    stored = list(map(functools.partial(tuple.__new__, ImportLine), zip(
        row_lines, [row[0] for row in rows], outcomes, itertools.repeat(None))))
    # Line numbers are distinct: merging the tuples puts the lines in file order.
    return list(heapq.merge(stored, rejected)) if rejected else stored


Row = tuple[str, str, str]  # to store: address, name, categories


class _Rows:
    """Reads the CSV rows, remembering the addresses seen.

    `read` takes one row. `read_plain` takes a block of records and, when every
    one is plain (a full row; an address in the pattern's form with its domain in
    lower case, seen nowhere before, not forgotten; known categories; a name of
    printable text, at most MAX_NAME long, with no double or outer space;
    nothing in spreadsheet-safe form), gives the rows `read` would give, in a
    few C loops instead of a call per row; otherwise None, remembering nothing.
    """

    def __init__(self, fields: list[str], store: Store, known: list[str], force: bool
                 ) -> None:
        self.store = store
        self.known = known
        self.check = not force and store.has_forgotten()  # else no query per row
        self.width = len(fields)
        self.at_email = fields.index("email")
        self.at_name = fields.index("name") if "name" in fields else None
        self.at_categories = fields.index("categories") if "categories" in fields else None
        self.seen: dict[str, int] = {}  # address (lower case) -> the line that first had it
        # The categories cell -> (True, the stored form) or (False, why it is refused).
        self.categories_of: dict[str, tuple[bool, str]] = {}

    def categories(self, cell: str) -> tuple[bool, str]:
        checked = self.categories_of.get(cell)
        if checked is None:
            try:
                checked = (True, " ".join(sorted(check_categories(cell.split(), self.known))))
            except ValueError as exc:
                checked = (False, str(exc))
            self.categories_of[cell] = checked
        return checked

    def read(self, line: int, row: list[str]) -> Row | ImportLine | None:
        """The row to store, the line's rejection, or None for a blank line."""
        if len(row) < self.width:
            if not any(row):
                return None
            row += [""] * (self.width - len(row))
        raw = row[self.at_email].strip()
        if raw.startswith("'"):
            raw = _from_spreadsheet_safe(raw)
        try:
            address = normalise_address(raw)
        except ValueError as exc:
            return ImportLine(line, raw, "rejected", f"invalid address: {exc}")
        good, cats = self.categories(row[self.at_categories]
                                     if self.at_categories is not None else "")
        if not good:
            return ImportLine(line, address, "rejected", cats)
        first = self.seen.setdefault(address.lower(), line)
        if first != line:
            return ImportLine(line, address, "rejected",
                              f"duplicate: the same address as line {first}")
        if self.check and self.store.is_forgotten(address):
            return ImportLine(line, address, "rejected", FORGOTTEN)
        name = row[self.at_name] if self.at_name is not None else ""
        if name.startswith("'"):
            name = _from_spreadsheet_safe(name)
        return address, normalise_name(name), cats

    def read_plain(self, block: list[Record]) -> list[Row] | None:
        """The rows of a block of plain records, or None (see the class)."""
        rows = [row for _, row, _ in block]
        if self.check or any(row is None or len(row) < self.width for row in rows):
            return None
        full = typing.cast(list[list[str]], rows)
        at = self.at_categories
        cells = [row[at] for row in full] if at is not None else [""] * len(full)
        stored_form = {}
        for cell in set(cells):
            good, stored_form[cell] = self.categories(cell)
            if not good:
                return None
        emails = [row[self.at_email] for row in full]
        at = self.at_name
        names = [row[at] for row in full] if at is not None else [""] * len(full)
        if not _plain(emails, names):
            return None
        # The first line of each address (reversed: a dict keeps the last one given).
        firsts = dict(zip(map(str.lower, reversed(emails)),
                          [line for line, _, _ in reversed(block)], strict=True))
        if len(firsts) < len(emails) or not self.seen.keys().isdisjoint(firsts):
            return None  # a duplicate among them
        self.seen.update(firsts)
        return list(zip(emails, names, map(stored_form.__getitem__, cells), strict=True))


def _plain(emails: list[str], names: list[str]) -> bool:
    """Whether the addresses are stored as they are and the names too (no spreadsheet
    quote, printable, no double or outer space, at most MAX_NAME long)."""
    if not all(map(PLAIN_ADDRESS.fullmatch, emails)) or \
            not all(map(str.isprintable, names)) or max(map(len, names)) > MAX_NAME:
        return False
    text = "\n" + "\n".join(emails) + "\n" + "\n".join(names) + "\n"
    return "\n'" not in text and "  " not in text and " \n" not in text and "\n " not in text


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
