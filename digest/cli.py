"""The command line: thin commands that parse options, call one function and print.

Data goes to stdout, messages (progress, warnings, errors, the closing summary)
to stderr. Every command accepts --config, -v/--verbose, -q/--quiet and
--version, before or after its name; commands that print data take --json.

Exit codes (EXIT_CODES, shown in --help): 0 done (failing feeds are warnings),
1 mail left undelivered, nothing could be fetched at all or another failure,
2 usage or configuration error, 3 another run holds the lock.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard, TypeVar

import click

from digest.errors import DigestError, Interrupted
from digest.models import SUBSCRIBER_STATUSES

# Commands import what they use when they run, so that --help, --version and shell
# completion start at once (see bench/startup.py); names used only in annotations here.
if TYPE_CHECKING:
    import sqlite3

    from digest import pipeline
    from digest.config import Config
    from digest.deliver.policy import DeliveryReport
    from digest.models import Edition, Subscriber
    from digest.sources.gather import FeedReport, GatherReport
    from digest.store import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0  done (feeds that failed are reported as warnings)
  1  mail left undelivered, no feed could be fetched at all, or another
     failure (something asked for does not exist, a file cannot be written)
  2  usage or configuration error
  3  another run holds the lock on the state file"""

# -- shared helpers -----------------------------------------------------------


class Progress:
    """One progress bar at a time on stderr, shown only when stderr is a terminal.

    Cron and pipes get no bar at all (not even click's label line); messages
    printed while a bar is up first clear its line.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.stream = sys.stderr
        self.bar: Any = None  # click's ProgressBar class is private

    def start(self, label: str, length: int) -> None:
        self.finish()
        if self.enabled and length > 0:
            self.bar = click.progressbar(length=length, label=label, file=self.stream,
                                         show_eta=True, show_pos=True, width=24)
            self.bar.__enter__()

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def clear_line(self) -> None:
        if self.bar is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.__exit__(None, None, None)


@dataclass
class Settings:
    """The global options, shared by every command through the click context."""

    config_option: str | None = None
    verbose: int = 0
    quiet: bool = False
    _config: Config | None = None
    _progress: Progress | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        from digest.config import config_path, load_config

        if self._config is None:
            self._config = load_config(config_path(self.config_option))
        return self._config

    @property
    def progress(self) -> Progress:
        if self._progress is None:
            # No bars in cron, pipes, dumb terminals or when asked to be quiet.
            shown = (not self.quiet and sys.stderr.isatty()
                     and os.environ.get("TERM") != "dumb")
            self._progress = Progress(shown)
        return self._progress

    def _say(self, message: str) -> None:
        if self._progress is not None:
            self._progress.clear_line()
        click.echo(message, err=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            self._say(message)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._say(message)

    def warn(self, message: str) -> None:
        self._say(click.style("warning: ", fg="yellow") + message)

    def error(self, message: str) -> None:
        self._say(click.style("error: ", fg="red") + message)


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _settings(ctx).config_option = value


def _add_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    _settings(ctx).verbose += value


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _settings(ctx).quiet = True


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from digest import __version__

        click.echo(f"digest {__version__}")
        ctx.exit()


GLOBAL_OPTIONS = ("config_option", "verbose", "quiet", "version")


def global_options() -> list[click.Parameter]:
    """The options every command takes, before or after its name."""
    return [
        click.Option(["--config", "config_option"], metavar="PATH", expose_value=False,
                     callback=_set_config,
                     help="Config file [default: $DIGEST_CONFIG, else ./config.toml]."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False,
                     callback=_add_verbose, help="Say more; show tracebacks on errors."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_quiet,
                     help="Print only warnings, errors and data."),
        click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_show_version, help="Show the version and exit."),
    ]


def _format_options(command: click.Command, ctx: click.Context,
                    formatter: click.HelpFormatter) -> None:
    """The command's own options first, then the global ones under their own heading."""
    own: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None:
            (shared if param.name in GLOBAL_OPTIONS else own).append(record)
    if own:
        with formatter.section("Options"):
            formatter.write_dl(own)
    with formatter.section("Global options"):
        formatter.write_dl(shared)


