"""`digest bounces`: read the bounce mailbox and act on what came back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from digest.cli.framework import (
    EXIT_CODES,
    DigestCommand,
    Settings,
    json_option,
    opened,
    pass_settings,
)
from digest.cli.output import emit_json

if TYPE_CHECKING:
    from digest.app import BounceLine


@click.command(cls=DigestCommand, epilog=EXIT_CODES)
@click.option("--dry-run", is_flag=True,
              help="Classify every message and say what would be done; change and move "
                   "nothing.")
@click.option("--again", is_flag=True,
              help="Read again the messages earlier runs left in the mailbox (not "
                   "recognised, or proving nothing), after an upgrade of digest or a "
                   "change of [email] return_path.")
@json_option("Print every message's line and the counts as JSON (see docs/bounces.md).")
@pass_settings
def bounces(settings: Settings, dry_run: bool, again: bool, as_json: bool) -> None:
    """Read the bounce mailbox ([bounces] mailbox) and act on each message.

    A hard bounce makes the address bounced at once, soft bounces after
    [bounces] soft_limit editions in a row; a complaint or a mailed
    unsubscribe unsubscribes it; a policy block is counted (see `digest
    status`); automatic replies and warnings of a delay (the server still
    tries) are ignored. Handled messages are put away
    (a Maildir's .processed folder, IMAP's processed folder; an mbox's are
    remembered), so a rerun does not count them twice. Anything not
    recognised is left in place for a person to read, and not read again by
    later runs (--again does). `digest send` runs this first.

    \b
    Example:
      digest bounces --dry-run
    """
    def line(found: BounceLine) -> None:
        if not as_json:
            settings.info(found.text())

    with opened(settings, lock=not dry_run, create=False) as digest:
        report = digest.process_bounces(dry_run=dry_run, on_line=line, keep_lines=as_json,
                                        again=again)
    for warning in report.warnings:
        settings.warn(warning)
    if as_json:
        emit_json(report.record())
        return
    settings.info(report.summary())


COMMANDS = (bounces,)
