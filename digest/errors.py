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


class FeedParseError(DigestError):
    """The document is not a feed that can be read (told per feed; the others go on)."""

    exit_code = 1


class DiscoveryError(DigestError):
    """The site given to `init` could not be read at all."""

    exit_code = 1


class ProjectExists(DigestError):
    """init would overwrite the editor's config."""

    exit_code = 2


class AddressError(DigestError, ValueError):
    """An email address that cannot be used, and why (a ValueError too, for callers that
    check any bad value)."""

    exit_code = 2


class CategoryError(DigestError, ValueError):
    """Categories asked for that the configuration does not have."""

    exit_code = 2


class ImportRefused(DigestError, ValueError):
    """A subscriber file refused as a whole (wrong encoding, no header): nothing imported."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: stop starting work, finish and record what is in flight."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class InputError(DigestError):
    """What the user asked for cannot be: a bad address, an unknown feed or category."""

    exit_code = 2


class NotFound(DigestError):
    """What the user named does not exist (a subscriber, an edition)."""

    exit_code = 1