class DigestCommand(click.Command):
    """A command with the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)


class DigestGroup(click.Group):
    """A group with the global options whose commands have them too.

    At the top it turns errors into a clear message and exit code, with a
    traceback only under -v.
    """

    command_class = DigestCommand
    group_class = type  # subgroups are DigestGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            with _interruptible():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            name = signal.Signals(signum).name
            _report_error(ctx, f"stopped by {name}: what was in flight was finished and "
                               "recorded, nothing more was started; run the command again "
                               "to do the rest (nothing done is done twice)")
            ctx.exit(128 + signum)
        except DigestError as exc:
            _report_error(ctx, str(exc))
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`digest ... | head`): stop quietly, as other tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(1)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                _report_error(ctx, f"the disk is full{where}: {exc.strerror}; what was not "
                                   "recorded was not done. Free some space and run the "
                                   "command again.")
            else:
                _report_error(ctx, f"{exc.strerror or exc}{where}; check that the path "
                                   "exists and is writable, then run the command again")
            ctx.exit(1)
        except Exception as exc:
            if _storage_error(exc):
                from digest.store import storage_problem

                config = _settings(ctx)._config
                _report_error(ctx, storage_problem(config.state if config else None, exc))
                ctx.exit(1)
            problem = _template_problem(exc)
            if problem is not None:
                _report_error(ctx, problem)
                ctx.exit(2)
            _report_error(ctx, f"unexpected {type(exc).__name__}: {exc}\n"
                               "This is probably a bug in digest: run the command again "
                               "with -v to see the traceback, and report it.")
            ctx.exit(1)


def _storage_error(exc: Exception) -> TypeGuard[sqlite3.Error]:
    """An SQLite error (disk full, a damaged file): sqlite3 is imported only by commands
    that open the state file, and --help must not load it, so it is looked up here."""
    module = sys.modules.get("sqlite3")
    return module is not None and isinstance(exc, module.Error)


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM (systemctl stop) and SIGINT raise Interrupted in the main thread, once: the
    command stops starting work and records what is in flight. A second one acts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise Interrupted(signum)

    previous = {n: signal.signal(n, stop) for n in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _template_problem(exc: Exception) -> str | None:
    """An error in a Jinja template, as "template FILE, line N: what" (None: not one)."""
    import jinja2

    if not isinstance(exc, jinja2.TemplateError):
        return None
    where, line = None, None
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where, line = exc.filename or exc.name, exc.lineno
    else:  # Jinja puts the template's file and line into the traceback
        for frame, number in traceback.walk_tb(exc.__traceback__):
            name = frame.f_code.co_filename
            if not name.endswith(".py") and not name.startswith("<"):
                where, line = name, number
    place = f"template {where}, line {line}" if where else "a template"
    return (f"{place}: {exc.message or type(exc).__name__}; fix the template "
            "([digest] templates) and run the command again")


def _report_error(ctx: click.Context, message: str) -> None:
    settings = _settings(ctx)
    if settings.verbose:
        settings.progress.clear_line()
        traceback.print_exc()
    settings.progress.finish()
    settings.error(message)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error (what, where, what to do) and exit with `code`."""
    settings = click.get_current_context().find_object(Settings)
    if settings is not None:
        settings.progress.finish()
    click.echo(click.style("error: ", fg="red") + message, err=True)
    sys.exit(code)


def parse_date(value: str | None, config: Config) -> dt.date:
    from digest import pipeline

    if value is None:
        return pipeline.today(config)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-25",
                                 param_hint="--date") from None


@contextmanager
def opened(settings: Settings, *, lock: bool = False) -> Iterator[tuple[Config, Store]]:
    from digest.lock import run_lock
    from digest.store import Store

    config = settings.config
    try:
        if lock:
            with run_lock(config.state), Store(config.state) as store:
                _store_warnings(settings, store)
                yield config, store
        else:
            with Store(config.state) as store:
                _store_warnings(settings, store)
                yield config, store
    finally:
        settings.progress.finish()


def _store_warnings(settings: Settings, store: Store) -> None:
    for warning in store.warnings:
        settings.warn(warning)


def emit_json(data: Any) -> None:
    """One JSON document on stdout."""
    from digest.report import jsonable

    click.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def emit_json_line(data: Any) -> None:
    from digest.report import jsonable

    click.echo(json.dumps(jsonable(data), ensure_ascii=False))


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns aligned with spaces, headers in capitals; the last column is not padded."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


def when(value: dt.datetime | None, config: Config) -> str:
    """A stored time as the editor reads it: local to the digest, to the minute."""
    if value is None:
        return "-"
    return value.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M")


