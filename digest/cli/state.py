"""Looking at the state: status, editions list/show, feeds check."""

from __future__ import annotations

import datetime as dt

import click

from digest.cli.framework import (
    DigestCommand,
    DigestGroup,
    Settings,
    complete_edition_dates,
    fail,
    json_option,
    opened,
    pass_settings,
)
from digest.cli.output import emit_json, emit_table, size, when


@click.command(cls=DigestCommand)
@click.option("--editions", "edition_limit", type=click.IntRange(min=1), default=7,
              show_default=True, help="How many recent editions to show.")
@json_option()
@pass_settings
def status(settings: Settings, edition_limit: int, as_json: bool) -> None:
    """Feed health, recent editions, subscribers, state file.

    Shows each source's health (last success, last error, failing since), the
    last editions with their article and delivery counts (sent, deferred,
    failed, unknown) and bounce counts (bounced, complained, blocked for
    policy), the recipients whose delivery is unknown, subscriber counts
    (active, unsubscribed, bounced), a warning per receiving domain that
    blocks the sender for policy, the domains whose servers sent warnings of a
    delay lately, the sign-up form's mail still to be sent
    (a warning when some has waited over an hour) and the sign-ups refused
    (honeypot, rate, domain), and the state file's path and size.

    \b
    Example:
      digest status --editions 14
    """
    with opened(settings, create=False) as digest:
        data = digest.status(editions=edition_limit)
    config = digest.config
    if as_json:
        emit_json(data)
        for warning in data.warnings():
            settings.warn(warning)
        settings.info(data.summary())
        return
    click.echo(f"State file: {data.state.path} ({size(data.state.bytes)}, "
               f"{data.state.articles} articles, {data.state.editions} edition(s))")
    click.echo(f"\nSources ({len(data.sources)}; times in {config.timezone}):")
    emit_table(
        ["  HEALTH", "LAST SUCCESS", "FAILING SINCE", "CATEGORIES", "URL"],
        # Flagged in capitals: failing for over a day, or gone for good.
        [[f"  {s.health.upper() if s.health in ('failing', 'gone') else s.health}",
          when(s.last_success, config), when(s.failing_since, config),
          ",".join(s.categories), s.url] for s in data.sources],
    )
    for s in data.sources:
        if s.last_error:
            click.echo(f"  {s.url}: {s.last_error}")
        if s.moved_to:
            click.echo(f"  {s.url}: moved to {s.moved_to}; update the config")
        if s.coverage:
            click.echo(f"  {s.url}: {s.coverage}")
    click.echo(f"\nEditions (last {edition_limit}):")
    if data.editions:
        emit_table(
            ["  DATE", "ARTICLES", "DELIVERY", "SENT", "DEFERRED", "FAILED", "UNKNOWN",
             "BOUNCED", "COMPLAINED", "BLOCKED"],
            [[f"  {e.date}", e.articles, e.delivery, e.sent, e.deferred, e.failed, e.unknown,
              e.bounced, e.complained, e.blocked] for e in data.editions],
        )
    else:
        click.echo("  none yet (`digest send` makes one)")
    if data.unconfirmed:
        click.echo("\nUnknown deliveries (the mail server never confirmed them; not sent "
                   "again until `digest send --retry-unknown`):")
        for u in data.unconfirmed:
            click.echo(f"  {u.date}  {u.email}  {u.reply or ''}".rstrip())
    click.echo("\nSubscribers: " + ", ".join(f"{n} {k}" for k, n in data.subscribers.items()))
    b = data.bounces
    click.echo(f"Bounces: {b.bounced} bounced, {b.complained} complained, {b.blocked} "
               f"blocked for policy, {b.unsubscribed_by_mail} unsubscribed by mail")
    if b.delays:
        click.echo(b.delays_line())
    signup = data.signup
    refused = ", ".join(f"{n} {why}" for why, n in sorted(signup.refused.items()))
    click.echo(f"Sign-up form: {signup.waiting} mail(s) waiting to be sent"
               + (f", the oldest since {when(signup.waiting_since, config)}"
                  if signup.waiting_since else "")
               + f"; refused without a word: {refused or 'none'}")
    for warning in data.warnings():
        settings.warn(warning)
    settings.info(data.summary())


@click.group(cls=DigestGroup)
def editions() -> None:
    """The editions made so far.

    \b
    Example:
      digest editions show latest
    """


