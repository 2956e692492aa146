"""The errors a user can cause, and the exit codes they map to.

Anything that is not a `GeckoError` is a bug in gecko and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2


class GeckoError(Exception):
    """A problem with the user's input, config or environment: printed as one line and a hint."""

    kind = "error"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):
        # Raised in worker processes and re-raised in the parent: keep the hint across pickling.
        return (type(self), (self.message, self.hint))

    def __str__(self) -> str:
        return self.message


class ConfigError(GeckoError):
    """A bad option value, option combination or config file."""


class DataError(GeckoError):
    """Input data that cannot be read: missing, corrupt, or not in the expected layout."""


class DependencyError(GeckoError):
    """An optional dependency is missing."""