def _completion_config(ctx: click.Context) -> Config | None:
    """The config for shell completion, or None when it cannot be read (say nothing then)."""
    try:
        return _settings(ctx).config
    except DigestError:
        return None


def complete_categories(ctx: click.Context, _param: click.Parameter,
                        incomplete: str) -> list[str]:
    config = _completion_config(ctx)
    return [s for s in config.category_slugs if s.startswith(incomplete)] if config else []


def complete_edition_dates(ctx: click.Context, _param: click.Parameter,
                           incomplete: str) -> list[str]:
    from digest.store import Store

    config = _completion_config(ctx)
    if config is None or not config.state.exists():  # never create a state file here
        return []
    words = ["latest", "today"]
    try:
        with Store(config.state) as store:
            words += [t.date.isoformat() for t in store.edition_tallies(60)]
    except DigestError:
        return []
    return [w for w in words if w.startswith(incomplete)]


def json_option(help_text: str = "Print JSON instead of text.") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


@click.group(cls=DigestGroup, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build a daily digest of a news site's category feeds: publish it as feeds and
    web pages, and email it to subscribers.

    Start with `digest init`; the daily cron job is `digest send`.
    """
    _settings(ctx)
    if os.environ.get("NO_COLOR"):  # https://no-color.org
        ctx.color = False


# -- the daily job ------------------------------------------------------------


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


def _start_fetch_bar(settings: Settings, config: Config) -> None:
    from digest.sources.gather import feed_categories

    settings.progress.start("fetching feeds", len(feed_categories(config)))


def _gathered_json(report: GatherReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {"feeds": report.feeds, "new": report.new, "unchanged": report.unchanged,
            "failed": len(report.failed)}


@cli.command(epilog=EXIT_CODES)
@click.option("--reenable", "reenable", multiple=True, metavar="URL",
              help="Fetch this feed again although it said 410 Gone or asked to wait "
                   "(repeatable).")
@json_option("Print each feed's result as JSON.")
@click.pass_obj
def fetch(settings: Settings, reenable: tuple[str, ...], as_json: bool) -> None:
    """Gather new articles from the feeds into the state file."""
    from digest import pipeline
    from digest.sources.gather import reenable as reenable_feed

    with opened(settings, lock=True) as (config, store):
        for url in reenable:
            if url not in pipeline.feed_locations(config):
                fail(f"{url}: not a feed in {config.path} (see `digest status`)", 2)
            if not reenable_feed(store, url):
                settings.warn(f"{url}: was neither gone nor waiting; fetched as usual")
        _start_fetch_bar(settings, config)
        report = pipeline.fetch(config, store, on_feed=lambda r: _feed_line(settings, r))
    if as_json:
        emit_json(_gathered_json(report))
    settings.info(f"fetched {report.summary()}")
    if report.all_failed:
        fail("no feed could be fetched; check the URLs above and the network", 1)


@cli.command()
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="The edition's date [default: today in the digest's time zone].")
@click.option("--all", "everything", is_flag=True,
              help="Render every page and feed again, not only those whose inputs changed.")
@click.pass_obj
def build(settings: Settings, date_text: str | None, everything: bool) -> None:
    """Make a date's edition and write the outputs (no mail).

    The edition is made from the stored articles; nothing is fetched. Only the
    files whose inputs changed are rendered again (a changed template or config
    renders them all).
    """
    from digest import pipeline

    with opened(settings, lock=True) as (config, store):
        date = parse_date(date_text, config)
        result = pipeline.build(config, store, date, everything=everything)
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


def _start_send_bar(settings: Settings, edition: Edition, recipients: int) -> None:
    settings.progress.start(f"sending {edition.date}", recipients)


def _message_sent(settings: Settings, subscriber: Subscriber, outcome: str) -> None:
    settings.progress.advance()
    settings.detail(f"  {subscriber.email}: {outcome}")


@cli.command(epilog=EXIT_CODES)
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="The edition's date [default: today in the digest's time zone].")
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
@click.pass_obj
def send(settings: Settings, date_text: str | None, dry_run: bool, no_fetch: bool,
         test_to: str | None, retry_unknown: bool, as_json: bool) -> None:
    """The daily job: fetch, build, publish and email the edition.

    Emails it to every active subscriber; this is the command for cron.
    Running it again for the same date sends nothing more; mail left
    undelivered by an earlier run goes out first. A message the mail server
    never confirmed (no reply within [smtp] data_timeout) is recorded as
    unknown and sent again only with --retry-unknown. SIGTERM or SIGINT stops
    the send after the messages in flight (exit 143 or 130).
    """
    from digest import pipeline

    if test_to is not None:
        _send_test(settings, date_text, test_to)
        return
    with opened(settings, lock=True) as (config, store):
        date = parse_date(date_text, config)
        if not no_fetch:
            _start_fetch_bar(settings, config)
        result = pipeline.send(config, store, date, dry_run=dry_run, skip_fetch=no_fetch,
                               on_feed=lambda r: _feed_line(settings, r),
                               on_start=lambda e, n: _start_send_bar(settings, e, n),
                               on_message=lambda s, o: _message_sent(settings, s, o),
                               retry_unknown=retry_unknown)
    if as_json:
        emit_json(_send_json(result, date, dry_run))
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


def _send_json(result: pipeline.SendResult, date: dt.date, dry_run: bool) -> dict[str, Any]:
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
    }


def _send_summary(result: pipeline.SendResult, dry_run: bool) -> str:
    sent = sum(d.sent for d in result.deliveries)
    failed_feeds = len(result.gathered.failed) if result.gathered else 0
    edition = result.built.edition
    parts = [f"edition {edition.date} ({edition.article_count} articles)" if edition
             else "no new edition"]
    parts.append(f"{sent} message(s) {'would be sent' if dry_run else 'sent'}")
    if failed_feeds:
        parts.append(f"{failed_feeds} feed(s) failing")
    return "done: " + ", ".join(parts)


# -- looking at the state -----------------------------------------------------


@cli.command()
@click.option("--editions", "edition_limit", type=click.IntRange(min=1), default=7,
              show_default=True, help="How many recent editions to show.")
@json_option()
@click.pass_obj
def status(settings: Settings, edition_limit: int, as_json: bool) -> None:
    """Feed health, recent editions, subscribers, state file.

    Shows each source's health (last success, last error, failing since), the
    last editions with their article and delivery counts (sent, deferred,
    failed, unknown), the recipients whose delivery is unknown, subscriber
    counts (active, unsubscribed, bounced), and the state file's path and size.
    """
    from digest.report import collect_status

    with opened(settings) as (config, store):
        data = collect_status(config, store, editions=edition_limit)
    if as_json:
        emit_json(data)
        settings.info(data.summary())
        return
    size = data.state.bytes
    click.echo(f"State file: {data.state.path} ({_size(size)}, {data.state.articles} "
               f"articles, {data.state.editions} edition(s))")
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
            ["  DATE", "ARTICLES", "DELIVERY", "SENT", "DEFERRED", "FAILED", "UNKNOWN"],
            [[f"  {e.date}", e.articles, e.delivery, e.sent, e.deferred, e.failed, e.unknown]
             for e in data.editions],
        )
    else:
        click.echo("  none yet (`digest send` makes one)")
    if data.unconfirmed:
        click.echo("\nUnknown deliveries (the mail server never confirmed them; not sent "
                   "again until `digest send --retry-unknown`):")
        for u in data.unconfirmed:
            click.echo(f"  {u.date}  {u.email}  {u.reply or ''}".rstrip())
    click.echo("\nSubscribers: " + ", ".join(f"{n} {k}" for k, n in data.subscribers.items()))
    settings.info(data.summary())


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


@cli.group()
def editions() -> None:
    """The editions made so far."""


@editions.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many editions, newest first.")
@json_option()
@click.pass_obj
def editions_list(settings: Settings, limit: int, as_json: bool) -> None:
    """List editions with article and delivery counts, newest first."""
    from digest.report import edition_status

    with opened(settings) as (_config, store):
        rows = [edition_status(t) for t in store.edition_tallies(limit)]
    if as_json:
        emit_json(rows)
    elif rows:
        emit_table(
            ["DATE", "ARTICLES", "DELIVERY", "SENT", "DEFERRED", "FAILED", "SECTIONS"],
            [[e.date, e.articles, e.delivery, e.sent, e.deferred, e.failed,
              ", ".join(f"{s.title} {s.articles}" for s in e.sections)] for e in rows],
        )
    settings.info(f"{len(rows)} edition(s)")


@editions.command("show")
@click.argument("date_text", metavar="DATE", shell_complete=complete_edition_dates)
@json_option()
@click.pass_obj
def editions_show(settings: Settings, date_text: str, as_json: bool) -> None:
    """Show an edition's articles by category.

    DATE is YYYY-MM-DD, `today` or `latest`.
    """
    from digest import pipeline
    from digest.report import edition_detail

    with opened(settings) as (config, store):
        if date_text == "latest":
            latest = store.latest_edition_date()
            if latest is None:
                fail("there is no edition yet; `digest send` (or `digest build`) makes one", 1)
            date = latest
        elif date_text == "today":
            date = pipeline.today(config)
        else:
            try:
                date = dt.date.fromisoformat(date_text)
            except ValueError:
                raise click.BadParameter(f"{date_text!r} is not a date like 2026-11-25, "
                                         "`today` or `latest`", param_hint="DATE") from None
        edition = store.edition(date)
        if edition is None:
            fail(f"there is no edition of {date}; `digest editions list` shows the dates", 1)
        tally = next(iter(store.edition_tallies(date=date)), None)
        data = edition_detail(edition, tally)
    if as_json:
        emit_json(data)
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


@cli.group()
def feeds() -> None:
    """The configured feeds."""


@feeds.command("check")
@json_option()
@click.pass_obj
def feeds_check(settings: Settings, as_json: bool) -> None:
    """Fetch every feed once and show how it answered.

    Nothing is stored. Feeds are fetched afresh, ignoring what the state file remembers, so this
    shows how the URLs in the config behave right now. Exits 1 when no feed
    could be read at all.
    """
    from digest.sources.check import check_feeds
    from digest.sources.gather import feed_categories

    config = settings.config
    settings.progress.start("checking feeds", len(feed_categories(config)))
    try:
        results = check_feeds(config, on_check=lambda _c: settings.progress.advance())
    finally:
        settings.progress.finish()
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


# -- subscribers --------------------------------------------------------------


def _send_test(settings: Settings, date_text: str | None, address: str) -> None:
    from digest import pipeline
    from digest.subscribers import normalise_address

    try:
        to = normalise_address(address)
    except ValueError as exc:
        fail(f"--to {address}: {exc}", 2)
    with opened(settings) as (config, store):
        date = parse_date(date_text, config)
        result = pipeline.send_test(config, store, date, to)
    if result is None:
        fail(f"no articles for an edition of {date}; run `digest fetch` first", 1)
    if result.outcome != "sent":
        fail(f"{to}: {result.outcome} ({result.reply}); nothing was recorded", 1)
    where = (f" (written to {config.email.outbox / 'test'})"
             if config.email.transport == "file" else "")
    settings.info(f"test copy of {date} ({result.edition.article_count} articles) sent to "
                  f"{to}{where}: {result.subject}")


@cli.command()
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="The edition's date [default: today in the digest's time zone].")
@click.option("--out", "folder", metavar="FOLDER", type=click.Path(path_type=Path),
              help="Where to write DATE.html and DATE.txt [default: preview/ beside the "
                   "config].")
@click.option("--open", "open_it", is_flag=True, help="Open the HTML in a web browser.")
@click.pass_obj
def preview(settings: Settings, date_text: str | None, folder: Path | None,
            open_it: bool) -> None:
    """Write the edition's email, HTML and text, to a folder to look at (nothing is sent)."""
    import webbrowser

    from digest import pipeline

    with opened(settings) as (config, store):
        date = parse_date(date_text, config)
        target = folder or config.path.parent / "preview"
        try:
            result = pipeline.preview(config, store, date, target)
        except OSError as exc:
            fail(f"cannot write the preview to {target}: {exc.strerror or exc}", 1)
    if result is None:
        fail(f"no articles for an edition of {date}; run `digest fetch` first", 1)
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


@cli.group()
def subscribers() -> None:
    """Manage the subscriber list."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the To header.")
@click.option("--category", "categories", multiple=True, metavar="SLUG",
              shell_complete=complete_categories,
              help="Send only this category's section (repeatable) [default: all].")
@click.pass_obj
def subscribers_add(settings: Settings, email: str, name: str,
                    categories: tuple[str, ...]) -> None:
    """Add a subscriber, or update one (re-activating an unsubscribed address)."""
    from digest.subscribers import check_categories, normalise_address, normalise_name

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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: put a TLS reverse proxy in front).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the output folder and the one-click unsubscribe endpoint over HTTP."""
    from digest.serve import run_server

    config = settings.config
    if host not in ("127.0.0.1", "localhost", "::1"):
        settings.warn(f"listening on {host}: unsubscribe links carry tokens, so serve the "
                      "public through an HTTPS reverse proxy")
    try:
        run_server(config, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
             "choose another --port or --host", 1)


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES),
              help="Only subscribers with this status.")