@editions.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many editions, newest first.")
@json_option()
@pass_settings
def editions_list(settings: Settings, limit: int, as_json: bool) -> None:
    """List editions with article and delivery counts, newest first.

    UNKNOWN counts the recipients whose message went out but whose mail server
    never confirmed it: perhaps delivered, so not sent again until `digest send
    --retry-unknown` (`digest status` lists them).

    \b
    Example:
      digest editions list --limit 7 --json
    """
    with opened(settings, create=False) as digest:
        rows = digest.editions(limit)
    if as_json:
        emit_json(rows)
    elif rows:
        emit_table(
            ["DATE", "ARTICLES", "DELIVERY", "SENT", "DEFERRED", "FAILED", "UNKNOWN",
             "SECTIONS"],
            [[e.date, e.articles, e.delivery, e.sent, e.deferred, e.failed, e.unknown,
              ", ".join(f"{s.title} {s.articles}" for s in e.sections)] for e in rows],
        )
    settings.info(f"{len(rows)} edition(s)")


@editions.command("show")
@click.argument("date_text", metavar="DATE", shell_complete=complete_edition_dates)
@click.option("--failures", is_flag=True,
              help="List each recipient not sent (or whose copy bounced) with the mail "
                   "server's reply or the bounce's diagnostic.")
@json_option()
@pass_settings
def editions_show(settings: Settings, date_text: str, failures: bool,
                  as_json: bool) -> None:
    """Show an edition's articles by category.

    DATE is YYYY-MM-DD, `today` or `latest`.

    \b
    Example:
      digest editions show 2026-11-25 --failures
    """
    with opened(settings, create=False) as digest:
        if date_text == "latest":
            date = digest.latest_edition_date()
        elif date_text == "today":
            date = digest.today()
        else:
            try:
                date = dt.date.fromisoformat(date_text)
            except ValueError:
                raise click.BadParameter(f"{date_text!r} is not a date like 2026-11-25, "
                                         "`today` or `latest`", param_hint="DATE") from None
        data = digest.edition(date, failures=failures)
    config = digest.config
    if as_json:
        emit_json(data)
    elif data.failures is not None:
        click.echo(f"Edition {date}: {len(data.failures)} recipient(s) not sent or bounced")
        for f in data.failures:
            click.echo(f"  {f.email}\t{f.status}\t{when(f.when, config)}\t{f.reply}")
    else:
        click.echo(f"Edition {date}: {data.articles} articles, {data.delivery}")
        for section in data.sections:
            click.echo(f"\n{section.title} ({len(section.articles)})")
            for a in section.articles:
                byline = " · ".join(x for x in (a.author, when(a.published, config))
                                    if x and x != "-")
                click.echo(f"  {a.title}")
                click.echo(f"    {a.link}" + (f"  ({byline})" if byline else ""))
    settings.info(f"edition {date}: {data.articles} articles in "
                  f"{len(data.sections)} categories")


@click.group(cls=DigestGroup)
def feeds() -> None:
    """The configured feeds.

    \b
    Example:
      digest feeds check
    """


@feeds.command("check")
@json_option()
@pass_settings
def feeds_check(settings: Settings, as_json: bool) -> None:
    """Fetch every feed once and show how it answered.

    Nothing is stored. Feeds are fetched afresh, ignoring what the state file remembers, so this
    shows how the URLs in the config behave right now. Exits 1 when no feed
    could be read at all.

    \b
    Example:
      digest feeds check --json
    """
    with opened(settings, store=False) as digest:  # no state file is read or made
        settings.progress.start("checking feeds", digest.feed_count())
        results = digest.check_feeds(on_check=lambda _c: settings.progress.advance())
    config = digest.config
    if as_json:
        emit_json(results)
    else:
        emit_table(
            ["RESULT", "HTTP", "ENTRIES", "NEWEST", "SECONDS", "CATEGORIES", "URL"],
            [[c.outcome, c.http_status or "-", c.entries, when(c.newest, config),
              f"{c.seconds:.2f}", ",".join(c.categories), c.url] for c in results],
        )
    for c in results:
        if c.message:
            settings.warn(f"{c.url}: {c.message}")
    failed = sum(1 for c in results if c.failed)
    if results and failed == len(results):
        fail(f"none of the {len(results)} feeds could be read; check the URLs in "
             f"{config.path} and the network", 1)
    settings.info(f"checked {len(results)} feeds: {len(results) - failed} ok, {failed} failed")


COMMANDS = (status, editions, feeds)
