"""Errors our own code raises on purpose.

`UserFacingError` carries text that is safe to show to the person in the chat; anything else that
escapes a handler is logged with ids and answered with a fixed apology.
"""


class HotlineError(Exception):
    """Base class for the bot's own errors."""


class ConfigError(HotlineError):
    """A setting is missing or malformed; the message names the setting."""


class DataError(HotlineError):
    """A data file (FAQ, directory, rota) is invalid; `problems` holds one line per fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StoreUnavailableError(HotlineError):
    """The database cannot be reached, opened or written, or is not migrated. The message is one
    line naming the problem and what to do; the `hotline` command exits 2 with it."""


class UserFacingError(HotlineError):
    """A business error whose message is written for the chat user."""
