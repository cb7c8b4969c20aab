"""The ``seedkit`` command line: seed, migrate, reset, fingerprint, profiles, plan, packs, db, snapshot.

Every :class:`~seedkit.errors.SeedkitError` ends the command with one ``error: ...`` line on
stderr and the error's exit code; there is no traceback for a user's mistake. Ctrl-C, also
while the command's modules are still being imported or the embedded server is starting,
ends it with one line and exit code 130. See docs/cli.md.

This module imports nothing heavy: :func:`main` imports the application
(:mod:`seedkit.cli.application`) inside its handlers.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import Any

from seedkit.errors import SeedkitError


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's ``KeyboardInterrupt``, so that a terminated
    command cleans up as an interrupted one does: its run rolls back, a Dask LocalCluster and
    its worker processes are closed, and one line says what state both stores are in."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``seedkit`` script: run the app, turning seedkit errors into one line.

    While it runs, SIGTERM raises :class:`Terminated` (the previous handler is put back after).
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        from seedkit.cli.application import app

        app(args=list(argv) if argv is not None else None, prog_name="seedkit")
    except SeedkitError as error:
        message = " ".join(str(error).split("\n"))
        sys.stderr.write(f"error: {message}\n")
        sys.exit(error.exit_code or 1)
    except KeyboardInterrupt as interrupt:
        _interrupted(interrupt)
    except SystemExit as exit_:
        behind = _interrupt_behind(exit_)
        if behind is not None:  # Typer turns Ctrl-C into a silent exit 130
            _interrupted(behind)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _interrupted(interrupt: KeyboardInterrupt) -> None:
    """One line saying what state both stores are in, then exit 128 + the signal's number as
    shells do (130 for Ctrl-C, 143 for SIGTERM)."""
    from seedkit.cli.common import interruption

    state = interruption.state
    kept = getattr(interrupt, "seedkit_state", None)  # the schema stayed migrated (seeding.runner)
    if kept and state == interruption.UNDONE:
        state = f"the data in both stores is as it was, {kept}"
    if isinstance(interrupt, Terminated):
        sys.stderr.write(f"error: terminated; {state}\n")
        sys.exit(128 + signal.SIGTERM)
    sys.stderr.write(f"error: interrupted; {state}\n")
    sys.exit(128 + signal.SIGINT)


def __getattr__(name: str) -> Any:
    """``app``: the Typer application, imported on first use."""
    if name == "app":
        from seedkit.cli.application import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Terminated", "app", "main"]
