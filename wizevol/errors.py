"""Errors that reach the user as one line: ``Error: ...`` and an exit code."""

from __future__ import annotations


class WizevolError(Exception):
    """A problem the user can fix. The CLI prints ``Error: <message>`` and exits with ``exit_code``."""

    exit_code = 1


class InputError(WizevolError):
    """Bad seed or config input; names the file (and line where there is one)."""

    exit_code = 2


class FatalAPIError(WizevolError):
    """The endpoint refuses every call (bad key, unknown model): stop the run instead of failing each record."""


class WizevolWarning(UserWarning):
    """Something the user should know that does not stop the work; the CLI shows it as one `warning:` line."""
