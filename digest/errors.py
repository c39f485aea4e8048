"""The errors the digest reports to its user, each with what to do about it."""

from __future__ import annotations


class DigestError(Exception):
    """A problem the user can act on; the CLI prints it without a traceback."""

    exit_code = 1


class ConfigError(DigestError):
    """The configuration is missing or invalid; holds every problem found."""

    exit_code = 2

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{path}: {len(problems)} problem(s) in the configuration:\n{lines}\n"
            "Fix these keys and run the command again."
        )


class LockedError(DigestError):
    """Another run holds the state file's lock."""

    exit_code = 3


class DeliveryError(DigestError):
    """The mail server could not be used at all (connection, TLS or login)."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: stop starting work, finish and record what is in flight."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
