"""``seedkit db start|stop|url|status|prune``: the embedded PostgreSQL, and templates on any server.

The embedded server is the one ``seedkit seed`` uses when no database URL is configured. It
keeps running after a command ends, so the app under test can connect to it; ``db stop`` stops
it (data stays), ``db start`` starts it again on the same port when that port is free.
``db prune`` lists the pytest plugin's template databases on the configured server and drops
the replaced ones.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from seedkit.cli.common import (
    AllowUnsafeOption,
    ConfigOption,
    DatabaseUrlOption,
    JsonOption,
    load,
    out,
    print_json,
)
from seedkit.errors import SeedkitError
from seedkit.seeding.config import Settings
from seedkit.seeding.migrations import libpq_url
from seedkit.seeding.targets import configured_database_url
from seedkit.seeding.templates import (
    TEMPLATE_PREFIX,
    TemplateDatabase,
    drop_unused_template,
    project_key,
    seedkit_templates,
    template_name,
)
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.postgres import EMBEDDED_DATABASE, ensure_database, normalize_url, with_database
from seedkit.stores.postgres_admin import PostgresAdmin
from seedkit.stores.safety import check_destructive
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


YesOption = Annotated[
    bool, typer.Option("--yes", help="Drop them (without it, only list what would be dropped).")
]
AllOption = Annotated[
    bool,
    typer.Option("--all", help="Every seedkit template not in use, not only this project's replaced ones."),
]


def _current_templates(settings: Settings) -> set[str]:
    """The templates this configuration's profiles use now (a profile whose key fails is skipped)."""
    names = set()
    for name in settings.profiles:
        try:
            names.add(template_name(settings, name))
        except SeedkitError:
            continue
    return names


def _state(found: TemplateDatabase, project: str, current: set[str]) -> tuple[str, bool]:
    """What a template is (for the listing), and whether ``--yes`` drops it without ``--all``."""
    if found.in_use:
        return "in use", False
    if found.unfinished:
        return "unfinished build", True
    if found.name in current:
        return "current", False
    if found.project is None:
        return "not recorded", False
    if found.project == project:
        return "replaced", True
    return "other project", False


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@db_app.command()
def prune(
    config: ConfigOption = None,
    database_url: DatabaseUrlOption = None,
    yes: YesOption = False,
    all_: AllOption = False,
    allow_unsafe: AllowUnsafeOption = False,
    json: JsonOption = False,
) -> None:
    """List the seedkit_tmpl_* template databases on the server; with --yes, drop the replaced ones.

    Replaced: this project's templates whose key is no longer any profile's (older migrations,
    packs or code), and builds that never finished. --all: every seedkit template. A template in
    use (a test run, a build, a connection) is never dropped.
    """
    settings = load(config)
    url = configured_database_url(settings, None, database_url)
    if url is None:
        server = _server(config)
        if not server.is_running():
            out.print(f"the embedded PostgreSQL in {server.root} is not running: no templates to list")
            return
        url = server.url()
    url = normalize_url(url)
    allowed = allow_unsafe or settings.allow_unsafe
    if yes:  # the guard judges the URL: refused before connecting
        check_destructive(with_database(url, TEMPLATE_PREFIX), action="drop database", allow_unsafe=allowed)
    project, current = project_key(settings), _current_templates(settings)
    rows = []
    for found in seedkit_templates(url):
        state, replaced = _state(found, project, current)
        rows.append((found, state, not found.in_use and (replaced or all_)))
    dropped: list[str] = []
    if yes and any(chosen for _, _, chosen in rows):
        with PostgresAdmin.connect(url) as admin:
            for found, _, chosen in rows:
                if chosen and drop_unused_template(admin, found.name, allow_unsafe=allowed):
                    dropped.append(found.name)
    _report(url, rows, dropped, yes=yes, json=json)


def _report(
    url: str, rows: list[tuple[TemplateDatabase, str, bool]], dropped: list[str], *, yes: bool, json: bool
) -> None:
    if json:
        print_json(
            [
                {
                    "name": found.name,
                    "project": found.project,
                    "profile": found.profile,
                    "size": found.size,
                    "state": state,
                    "dropped": found.name in dropped,
                    "would_drop": chosen and not yes,
                }
                for found, state, chosen in rows
            ]
        )
        return
    if not rows:
        out.print(f"no seedkit templates on {redact(url)}")
        return
    table = Table(
        "template", "profile", "project", "size", "state", title=f"seedkit templates on {redact(url)}"
    )
    for found, state, chosen in rows:
        mark = (" (dropped)" if found.name in dropped else " (in use now: kept)") if yes and chosen else ""
        if chosen and not yes:
            mark = " (would drop)"
        table.add_row(
            found.name, found.profile or "", found.project or "", _megabytes(found.size), state + mark
        )
    out.print(table)
    chosen_rows = [found for found, _, chosen in rows if chosen]
    size = sum(found.size for found in chosen_rows if not yes or found.name in dropped)
    if yes:
        out.print(f"dropped {len(dropped)} template(s), {_megabytes(size)}")
    elif chosen_rows:
        out.print(f"would drop {len(chosen_rows)} template(s), {_megabytes(size)}: run again with --yes")
    else:
        out.print("nothing to drop (--all: every seedkit template not in use)")
