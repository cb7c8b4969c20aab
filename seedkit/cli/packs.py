"""``seedkit packs list|validate``: the fixture packs found under the configured pack paths."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from seedkit.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    JsonOption,
    ProfileOption,
    load,
    out,
    print_json,
)
from seedkit.errors import PackError

packs_app = typer.Typer(help="List and check fixture packs.", no_args_is_help=True)


@packs_app.command("list")
def list_packs(json_output: JsonOption = False, config: ConfigOption = None) -> None:
    """List the packs under the configured pack paths."""
    from seedkit.packs import discover_packs, read_pack

    settings = load(config)
    found = discover_packs(list(settings.pack_paths), configured_in=settings.where("packs"))
    packs = [read_pack(directory) for directory in found.values()]
    if json_output:
        print_json(
            {
                pack.name: {
                    "path": str(pack.path),
                    "description": pack.description,
                    "depends_on": list(pack.depends_on),
                    "records": {data.key: len(data.records) for data in pack.files},
                }
                for pack in packs
            }
        )
        return
    if not packs:
        searched = ", ".join(map(str, settings.pack_paths)) or "no pack paths (set packs = [...])"
        out.print(f"no packs found in {searched}")
        return
    table = Table("pack", "depends on", "records", "description")
    table.title = f"packs in {', '.join(str(p) for p in settings.pack_paths)}"
    table.title_justify = "left"
    for pack in packs:
        records = sum(len(data.records) for data in pack.files)
        table.add_row(pack.name, ", ".join(pack.depends_on) or "-", str(records), pack.description)
    out.print(table)


@packs_app.command()
def validate(
    names: Annotated[
        list[str] | None, typer.Argument(help="Packs to check; default: all / the profile's.")
    ] = None,
    profile: ProfileOption = None,
    against_db: Annotated[
        bool, typer.Option("--db", help="Also check tables, columns and types against the target database.")
    ] = False,
    database_url: DatabaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Check packs without writing anything: labels, references, factories (and, with --db, types).

    Prints one line per problem (file, record, field) and exits non-zero when there is any.
    """
    from seedkit.packs import discover_packs, resolve_packs, validate_packs

    settings = load(config)  # makes the project's factory modules importable, as for `seedkit seed`
    chosen = settings.profile(profile) if profile else None
    configured_in = settings.where("packs")
    paths = list(settings.pack_paths)
    wanted = list(names or (chosen.packs if chosen else discover_packs(paths, configured_in=configured_in)))
    packs = resolve_packs(wanted, paths, configured_in=configured_in)
    # The files first: their own problems are reported without needing a database.
    problems = validate_packs(packs, schema=None, factory_modules=settings.factory_modules)
    schema = None
    if not problems and (against_db or database_url):
        schema = _target_schema(settings, chosen, database_url)
        problems = validate_packs(packs, schema=schema, factory_modules=settings.factory_modules)
    checked = ", ".join(pack.name for pack in packs) or "no packs"
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{len(problems)} problem(s) in {checked}", err=True)
        raise typer.Exit(PackError.exit_code)
    against = " against the database schema" if schema is not None else ""
    out.print(f"ok: {checked} ({sum(1 for p in packs for _ in p.records())} records){against}")


def _target_schema(settings: Any, profile: Any, database_url: str | None) -> Any:
    from seedkit.seeding.targets import resolve_targets
    from seedkit.stores.postgres import create_engine
    from seedkit.stores.schema import reflect_schema

    targets = resolve_targets(settings, profile, database_url=database_url)
    engine = create_engine(targets.database_url)
    try:
        with engine.connect() as conn:
            return reflect_schema(conn)
    finally:
        engine.dispose()