@json_option("Print JSON lines.")
@click.pass_obj
def subscribers_list(settings: Settings, status: str | None, as_json: bool) -> None:
    """List subscribers: email, name, categories, status (tab-separated)."""
    from digest.subscribers import subscriber_record

    count = 0
    with opened(settings) as (_config, store):
        for s in store.subscribers(status):
            count += 1
            cats = " ".join(sorted(s.categories))
            if as_json:
                record = subscriber_record(s)
                record.pop("created_at")
                emit_json_line(record)
            else:
                click.echo(f"{s.email}\t{s.name}\t{cats or '(all)'}\t{s.status}")
    settings.info(f"{count} subscriber(s)")


@subscribers.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="CSV (read back by `import`) or a JSON array.")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES),
              help="Only subscribers with this status [default: all].")
@click.pass_obj
def subscribers_export(settings: Settings, fmt: str, status: str | None) -> None:
    """Write every subscriber to stdout as CSV or JSON.

    Columns: email, name, categories, status, created_at. The CSV has the
    columns `digest subscribers import` reads; unsubscribed and bounced
    addresses are included (with their status) unless --status says otherwise.
    A CSV cell that starts with =, +, -, @, a tab or a carriage return gets a '
    in front, so a spreadsheet shows it as text instead of running it as a
    formula; `import` removes that ' again.
    """
    from digest.subscribers import write_csv, write_json

    with opened(settings) as (_config, store):
        # Both formats stream: one subscriber at a time from the store to stdout.
        write = write_csv if fmt == "csv" else write_json
        count = write(store.subscribers(status), sys.stdout)
        sys.stdout.flush()  # a closed pipe is reported here, not at exit
    settings.info(f"exported {count} subscriber(s)")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path))
