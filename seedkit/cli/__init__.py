"""The ``seedkit`` command line: seed, migrate, reset, fingerprint, profiles, plan, packs, db, snapshot.

Every :class:`~seedkit.errors.SeedkitError` ends the command with one ``error: ...`` line on
stderr and the error's exit code; there is no traceback for a user's mistake. See docs/cli.md.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import typer

from seedkit import __version__
from seedkit.cli import seeding
from seedkit.cli.common import interruption
from seedkit.cli.db import db_app
from seedkit.cli.packs import packs_app
from seedkit.cli.snapshot import snapshot_app
from seedkit.errors import SeedkitError

app = typer.Typer(
    name="seedkit",
    help="Deterministic test data for PostgreSQL and MongoDB: seed profiles, packs, snapshots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for command in (
    seeding.seed,
    seeding.migrate,
    seeding.reset,
    seeding.fingerprint,
    seeding.profiles,
    seeding.plan,
):
    app.command()(command)
app.add_typer(packs_app, name="packs")
app.add_typer(db_app, name="db")
app.add_typer(snapshot_app, name="snapshot")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seedkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show version."),
) -> None:
    """seedkit: deterministic test data for PostgreSQL and MongoDB."""


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
    if isinstance(interrupt, Terminated):
        sys.stderr.write(f"error: terminated; {interruption.state}\n")
        sys.exit(128 + signal.SIGTERM)
    sys.stderr.write(f"error: interrupted; {interruption.state}\n")
    sys.exit(128 + signal.SIGINT)


__all__ = ["Terminated", "app", "main"]
