"""The daily job: fetch, build, send (and its test copy), preview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digest.cli.framework import (
    EXIT_CODES,
    DigestCommand,
    Settings,
    date_option,
    fail,
    json_option,
    opened,
    parse_date,
    pass_settings,
)
from digest.cli.output import emit_json

if TYPE_CHECKING:
    from digest.app import (
        BuildResult,
        DeliveryReport,
        Digest,
        FeedReport,
        GatherReport,
        MailRun,
        SendResult,
    )
    from digest.config import Config
    from digest.models import Edition, Subscriber


def _feed_line(settings: Settings, report: FeedReport) -> None:
    settings.progress.advance()
    where = ", ".join(report.categories)
    if report.failed:
        settings.warn(f"{report.url} [{where}]: {report.message}")
    elif report.message:
        settings.warn(f"{report.url} [{where}]: {report.message}")
        settings.detail(f"  {report.entries} entries, {report.new} new")
    else:
        state = "unchanged" if report.outcome == "not_modified" else (
            f"{report.entries} entries, {report.new} new")
        settings.detail(f"{report.url} [{where}]: {state}")


def _start_fetch_bar(settings: Settings, digest: Digest) -> None:
    settings.progress.start("fetching feeds", digest.feed_count())


def _gathered_json(report: GatherReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {"feeds": report.feeds, "new": report.new, "unchanged": report.unchanged,
            "failed": len(report.failed)}


@click.command(cls=DigestCommand, epilog=EXIT_CODES)
@click.option("--reenable", "reenable", multiple=True, metavar="URL",
              help="Fetch this feed again although it said 410 Gone or asked to wait "
                   "(repeatable).")
@json_option("Print each feed's result as JSON.")
@pass_settings
def fetch(settings: Settings, reenable: tuple[str, ...], as_json: bool) -> None:
    """Gather new articles from the feeds into the state file.

    \b
    Example:
      digest fetch --reenable https://example.org/category/sport/feed/
    """
    with opened(settings, lock=True) as digest:
        _start_fetch_bar(settings, digest)
        result = digest.fetch(reenable=reenable, on_feed=lambda r: _feed_line(settings, r))
    for url in result.not_held:
        settings.warn(f"{url}: was neither gone nor waiting; fetched as usual")
    report = result.report
    if as_json:
        emit_json(_gathered_json(report))
    settings.info(f"fetched {report.summary()}")
    if report.all_failed:
        fail("no feed could be fetched; check the URLs above and the network", 1)


@click.command(cls=DigestCommand)
@date_option
@click.option("--all", "everything", is_flag=True,
              help="Render every page and feed again, not only those whose inputs changed.")
@pass_settings
def build(settings: Settings, date_text: str | None, everything: bool) -> None:
    """Make a date's edition and write the outputs (no mail).

    The edition is made from the stored articles; nothing is fetched. Only the
    files whose inputs changed are rendered again (a changed template or config
    renders them all).

    \b
    Example:
      digest build --date 2026-11-25 --all
    """
    with opened(settings, lock=True) as digest:
        date = parse_date(date_text, digest)
        result = digest.build(date, everything=everything)
    _say_built(settings, digest.config, date, result)


def _say_built(settings: Settings, config: Config, date: dt.date,
               result: BuildResult) -> None:
    edition = result.edition
    if edition is None:
        settings.info(f"no new articles for {date}: no edition")
    else:
        sections = ", ".join(f"{s.title} {len(s.articles)}" for s in edition.sections)
        kept = " (already sent, unchanged)" if not result.changed else ""
        settings.info(f"edition {date}: {edition.article_count} articles{kept} ({sections})")
    settings.info(f"outputs in {config.output}: {len(result.written)} file(s) changed")
    for path in result.written:
        settings.detail(f"  wrote {path}")


def _start_send_bar(settings: Settings, edition: Edition, recipients: int) -> None:
    settings.progress.start(f"sending {edition.date}", recipients)


def _message_sent(settings: Settings, subscriber: Subscriber, outcome: str) -> None:
    settings.progress.advance()
    settings.detail(f"  {subscriber.email}: {outcome}")


@click.command(cls=DigestCommand, epilog=EXIT_CODES)
@date_option
@click.option("--dry-run", is_flag=True,
              help="Fetch, build and render every message, but send and record nothing.")
@click.option("--no-fetch", is_flag=True, help="Use the stored articles; fetch nothing.")
@click.option("--to", "test_to", metavar="ADDRESS",
              help="Send only one test copy (\"[TEST]\" in the subject) of the stored "
                   "articles' edition to ADDRESS; fetch, publish and record nothing.")
@click.option("--retry-unknown", is_flag=True,
              help="Send again to recipients whose delivery is unknown (the mail server "
                   "never answered the end of the message; see `digest status`).")
@json_option("Print what was fetched, built and sent as JSON.")
@pass_settings
def send(settings: Settings, date_text: str | None, dry_run: bool, no_fetch: bool,
         test_to: str | None, retry_unknown: bool, as_json: bool) -> None:
    """The daily job: fetch, build, publish and email the edition.

    Emails it to every active subscriber; this is the command for cron.
    Running it again for the same date sends nothing more; mail left
    undelivered by an earlier run goes out first, as does the sign-up mail
    that `digest serve` left queued. A message the mail server
    never confirmed (no reply within [smtp] data_timeout, or the connection
    lost after the end of the message) is recorded as unknown and sent again
    only with --retry-unknown. SIGTERM or SIGINT stops
    the send after the messages in flight (exit 143 or 130).

    \b
    Example (the crontab line):
      30 7 * * *  cd /srv/digest && digest -q send
    """
    if test_to is not None:  # the old spelling of `digest test-send ADDRESS`
        _refuse_with_to(dry_run=dry_run, no_fetch=no_fetch, retry_unknown=retry_unknown,
                        as_json=as_json)
        _test_send(settings, date_text, test_to)
        return
    with opened(settings, lock=True) as digest:
        date = parse_date(date_text, digest)
        if not dry_run:  # what `digest serve` left of the sign-up form's mail
            _say_signup_mail(settings, digest.send_signup_mail())
        if not no_fetch:
            _start_fetch_bar(settings, digest)
        result = digest.send(date, dry_run=dry_run, fetch=not no_fetch,
                             retry_unknown=retry_unknown,
                             on_feed=lambda r: _feed_line(settings, r),
                             on_start=lambda e, n: _start_send_bar(settings, e, n),
                             on_message=lambda s, o: _message_sent(settings, s, o))
    _say_sent(settings, digest.config, date, result, dry_run=dry_run, as_json=as_json)


def _say_signup_mail(settings: Settings, run: MailRun) -> None:
    if run.problem:
        settings.warn(f"sign-up mail: {run.later} messages wait: {run.problem}")
    if run.sent:
        settings.info(f"sign-up mail left by `digest serve`: {run.sent} sent")


def _refuse_with_to(**given: bool) -> None:
    """send --to sends one test copy: options of the daily job would be silently ignored."""
    names = [f"--{name.replace('_', '-').replace('as-', '')}" for name, on in given.items()
             if on]
    if names:
        raise click.UsageError(
            f"--to sends one test copy and records nothing, so {', '.join(names)} cannot go "
            "with it; run `digest test-send ADDRESS` for the test copy (it takes --date), "
            "and `digest send` without --to for the daily job")


def _say_sent(settings: Settings, config: Config, date: dt.date, result: SendResult, *,
              dry_run: bool, as_json: bool) -> None:
    if as_json:
        emit_json(_send_json(result, date, dry_run))
    for warning in result.warnings:
        settings.warn(warning)
    if result.bounces is not None:
        for warning in result.bounces.warnings:
            settings.warn(warning)
        settings.info(f"bounces: {result.bounces.summary()}")
    if result.gathered is not None:
        settings.info(f"fetched {result.gathered.summary()}")
    _say_built(settings, config, date, result.built)
    for report in result.deliveries:
        for problem in report.problems:
            settings.warn(problem)
        for address in report.bounced:
            settings.warn(f"{address}: marked bounced (refused for good: no such address, or "
                          f"3 editions in a row; `digest editions show {date.isoformat()} "
                          "--failures` has the server's reply)")
        settings.info(report.summary())
    if result.built.edition is None and not result.deliveries:
        settings.info("nothing to send")
    if config.email.transport == "file" and not dry_run and result.deliveries:
        settings.info(f"messages written to {config.email.outbox}")
    if result.undelivered:
        fail(_undelivered(result.deliveries), 1)
    if result.gathered is not None and result.gathered.all_failed:
        fail("no feed could be fetched; check the URLs above and the network", 1)
    settings.info(_send_summary(result, dry_run))


def _undelivered(reports: Sequence[DeliveryReport]) -> str:
    """What was left undelivered, and for each kind what will become of it."""
    parts = []
    if any(r.deferred or r.waiting or r.stopped for r in reports):
        parts.append("some mail was not delivered yet; run `digest send` again to deliver "
                     "the rest (what was sent is not sent twice)")
    failed = sum(r.failed for r in reports)
    if failed:
        parts.append(f"{failed} address(es) were refused for good (see above) and are not "
                     "tried again for this edition; correct or remove them")
    unknown = sum(r.unknown for r in reports)
    if unknown:
        parts.append(f"the mail server never confirmed {unknown} message(s), which may have "
                     "been delivered; they are not sent again: check the server's log, then "
                     "`digest send --retry-unknown` sends them again (`digest status` lists "
                     "them)")
    return "; ".join(parts)


def _send_json(result: SendResult, date: dt.date, dry_run: bool) -> dict[str, Any]:
    edition = result.built.edition
    return {
        "date": date,
        "dry_run": dry_run,
        "fetched": _gathered_json(result.gathered),
        "edition": {"date": edition.date, "articles": edition.article_count,
                    "changed": result.built.changed} if edition else None,
        "files_written": [str(p) for p in result.built.written],
        "deliveries": [{"date": d.date, "articles": d.articles, "sent": d.sent,
                        "deferred": d.deferred, "failed": d.failed, "unknown": d.unknown,
                        "nothing_for": d.nothing_for, "bounced": d.bounced,
                        "problems": d.problems, "stopped": d.stopped}
                       for d in result.deliveries],
        "undelivered": result.undelivered,
        "warnings": result.warnings,
        "bounces": result.bounces.record() if result.bounces is not None else None,
    }


def _send_summary(result: SendResult, dry_run: bool) -> str:
    sent = sum(d.sent for d in result.deliveries)
    failed_feeds = len(result.gathered.failed) if result.gathered else 0
    edition = result.built.edition
    parts = [f"edition {edition.date} ({edition.article_count} articles)" if edition
             else "no new edition"]
    parts.append(f"{sent} message(s) {'would be sent' if dry_run else 'sent'}")
    if failed_feeds:
        parts.append(f"{failed_feeds} feed(s) failing")
    return "done: " + ", ".join(parts)



@click.command("test-send", cls=DigestCommand)
@click.argument("address")
@date_option
@pass_settings
def test_send(settings: Settings, address: str, date_text: str | None) -> None:
    """Email one test copy of the edition to ADDRESS, "[TEST]" in the subject.

    The copy is made from the stored articles, signed and sent as the real
    messages are; nothing is fetched, published or recorded, and ADDRESS need
    not be a subscriber. With the file transport it goes to OUTBOX/test/.
    `digest send --to ADDRESS` is the same.

    \b
    Example:
      digest test-send editor@example.org --date 2026-11-25
    """
    _test_send(settings, date_text, address)


def _test_send(settings: Settings, date_text: str | None, address: str) -> None:
    with opened(settings) as digest:
        date = parse_date(date_text, digest)
        result = digest.test_send(date, address)
    to, config = result.address, digest.config
    if result.outcome != "sent":
        fail(f"{to}: {result.outcome} ({result.reply}); nothing was recorded", 1)
    where = (f" (written to {config.email.outbox / 'test'})"
             if config.email.transport == "file" else "")
    settings.info(f"test copy of {date} ({result.edition.article_count} articles) sent to "
                  f"{to}{where}: {result.subject}")


@click.command(cls=DigestCommand)
@date_option
@click.option("--out", "folder", metavar="FOLDER", type=click.Path(path_type=Path),
              help="Where to write DATE.html and DATE.txt [default: preview/ beside the "
                   "config].")
@click.option("--open", "open_it", is_flag=True, help="Open the HTML in a web browser.")
@pass_settings
def preview(settings: Settings, date_text: str | None, folder: Path | None,
            open_it: bool) -> None:
    """Write the edition's email, HTML and text, to a folder to look at (nothing is sent).

    \b
    Example:
      digest preview --open
    """
    import webbrowser

    with opened(settings) as digest:
        date = parse_date(date_text, digest)
        result = digest.preview(date, folder)
    settings.info(f"edition {date}: {result.edition.article_count} articles")
    click.echo(str(result.html))
    click.echo(str(result.text))
    if open_it:
        try:
            shown = webbrowser.open(result.html.resolve().as_uri())
        except webbrowser.Error:
            shown = False
        if not shown:
            settings.warn("no web browser could be started here; open the HTML file above "
                          "yourself (or set $BROWSER)")


COMMANDS = (fetch, build, send, test_send, preview)
