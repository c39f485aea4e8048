"""The CLI's framework: global options, Settings, progress, error mapping, shared options.

Every command accepts --config, -v/--verbose, -q/--quiet and --version, before or
after its name; commands that print data take --json. Errors become a clear
message and an exit code (EXIT_CODES, shown in --help): 0 done (failing feeds
are warnings), 1 mail left undelivered, nothing could be fetched at all or
another failure, 2 usage or configuration error, 3 another run holds the lock.

Only click is imported here at start-up: the facade and its libraries are
imported by the commands when they run, so --help and completion start at once.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard, TypeVar

import click

from digest.errors import DigestError, Interrupted

if TYPE_CHECKING:
    import sqlite3

    from digest.app import Digest
    from digest.config import Config

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0  done (feeds that failed are reported as warnings)
  1  mail left undelivered, no feed could be fetched at all, or another
     failure (something asked for does not exist, a file cannot be written)
  2  usage or configuration error
  3  another run holds the lock on the state file"""

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


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        settings_of(ctx).config_option = value


def _add_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    settings_of(ctx).verbose += value


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        settings_of(ctx).quiet = True


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
                from digest.app import storage_problem

                config = settings_of(ctx)._config
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
    settings = settings_of(ctx)
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




def parse_date(value: str | None, digest: Digest, hint: str = "--date") -> dt.date:
    """--date as a date; none given: today in the digest's time zone."""
    if value is None:
        return digest.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-25",
                                 param_hint=hint) from None


@contextmanager
def opened(settings: Settings, *, lock: bool = False, store: bool = True,
           create: bool = True) -> Iterator[Digest]:
    """The digest of --config, with the run lock if asked; its state file's warnings told.

    `store=False`: the state file is opened only if the command uses it.
    `create=False` (a command that only reads): a missing state file is an error, never
    made afresh."""
    from digest.app import Digest

    try:
        with Digest(settings.config, lock=lock, create=create) as digest:
            if store:
                for warning in digest.store_warnings():
                    settings.warn(warning)
            yield digest
    finally:
        settings.progress.finish()


def pass_settings(function: F) -> F:
    """The command gets the global Settings as its first argument."""
    return click.pass_obj(function)  # type: ignore[return-value]


def json_option(help_text: str = "Print JSON instead of text.") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def date_option(function: F) -> F:
    """--date YYYY-MM-DD, the edition's date (default today)."""
    return click.option(
        "--date", "date_text", metavar="YYYY-MM-DD",
        help="The edition's date [default: today in the digest's time zone].")(function)


def _completion_config(ctx: click.Context) -> Config | None:
    """The config for shell completion, or None when it cannot be read (say nothing then)."""
    try:
        return settings_of(ctx).config
    except DigestError:
        return None


def complete_categories(ctx: click.Context, _param: click.Parameter,
                        incomplete: str) -> list[str]:
    config = _completion_config(ctx)
    return [s for s in config.category_slugs if s.startswith(incomplete)] if config else []


def complete_edition_dates(ctx: click.Context, _param: click.Parameter,
                           incomplete: str) -> list[str]:
    from digest.app import Digest

    config = _completion_config(ctx)
    if config is None or not config.state.exists():  # never create a state file here
        return []
    words = ["latest", "today"]
    try:
        with Digest(config) as digest:
            words += [d.isoformat() for d in digest.edition_dates(60)]
    except DigestError:
        return []
    return [w for w in words if w.startswith(incomplete)]