@json_option("Print each line's outcome as a JSON line.")
@click.pass_obj
def subscribers_import(settings: Settings, file: Path, as_json: bool) -> None:
    """Add or update subscribers from a CSV file.

    The columns are email,name,categories (categories space-separated, empty
    for all); FILE `-` reads standard input. Prints each line's outcome:
    added, updated, unchanged, or rejected with the reason (invalid address,
    unknown category, duplicate, unreadable CSV such as a stray quote); with
    -q only the rejected lines, on stderr. An import never re-activates an
    address that unsubscribed or bounced. Rows are stored a few thousand per
    transaction.
    """
    from digest.subscribers import import_csv, import_rows

    name = "<stdin>" if str(file) == "-" else str(file)
    counts = dict.fromkeys(("added", "updated", "unchanged", "rejected"), 0)
    with opened(settings) as (config, store):
        try:
            if name == "<stdin>":
                batches = import_rows(sys.stdin.buffer.read(), name, store,
                                      config.category_slugs)
            else:
                batches = import_csv(file, store, config.category_slugs)
        except ValueError as exc:
            fail(str(exc), 2)
        for batch in batches:  # a transaction's lines, as it commits
            for line in batch:
                counts[line.outcome] += 1
            # Written a batch at a time: 100,000 echo calls would cost seconds.
            if as_json:
                click.echo("\n".join([json.dumps(
                    {"file": name, "line": line.line, "email": line.email,
                     "outcome": line.outcome, "reason": line.reason}, ensure_ascii=False)
                    for line in batch]))
                continue
            shown = [f"{name}:{line.line}: {line.email or '(empty)'}: {line.outcome}"
                     + (f" ({line.reason})" if line.reason else "")
                     for line in batch if not settings.quiet or line.outcome == "rejected"]
            if settings.quiet:
                for text in shown:
                    settings.warn(text)
            elif shown:
                click.echo("\n".join(shown))
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    settings.info(f"imported {name}: {summary}")


