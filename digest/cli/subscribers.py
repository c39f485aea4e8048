"""Subscribers: subscribers add/remove/list/export/import, and unsubscribe."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from digest.cli.framework import (
    DigestCommand,
    DigestGroup,
    Settings,
    complete_categories,
    json_option,
    opened,
    pass_settings,
)
from digest.cli.output import emit_json_line
from digest.models import SUBSCRIBER_STATUSES

if TYPE_CHECKING:
    from digest.app import ImportLine

F = TypeVar("F", bound=Callable[..., Any])


def status_option(help_text: str) -> Callable[[F], F]:
    """--status, one of the subscriber statuses."""
    return click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help=help_text)


@click.group(cls=DigestGroup)
def subscribers() -> None:
    """Manage the subscriber list.

    \b
    Example:
      digest subscribers add reader@example.org --category sport
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the To header.")
@click.option("--category", "categories", multiple=True, metavar="SLUG",
              shell_complete=complete_categories,
              help="Send only this category's section (repeatable) [default: all].")
@click.option("--force", is_flag=True,
              help="Add it even if it was erased by `subscribers forget`.")
@pass_settings
def subscribers_add(settings: Settings, email: str, name: str,
                    categories: tuple[str, ...], force: bool) -> None:
    """Add a subscriber, or update one (re-activating an unsubscribed address).

    \b
    Example:
      digest subscribers add aysel@example.org --name "Aysel M." --category sport
    """
    with opened(settings) as digest:
        change = digest.add_subscriber(email, name, categories, force=force)
    settings.info(f"{change.email}: {change.outcome}")


@subscribers.command("remove")
@click.argument("email")
@pass_settings
def subscribers_remove(settings: Settings, email: str) -> None:
    """Unsubscribe an address (kept as unsubscribed, so it is never mailed again).

    \b
    Example:
      digest subscribers remove aysel@example.org
    """
    _unsubscribe(settings, email)


@subscribers.command("forget")
@click.argument("email")
@pass_settings
def subscribers_forget(settings: Settings, email: str) -> None:
    """Erase a person's data for a privacy request: address, name, consent,
    delivery records and queued sign-up mail, from every byte of the state file
    (its free pages and write-ahead log too), and the file transport's .eml files
    that hold the address. Only a salted hash of the address is kept, so that an
    import or `add` does not bring it back by accident (their --force does).

    \b
    Example:
      digest subscribers forget aysel@example.org
    """
    with opened(settings) as digest:
        change = digest.forget(email)
    if change.note:
        settings.warn(change.note)
    settings.info(f"{change.email}: forgotten")


def _unsubscribe(settings: Settings, email: str) -> None:
    with opened(settings) as digest:
        change = digest.unsubscribe(email)
    settings.info(f"{change.email}: unsubscribed")


@click.command(cls=DigestCommand)
@click.argument("email")
@pass_settings
def unsubscribe(settings: Settings, email: str) -> None:
    """Unsubscribe an address, as its one-click link would.

    \b
    Example:
      digest unsubscribe aysel@example.org
    """
    _unsubscribe(settings, email)


@subscribers.command("list")
@status_option("Only subscribers with this status.")
@json_option("Print JSON lines.")
@pass_settings
def subscribers_list(settings: Settings, status: str | None, as_json: bool) -> None:
    """List subscribers: email, name, categories, status (tab-separated).

    A paused subscriber's status reads "paused until DATE": no edition dated up
    to and including DATE is sent to them (they chose it on their manage page).
    A bounced or unsubscribed one's says since when and why (the bounce's status
    code and words, a complaint, a mailed unsubscribe).

    \b
    Example:
      digest subscribers list --status bounced
    """
    from digest.app import subscriber_record

    count = 0
    with opened(settings, create=False) as digest:
        for s in digest.subscribers(status):
            count += 1
            cats = " ".join(sorted(s.categories))
            until = s.paused_until.isoformat() if s.paused_until else None
            if as_json:
                record = subscriber_record(s)
                record.pop("created_at")
                if s.status == "paused":
                    record["paused_until"] = until
                if s.status in ("bounced", "unsubscribed") and s.status_changed_at:
                    record["status_reason"] = s.status_reason
                    record["status_changed_at"] = s.status_changed_at.isoformat()
                emit_json_line(record)
            else:
                shown = f"paused until {until}" if s.status == "paused" else s.status
                if s.status in ("bounced", "unsubscribed") and s.status_changed_at:
                    shown += (f" since {s.status_changed_at:%Y-%m-%d %H:%M} UTC"
                              + (f" ({s.status_reason})" if s.status_reason else ""))
                click.echo(f"{s.email}\t{s.name}\t{cats or '(all)'}\t{shown}")
    settings.info(f"{count} subscriber(s)")


