"""The command line: thin commands that parse options, call one function and print.

Exit codes: 0 done (failing feeds are warnings), 1 mail left undelivered or
nothing could be fetched at all, 2 usage or configuration error, 3 another run
holds the lock.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from digest import __version__, pipeline
from digest.config import Config, config_path, load_config
from digest.errors import DigestError
from digest.lock import run_lock
from digest.sources.gather import FeedReport
from digest.sources.gather import reenable as reenable_feed
from digest.store import Store
from digest.subscribers import check_categories, import_csv, normalise_address, normalise_name

EXIT_CODES = """\b
Exit codes:
  0  done (feeds that failed are reported as warnings)
  1  mail left undelivered, or no feed could be fetched at all
  2  usage or configuration error
  3  another run holds the lock on the state file"""


@dataclass
class Settings:
    config_option: str | None
    verbose: int
    quiet: bool
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(config_path(self.config_option))
        return self._config

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(click.style("warning: ", fg="yellow") + message, err=True)


class DigestGroup(click.Group):
    """Turns DigestErrors into a clear message and exit code; a traceback only with -v."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            verbose = isinstance(ctx.obj, Settings) and ctx.obj.verbose > 0
            if verbose:
                traceback.print_exc()
            click.echo(click.style("error: ", fg="red") + str(exc), err=True)
            ctx.exit(exc.exit_code)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(click.style("error: ", fg="red") + message, err=True)
    sys.exit(code)


def parse_date(value: str | None, config: Config) -> dt.date:
    if value is None:
        return pipeline.today(config)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-25",
                                 param_hint="--date") from None


@contextmanager
def opened(settings: Settings, *, lock: bool = False) -> Iterator[tuple[Config, Store]]:
    config = settings.config
    if lock:
        with run_lock(config.state), Store(config.state) as store:
            yield config, store
    else:
        with Store(config.state) as store:
            yield config, store


@click.group(cls=DigestGroup, epilog=EXIT_CODES, context_settings={"help_option_names":
                                                                    ["-h", "--help"]})
@click.option("--config", "config_option", metavar="PATH",
              help="Config file [default: $DIGEST_CONFIG, else ./config.toml].")
@click.option("-v", "--verbose", count=True, help="Say more; show tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_option: str | None, verbose: int, quiet: bool) -> None:
    """Build a daily digest of a news site's category feeds: publish it as feeds and
    web pages, and email it to subscribers.

    The daily cron job is `digest send`.
    """
    ctx.obj = Settings(config_option, verbose, quiet)


def _feed_line(settings: Settings, report: FeedReport) -> None:
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


@cli.command()
@click.option("--reenable", "reenable", multiple=True, metavar="URL",
              help="Fetch this feed again although it said 410 Gone or asked to wait "
                   "(repeatable).")
@click.pass_obj
def fetch(settings: Settings, reenable: tuple[str, ...]) -> None:
    """Gather new articles from every category's feeds into the state file."""
    with opened(settings, lock=True) as (config, store):
        for url in reenable:
            if url not in pipeline.feed_locations(config):
                fail(f"{url}: not a feed in {config.path} (see `digest status`)", 2)
            if not reenable_feed(store, url):
                settings.warn(f"{url}: was neither gone nor waiting; fetched as usual")
        report = pipeline.fetch(config, store, on_feed=lambda r: _feed_line(settings, r))
    settings.info(f"fetched {report.summary()}")
    if report.all_failed:
        fail("no feed could be fetched; check the URLs above and the network", 1)


@cli.command()
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="The edition's date [default: today in the digest's time zone].")
@click.pass_obj
def build(settings: Settings, date_text: str | None) -> None:
    """Make the edition of a date from the stored articles and write the outputs (no mail)."""
    with opened(settings, lock=True) as (config, store):
        date = parse_date(date_text, config)
        result = pipeline.build(config, store, date)
    _say_built(settings, config, date, result)


def _say_built(settings: Settings, config: Config, date: dt.date,
               result: pipeline.BuildResult) -> None:
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


@cli.command(epilog=EXIT_CODES)
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="The edition's date [default: today in the digest's time zone].")
@click.option("--dry-run", is_flag=True,
              help="Fetch, build and render every message, but send and record nothing.")
@click.option("--no-fetch", is_flag=True, help="Use the stored articles; fetch nothing.")
@click.pass_obj
def send(settings: Settings, date_text: str | None, dry_run: bool, no_fetch: bool) -> None:
    """Fetch, build and publish the edition, then email it to every active subscriber.

    The daily cron command. Running it again for the same date sends nothing
    more; mail left undelivered by an earlier run goes out first.
    """
    with opened(settings, lock=True) as (config, store):
        date = parse_date(date_text, config)
        result = pipeline.send(config, store, date, dry_run=dry_run, skip_fetch=no_fetch,
                               on_feed=lambda r: _feed_line(settings, r))
    for warning in result.warnings:
        settings.warn(warning)
    if result.gathered is not None:
        settings.info(f"fetched {result.gathered.summary()}")
    _say_built(settings, config, date, result.built)
    for report in result.deliveries:
        for problem in report.problems:
            settings.warn(problem)
        for address in report.bounced:
            settings.warn(f"{address}: marked bounced after repeated permanent failures")
        settings.info(report.summary())
    if result.built.edition is None and not result.deliveries:
        settings.info("nothing to send")
    if config.email.transport == "file" and not dry_run and result.deliveries:
        settings.info(f"messages written to {config.email.outbox}")
    if result.undelivered:
        fail("some mail was not delivered; run `digest send` again to deliver the rest "
             "(what was sent is not sent twice)", 1)
    if result.gathered is not None and result.gathered.all_failed:
        fail("no feed could be fetched; check the URLs above and the network", 1)


