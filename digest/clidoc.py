"""The CLI reference, generated from every command's --help.

    python -m digest.clidoc > docs/cli.md

A test compares docs/cli.md with this output, so the reference cannot drift.
"""

from __future__ import annotations

import click

from digest.cli import cli

WIDTH = 80  # fixed, so the text does not depend on the terminal that ran it

HEADER = """\
# Command-line reference

Generated from `digest --help` by `python -m digest.clidoc > docs/cli.md`; do
not edit by hand. The guide for editors (cron, systemd, shell completion, exit
codes) is [editors.md](editors.md).
"""


def _sections(command: click.Command, path: list[str],
              parent: click.Context | None) -> list[str]:
    ctx = click.Context(command, info_name=path[-1], parent=parent, terminal_width=WIDTH,
                        max_content_width=WIDTH, help_option_names=["-h", "--help"])
    text = command.get_help(ctx)
    parts = [f"## {' '.join(path)}\n\n```text\n{text}\n```\n"]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                parts += _sections(sub, [*path, name], ctx)
    return parts


def render() -> str:
    """The whole reference as Markdown."""
    return "\n".join([HEADER, *_sections(cli, ["digest"], None)])


if __name__ == "__main__":
    click.echo(render(), nl=False)
