"""The command line: each command parses its options, calls the `Digest` facade
(digest/app) once and presents what it returns.

The framework (global options, Settings, progress, error mapping) is in
`framework`, output helpers in `output`; the commands are grouped as the help
lists them: `daily` (fetch, build, send, test-send, preview), `bounces`, `state` (status,
editions, feeds), `subscribers` (subscribers, unsubscribe), `setup` (init,
serve). Only click and these modules are imported at start-up.
"""

from __future__ import annotations

import os

import click

from digest.cli import bounces, daily, setup, state, subscribers
from digest.cli.framework import EXIT_CODES, DigestGroup, settings_of

__all__ = ["cli", "main"]


@click.group(cls=DigestGroup, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build a daily digest of a news site's category feeds: publish it as feeds and
    web pages, and email it to subscribers.

    Start with `digest init`; the daily cron job is `digest send`.

    \b
    Example:
      digest init https://news.example.org && digest send --dry-run
    """
    settings_of(ctx)
    if os.environ.get("NO_COLOR"):  # https://no-color.org
        ctx.color = False


for _module in (daily, bounces, state, subscribers, setup):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="digest")