# -- setting up ---------------------------------------------------------------


@cli.command()
@click.argument("folder_text", metavar="[DIR | URL]", default=".")
@click.option("--url", metavar="URL",
              help="The site to look at for categories and feeds (asked for when "
                   "interactive).")
@click.option("--no-input", is_flag=True,
              help="Ask nothing: with --url, use what the site shows; without, write a "
                   "template to fill in.")
@click.option("--feeds", "use_feeds", is_flag=True,
              help="Read the categories through their feeds even where the site's REST API "
                   "answers.")
@click.option("--force", is_flag=True,
              help="Replace an existing config.toml (templates already there are kept).")
@click.pass_obj
def init(settings: Settings, folder_text: str, url: str | None, no_input: bool,
         use_feeds: bool, force: bool) -> None:
    """Start a digest: config.toml and templates/ in DIR.

    Writes a commented config.toml and a templates/ folder to customise.
    Given a WordPress site (`digest init https://site` writes into the current
    folder, like --url), finds its categories through the REST API (or the
    category links on its home page): where the API answers, the categories
    are read through it (full text, featured images, every post of the day),
    else through their feeds. Prompts only when stdin is a terminal and
    --no-input is not given.
    """
    from digest.scaffold import (
        default_sender,
        default_title,
        discover,
        render_config,
        write_project,
    )
    if _looks_like_url(folder_text):
        if url is not None:
            fail(f"{folder_text!r} looks like a site address, not a folder, and --url is "
                 "given too; give the folder first: `digest init DIR --url URL`", 2)
        url, folder_text = folder_text, "."
        if url.lower().startswith("www."):
            url = "https://" + url
    folder = Path(folder_text)
    if folder.exists() and not folder.is_dir():
        fail(f"{folder} is a file, not a folder; choose a folder for the digest", 2)
    interactive = not no_input and sys.stdin.isatty()
    if (folder / "config.toml").exists() and not force:
        fail(f"{folder / 'config.toml'} already exists; edit it, choose another folder, "
             "or pass --force to replace it", 2)
    if url is None and interactive:
        url = click.prompt("Site address (empty for a template to fill in)", default="",
                           show_default=False, err=True).strip() or None
    site = None
    if url:
        settings.info(f"looking at {url} ...")
        site = discover(url)
        if use_feeds:
            site = replace(site, rest=False)
        for note in site.notes:
            settings.warn(note)
        kind = "WordPress site" if site.wordpress else "site"
        where = {"rest-api": "its REST API", "html": "its home page's links",
                 "none": "nowhere"}[site.via]
        named = f" {site.name}" if site.name else ""
        settings.info(f"{site.url}: {kind}{named}; {len(site.categories)} categories "
                      f"from {where}")
        for c in site.categories:
            count = f", {c.articles} articles" if c.articles is not None else ""
            shown = f"REST API category {c.site_slug}" if site.rest and c.site_slug \
                else c.feed
            settings.info(f"  {c.title} ({c.slug}{count}): {shown}")
        if site.rest:
            settings.info("the REST API answers, so the categories are read through it: "
                          "full text, featured images and each post's own categories, and "
                          "every post of the day (a category feed carries only the newest "
                          "10); `--feeds` writes their feeds instead")
        if not site.categories and not site.feeds:
            settings.warn(f"no category or feed found at {site.url}; the config has an "
                          "example category to replace")
    title = sender = None
    if interactive:
        title = click.prompt("Digest title", default=default_title(site), err=True)
        sender = click.prompt("Sender (From)", default=default_sender(site, title), err=True,
                              value_proc=_sender)
    text = render_config(site, title=title, sender=sender)
    project = write_project(folder, text, force=force,
                            categories=len(site.categories) if site else 0)
    settings.detail(f"wrote {project.config}")
    for path in project.templates_kept:
        settings.detail(f"kept {path} (already there)")
    kept = f", kept {len(project.templates_kept)} already there" if project.templates_kept \
        else ""
    what = f"{project.categories} categories" if site else "a template to fill in"
    settings.info(f"wrote {project.config} ({what}) and "
                  f"{len(project.templates_written)} templates in {folder / 'templates'}{kept}")
    settings.info(f"next: review {project.config}, then `digest feeds check` and "
                  "`digest send --dry-run` in that folder")


def _looks_like_url(text: str) -> bool:
    """Whether init's folder argument is a site address (never made into a folder)."""
    return "://" in text or text.lower().startswith(("http:", "https:", "www."))


def _sender(value: str) -> str:
    """A From line with an address in it, or ask again."""
    from email.utils import parseaddr

    if "@" not in parseaddr(value)[1]:
        raise click.BadParameter("give an address like 'Aze Daily <digest@example.org>'")
    return value.strip()


def main() -> None:
    cli(prog_name="digest")