@cli.group()
def subscribers() -> None:
    """Manage the subscriber list."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the To header.")
@click.option("--category", "categories", multiple=True, metavar="SLUG",
              help="Send only this category's section (repeatable) [default: all].")
@click.pass_obj
def subscribers_add(settings: Settings, email: str, name: str,
                    categories: tuple[str, ...]) -> None:
    """Add a subscriber, or update one (re-activating an unsubscribed address)."""
    with opened(settings) as (config, store):
        try:
            address = normalise_address(email)
            cats = check_categories(categories, config.category_slugs)
        except ValueError as exc:
            fail(f"{email}: {exc}", 2)
        _, outcome = store.upsert_subscriber(address, normalise_name(name), cats)
    settings.info(f"{address}: {outcome}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(settings: Settings, email: str) -> None:
    """Unsubscribe an address (kept as unsubscribed, so it is never mailed again)."""
    _unsubscribe(settings, email)


def _unsubscribe(settings: Settings, email: str) -> None:
    with opened(settings) as (_config, store):
        found = store.subscriber(email.strip())
        if found is None:
            fail(f"{email}: no such subscriber (see `digest subscribers list`)", 1)
        store.set_subscriber_status(found.email, "unsubscribed")
    settings.info(f"{found.email}: unsubscribed")


@cli.command()
@click.argument("email")
@click.pass_obj
def unsubscribe(settings: Settings, email: str) -> None:
    """Unsubscribe an address, as its one-click link would."""
    _unsubscribe(settings, email)


@subscribers.command("list")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced"]),
              help="Only subscribers with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def subscribers_list(settings: Settings, status: str | None, as_json: bool) -> None:
    """List subscribers: email, name, categories, status."""
    count = 0
    with opened(settings) as (_config, store):
        for s in store.subscribers(status):
            count += 1
            cats = " ".join(sorted(s.categories))
            if as_json:
                click.echo(json.dumps({"email": s.email, "name": s.name,
                                       "categories": sorted(s.categories),
                                       "status": s.status}, ensure_ascii=False))
            else:
                click.echo(f"{s.email}\t{s.name}\t{cats or '(all)'}\t{s.status}")
    settings.info(f"{count} subscriber(s)")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def subscribers_import(settings: Settings, file: Path) -> None:
    """Import a CSV file with the columns email,name,categories (categories space-separated).

    Each line is reported as added, updated, unchanged or rejected with the reason.
    An import never re-activates an address that unsubscribed.
    """
    with opened(settings) as (config, store):
        try:
            lines = import_csv(file, store, config.category_slugs)
        except (ValueError, UnicodeDecodeError) as exc:
            fail(str(exc), 2)
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
        if line.outcome == "rejected":
            settings.warn(f"{file}:{line.line}: {line.email or '(empty)'}: {line.reason}")
        else:
            settings.detail(f"{file}:{line.line}: {line.email}: {line.outcome}")
    summary = ", ".join(f"{counts.get(k, 0)} {k}"
                        for k in ("added", "updated", "unchanged", "rejected"))
    settings.info(f"imported {file}: {summary}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Feed health, recent editions with their deliveries, and subscriber counts."""
    now = dt.datetime.now(dt.UTC)
    with opened(settings) as (config, store):
        feeds = []
        for url in pipeline.feed_locations(config):
            state = store.feed_state(url)
            failing_long = bool(state.failing_since and
                                now - state.failing_since > dt.timedelta(days=1))
            feeds.append({
                "url": url,
                "last_success": state.last_success.isoformat() if state.last_success else None,
                "last_error": state.last_error,
                "failing_since": (state.failing_since.isoformat()
                                  if state.failing_since else None),
                "failing_over_a_day": failing_long,
                "gone": state.gone,
                "moved_to": state.moved_to,
            })
        editions = [
            {"date": e.date.isoformat(), "articles": e.article_count, "delivery_started": e.frozen,
             **store.delivery_counts(e.id or 0)}
            for e in store.editions(limit=7)
        ]
        store_counts = store.subscriber_counts()
        data = {
            "state": str(config.state),
            "state_bytes": config.state.stat().st_size if config.state.exists() else 0,
            "articles": store.article_count(),
            "feeds": feeds,
            "editions": editions,
            "subscribers": store_counts,
        }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"state: {data['state']} ({data['state_bytes']} bytes, "
               f"{data['articles']} articles)")
    click.echo("feeds:")
    for f in feeds:
        if f["gone"]:
            mark = "GONE"
        elif f["failing_over_a_day"]:
            mark = "FAILING"
        elif f["last_error"]:
            mark = "error"
        elif f["last_success"]:
            mark = "ok"
        else:
            mark = "never fetched"
        line = f"  {mark:<13} {f['url']}"
        if f["last_error"]:
            line += f"\n                since {f['failing_since']}: {f['last_error']}"
        click.echo(line)
    click.echo("editions:")
    for e in editions:
        click.echo(f"  {e['date']}  {e['articles']:>3} articles  sent {e['sent']}, "
                   f"deferred {e['deferred']}, failed {e['failed']}")
    counts = store_counts
    click.echo("subscribers: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


def main() -> None:
    cli(prog_name="digest")
