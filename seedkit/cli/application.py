"""The ``seedkit`` Typer application: its commands and sub-commands (run it through :func:`seedkit.cli.main`)."""

from __future__ import annotations

import typer

from seedkit import __version__, faults
from seedkit.cli import seeding
from seedkit.cli.db import db_app
from seedkit.cli.packs import packs_app
from seedkit.cli.snapshot import snapshot_app

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
faults.point("cli.imports")  # tests: an interrupt while this module (and the commands') is imported


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seedkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show version."),
) -> None:
    """seedkit: deterministic test data for PostgreSQL and MongoDB."""


__all__ = ["app"]
