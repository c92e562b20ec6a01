"""How the CLI ends a command that failed: `Error: ...` on one line and an exit code, never a traceback; wizevol's
warnings as one line each."""

from __future__ import annotations

import functools
import os
import warnings

import typer


def _warning_lines(show_other):
    """A `showwarning` that prints wizevol's own warnings as one line and leaves the others to `show_other`."""
    from wizevol.errors import WizevolWarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, WizevolWarning):
            typer.echo(f"warning: {message}", err=True)
        else:
            show_other(message, category, filename, lineno, file, line)

    return show


def one_line_errors(fn):
    """`Error: ...` on stderr and exit code 1 (2 for bad input) instead of a traceback; warnings as one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from wizevol.errors import WizevolError, WizevolWarning

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", WizevolWarning)  # every time, not once per process
                warnings.showwarning = _warning_lines(warnings.showwarning)
                return fn(*args, **kwargs)
        except WizevolError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted: finished calls are cached; run the same command again to resume.", err=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:
            if os.environ.get("WIZEVOL_DEBUG"):
                raise
            msg = " ".join(str(e).split())[:300]
            typer.echo(f"Error: internal error: {type(e).__name__}: {msg} (set WIZEVOL_DEBUG=1 for a traceback)",
                       err=True)
            raise typer.Exit(1) from None

    return wrapper
