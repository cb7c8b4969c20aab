"""``seedkit db start|stop|url|status``: the embedded PostgreSQL kept under the state directory.

It is the server ``seedkit seed`` uses when no database URL is configured. It keeps running
after a command ends, so the app under test can connect to it; ``db stop`` stops it (data
stays), ``db start`` starts it again on the same port when that port is free.
"""

from __future__ import annotations

from typing import Annotated

import typer

from seedkit.cli.common import ConfigOption, load, out
from seedkit.seeding.migrations import libpq_url
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.postgres import EMBEDDED_DATABASE, ensure_database, with_database
from seedkit.stores.urls import redact

db_app = typer.Typer(
    help="Manage the embedded PostgreSQL server (state in ./.seedkit by default).", no_args_is_help=True
)

SqlalchemyOption = Annotated[
    bool, typer.Option("--sqlalchemy", help="Print the SQLAlchemy form (postgresql+psycopg://).")
]


def _server(config: ConfigOption) -> EmbeddedPostgres:
    return EmbeddedPostgres(load(config).state_dir / "postgres")


def _show(url: str, sqlalchemy: bool) -> str:
    return url if sqlalchemy else libpq_url(url)


@db_app.command()
def start(config: ConfigOption = None, sqlalchemy: SqlalchemyOption = False) -> None:
    """Start the embedded server (initialising it the first time) and print its database URL."""
    server = _server(config)
    was_running = server.is_running()
    server.start()
    url = ensure_database(server.url(), EMBEDDED_DATABASE)
    out.print(_show(url, sqlalchemy), soft_wrap=True)
    if not was_running:
        typer.echo(
            f"started the embedded PostgreSQL (data in {server.root}); `seedkit db stop` stops it.", err=True
        )


@db_app.command()
def stop(config: ConfigOption = None) -> None:
    """Stop the embedded server (its data stays for the next start)."""
    server = _server(config)
    if not server.is_running():
        out.print(f"the embedded PostgreSQL in {server.root} is not running")
        return
    server.stop()
    out.print(f"stopped the embedded PostgreSQL in {server.root}")


@db_app.command()
def url(config: ConfigOption = None, sqlalchemy: SqlalchemyOption = False) -> None:
    """Print the URL of the embedded server's database (for DATABASE_URL of the app under test)."""
    server = _server(config)
    out.print(_show(with_database(server.url(), EMBEDDED_DATABASE), sqlalchemy), soft_wrap=True)
    if not server.is_running():
        typer.echo("note: the server is not running; start it with `seedkit db start`", err=True)


@db_app.command()
def status(config: ConfigOption = None) -> None:
    """Say whether the embedded server runs (exit code 0) or not (exit code 1)."""
    server = _server(config)
    if server.is_running():
        database = libpq_url(redact(with_database(server.url(), EMBEDDED_DATABASE)))
        out.print(f"running: {database} (data in {server.root})")
        return
    initialised = (server.data_dir / "PG_VERSION").exists()
    out.print(f"not running ({'data in ' + str(server.root) if initialised else 'never started'})")
    raise typer.Exit(1)