@subscribers.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="CSV (read back by `import`) or a JSON array.")
@status_option("Only subscribers with this status [default: all].")
@pass_settings
def subscribers_export(settings: Settings, fmt: str, status: str | None) -> None:
    """Write every subscriber to stdout as CSV or JSON.

    Columns: email, name, categories, status, created_at. The CSV has the
    columns `digest subscribers import` reads; unsubscribed and bounced
    addresses are included (with their status) unless --status says otherwise.
    A CSV cell that starts with =, +, -, @, a tab or a carriage return gets a '
    in front, so a spreadsheet shows it as text instead of running it as a
    formula; `import` removes that ' again.

    \b
    Example:
      digest subscribers export --status active > subscribers.csv
    """
    with opened(settings, create=False) as digest:
        # Both formats stream: one subscriber at a time from the store to stdout.
        count = digest.export_subscribers(sys.stdout, fmt="json" if fmt == "json" else "csv",
                                          status=status)
        sys.stdout.flush()  # a closed pipe is reported here, not at exit
    settings.info(f"exported {count} subscriber(s)")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path))
@json_option("Print each line's outcome as a JSON line.")
@click.option("--force", is_flag=True,
              help="Import addresses erased by `subscribers forget` too.")
@pass_settings
def subscribers_import(settings: Settings, file: Path, as_json: bool, force: bool) -> None:
    """Add or update subscribers from a CSV file.

    The columns are email,name,categories (categories space-separated, empty
    for all); FILE `-` reads standard input. Prints each line's outcome:
    added, updated, unchanged, or rejected with the reason (invalid address,
    unknown category, duplicate, forgotten, unreadable CSV such as a stray quote); with
    -q only the rejected lines, on stderr. An import never re-activates an
    address that unsubscribed or bounced. Rows are stored a few thousand per
    transaction.

    \b
    Example:
      digest subscribers import subscribers.csv
    """
    name = "<stdin>" if str(file) == "-" else str(file)
    counts = dict.fromkeys(("added", "updated", "unchanged", "rejected"), 0)
    with opened(settings) as digest:
        source = sys.stdin.buffer.read() if name == "<stdin>" else file
        for batch in digest.import_subscribers(source, name, force=force):  # a transaction's lines
            for line in batch:
                counts[line.outcome] += 1
            _say_imported(settings, name, batch, as_json=as_json)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    settings.info(f"imported {name}: {summary}")


def _say_imported(settings: Settings, name: str, batch: list[ImportLine], *,
                  as_json: bool) -> None:
    # Written a batch at a time: 100,000 echo calls would cost seconds.
    if as_json:
        click.echo("\n".join([json.dumps(
            {"file": name, "line": line.line, "email": line.email,
             "outcome": line.outcome, "reason": line.reason}, ensure_ascii=False)
            for line in batch]))
        return
    shown = [f"{name}:{line.line}: {line.email or '(empty)'}: {line.outcome}"
             + (f" ({line.reason})" if line.reason else "")
             for line in batch if not settings.quiet or line.outcome == "rejected"]
    if settings.quiet:
        for text in shown:
            settings.warn(text)
    elif shown:
        click.echo("\n".join(shown))


COMMANDS = (subscribers, unsubscribe)
