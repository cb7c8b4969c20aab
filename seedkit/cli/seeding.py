"""``seedkit seed``, ``reset``, ``migrate``, ``fingerprint`` and ``profiles``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.table import Table

from seedkit.cli.common import (
    AllowUnsafeOption,
    ConfigOption,
    DatabaseUrlOption,
    JsonOption,
    MongoUrlOption,
    ProfileOption,
    err,
    interruption,
    load,
    note,
    out,
    print_json,
    profile_or_none,
    settings_and_targets,
)
from seedkit.errors import ConfigError
from seedkit.seeding.config import Settings, Volume
from seedkit.seeding.migrations import libpq_url

if TYPE_CHECKING:
    from seedkit.bulk.partitions import PartitionProgress
    from seedkit.seeding.runner import Progress


def _choose_profile(settings: Settings, name: str | None) -> str:
    if name:
        return name
    known = ", ".join(sorted(settings.profiles)) or "none"
    raise ConfigError(f"choose a profile with --profile NAME; known profiles: {known}")


@dataclass
class _Reporters:
    """The runner's callbacks drawing the bars: ``progress`` per task, ``partitions`` for --workers."""

    progress: Progress | None = None
    partitions: Callable[[PartitionProgress], None] | None = None


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[_Reporters]:
    """Rich progress bars on stderr (only at a terminal); yields the runner's progress callbacks.

    With --workers one bar counts the partitions ended, of all, and the rows and documents
    written so far, whichever executor runs them.
    """
    if not enabled or not err.is_terminal:
        yield _Reporters()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[written]}"),
        TimeElapsedColumn(),
    )
    with Bars(*columns, console=err, transient=False) as bars:
        tasks: dict[str, TaskID] = {}

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=total, written="")
            bars.update(tasks[task], completed=done)

        def partitions(state: PartitionProgress) -> None:
            task = "partitions"
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=state.total, written="")
            written = f"{state.rows:,} rows" + (f", {state.documents:,} documents" if state.documents else "")
            bars.update(tasks[task], completed=state.done, written=written)

        yield _Reporters(update, partitions)


def seed(
    profile: ProfileOption = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the profile's seed.")] = None,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    reset: Annotated[bool, typer.Option("--reset", help="Empty both stores first (guarded).")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Create the volumes in fixed partitions on N processes: the same data for any N, "
            "but not the data of a run without --workers; all or nothing (two-phase commit).",
        ),
    ] = None,
    partition_size: Annotated[
        int | None,
        typer.Option(
            "--partition-size",
            min=1,
            help="Roots per partition with --workers (default 10,000); it shapes the data, keep it fixed.",
        ),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            help="Where --workers partitions run: 'processes' (local) or 'dask' (a Dask cluster; "
            "pip install 'seedkit[dask]'). The data is the same.",
        ),
    ] = "processes",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="With --executor dask: a running Dask scheduler's address (tcp://host:8786); "
            "default: a local cluster of --workers processes.",
        ),
    ] = None,
    json_output: JsonOption = False,
    allow_unsafe: AllowUnsafeOption = False,
    config: ConfigOption = None,
) -> None:
    """Seed the databases with a profile: migrations, packs and volumes, all or nothing.

    The database must be empty unless --reset is given. With no database URL anywhere, the
    embedded PostgreSQL under ./.seedkit is started (and left running for your app).
    With --workers N the volumes are created in partitions on N processes, prepared and
    committed together; a failure restores both stores from an undo snapshot (see docs/cli.md).
    """
    from seedkit.seeding.runner import seed_profile

    interruption.writes_all_or_nothing()
    settings = load(config)
    name = _choose_profile(settings, profile)
    settings.profile(name)  # an unknown profile fails before anything starts
    if (executor != "processes" or scheduler is not None) and workers is None:
        raise ConfigError("--executor and --scheduler go with --workers N")
    note(f"seeding profile {name!r}" + (f" with {workers} worker(s)..." if workers else "..."))
    with _progress_bars(not json_output) as progress:
        report = seed_profile(
            settings,
            name,
            database_url=database_url,
            mongo_url=mongo_url,
            seed=seed,
            reset=reset,
            allow_unsafe=allow_unsafe,
            progress=progress.progress,
            partition_progress=progress.partitions,
            workers=workers,
            partition_size=partition_size,
            executor=executor,
            scheduler=scheduler,
            on_commit=interruption.committed,
        )
    interruption.finished()
    if json_output:
        print_json(report.to_dict())
        return
    table = Table(title=f"profile {report.profile!r}, seed {report.seed}", title_justify="left")
    table.add_column("store")
    table.add_column("table / collection")
    table.add_column("count", justify="right")
    for table_name, count in sorted(report.rows.items()):
        table.add_row("postgres", table_name, str(count))
    for collection, count in sorted(report.documents.items()):
        table.add_row("mongo", collection, str(count))
    table.add_row("", "total", str(sum(report.rows.values()) + sum(report.documents.values())), style="bold")
    out.print(table)
    out.print(f"schema: {report.schema}")
    out.print(f"fingerprint: {report.fingerprint}")
    out.print(f"done in {report.elapsed:.2f} s")
    _print_where(report.database_url, report.mongo, report.embedded, settings)


def _print_where(database_url: str, mongo: str, embedded: bool, settings: Settings) -> None:
    if embedded:  # a URL an app can connect with: the password stays in the owner-only passfile
        from seedkit.pytest.run import psql_url
        from seedkit.stores.embedded import EmbeddedPostgres

        database_url = psql_url(database_url, EmbeddedPostgres(settings.state_dir / "postgres").passfile)
    out.print(f"PostgreSQL: {libpq_url(database_url)}")
    out.print(f"Mongo: {mongo}")
    if embedded:
        out.print(
            "The embedded PostgreSQL keeps running for your app: connect with the URL above "
            "(`seedkit db url` prints it). Stop it with `seedkit db stop`; "
            "`seedkit db start` starts it again."
        )
        if mongo.startswith("mongomock"):
            out.print(
                "Mongo is mongomock (in-process): seed a real server with --mongo-url or SEEDKIT_MONGO_URL."
            )


def reset(
    profile: ProfileOption = None,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    allow_unsafe: AllowUnsafeOption = False,
    json_output: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Empty every table (but alembic_version) and every Mongo collection (indexes kept)."""
    from seedkit.seeding.runner import reset_targets

    interruption.writes_all_or_nothing()
    settings, targets = settings_and_targets(config, profile, database_url, mongo_url)
    emptied = reset_targets(settings, targets, allow_unsafe=allow_unsafe)
    interruption.finished()
    if json_output:
        print_json({"database_url": libpq_url(_redacted(targets.database_url)), "emptied": emptied})
        return
    out.print(f"emptied {', '.join(emptied) or 'nothing'}")
    out.print(f"in {libpq_url(_redacted(targets.database_url))} and {targets.mongo_label}")


def migrate(
    profile: ProfileOption = None,
    revision: Annotated[str, typer.Option("--revision", help="Alembic revision to upgrade to.")] = "head",
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; fail unless at head and matching the models.")
    ] = False,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Upgrade the schema: Alembic (to --revision), or the profile's migration_command."""
    from seedkit.seeding import migrations
    from seedkit.seeding.runner import ensure_mongo_indexes
    from seedkit.seeding.targets import open_targets, resolve_targets

    settings = load(config)
    chosen = profile_or_none(settings, profile)
    if chosen is not None and chosen.migration_command and revision != "head" and not check:
        raise ConfigError(
            f"profile {chosen.name!r} migrates with its migration_command, which takes no --revision; "
            "run it without --revision (or migrate with Alembic: no --profile)"
        )
    targets = resolve_targets(settings, chosen, database_url=database_url, mongo_url=mongo_url)
    shown = libpq_url(_redacted(targets.database_url))
    with open_targets(targets) as (engine, db):
        if check:
            with engine.connect() as conn:
                out.print(f"{shown}: {migrations.check_models(conn, settings)}")
            return
        if (chosen is None or not chosen.migration_command) and revision != "head":
            migrations.upgrade(engine, settings, revision)
            done = f"alembic upgrade {revision}"
        else:
            done = migrations.migrate(engine, settings, chosen)
        indexes = ensure_mongo_indexes(db, settings)
        if migrations.has_alembic(settings):
            with engine.connect() as conn:
                done += f"; now at revision {migrations.current_revision(conn) or 'none'}"
    out.print(f"{shown}: {done}")
    if indexes:
        out.print(f"Mongo indexes ensured on {targets.mongo_label}")


def fingerprint(
    profile: ProfileOption = None,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    json_output: JsonOption = False,
    config: ConfigOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Seed the profile twice into fresh scratch databases and name every table.column "
            "(and collection.field) whose values differ; exit 1 unless they agree.",
        ),
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="With --check: override the profile's seed.")
    ] = None,
) -> None:
    """Print the stable content hash of both stores (the same data gives the same hash anywhere)."""
    from seedkit.seeding.targets import open_targets
    from seedkit.stores.fingerprint import fingerprint as compute

    if check:
        _check(profile, database_url, mongo_url, json_output, config, seed)
        return
    settings, targets = settings_and_targets(config, profile, database_url, mongo_url)
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        result = compute(conn, db, settings.schemas)
    if json_output:
        parts = {key: {"count": p.count, "digest": p.digest} for key, p in sorted(result.parts.items())}
        print_json({"fingerprint": result.digest, "parts": parts})
        return
    table = Table("part", "count", "digest")
    for key, part in sorted(result.parts.items()):
        table.add_row(key, str(part.count), part.digest[:16])
    out.print(table)
    out.print(f"fingerprint: {result.digest}")


def plan(
    profile: ProfileOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show what volumes will do: each factory volume's path; table volumes' order, generators, cycles.

    With --profile, that profile's volumes: each factory volume's bulk path (the row path, or
    the ORM path and why, see docs/performance.md), then its table volumes; without, every table
    of the database (100 rows each, as an illustration). Reads the database's catalogs; writes
    nothing.
    """
    from seedkit.bulk.paths import decide_call, volume_entry
    from seedkit.generate import TableVolume, plan_tables
    from seedkit.generate.catalog import read_catalog
    from seedkit.generate.explain import explain
    from seedkit.seeding.runner import resolve_factory
    from seedkit.seeding.targets import open_targets

    settings, targets = settings_and_targets(config, profile, database_url, None)
    chosen = settings.profile(profile) if profile else None
    factories: list[dict[str, Any]] = []
    if chosen is not None:
        for volume in chosen.volumes:
            factory_class = resolve_factory(volume.factory, settings)
            decision = decide_call(factory_class, dict(volume.fields))
            factories.append(
                {
                    "factory": volume.factory,
                    "count": volume.count,
                    **volume_entry(factory_class, dict(volume.fields), decision),
                }
            )
    result: dict[str, Any] = {"factories": factories, "tables": [], "cycles": [], "not_generated": []}
    with open_targets(targets) as (engine, _db), engine.connect() as conn:
        if chosen is not None:
            volumes = [TableVolume(t.table, t.count, t.columns) for t in chosen.tables]
            if not volumes and not factories:
                raise ConfigError(f"profile {chosen.name!r} has no volumes (factory or table)")
            where, seed, locale = f"profile {chosen.name!r}", chosen.seed, chosen.locale
        else:
            volumes = [TableVolume(name, 100) for name in read_catalog(conn).tables]
            where, seed, locale = "", 0, "en_US"
        if volumes:
            result.update(explain(plan_tables(conn, volumes, seed=seed, locale=locale, where=where)))
    if json_output:
        print_json(result)
        return
    if factories:
        out.print(f"factory volumes ({len(factories)}):")
        paths = Table("factory", "count", "path", "why", "evaluation", "why", box=None, pad_edge=False)
        for entry in factories:
            paths.add_row(
                entry["factory"],
                f"{entry['count']:,}",
                entry["path"],
                entry["why"],
                entry["evaluation"],
                entry["evaluation_why"],
            )
        out.print(paths)
    if result["tables"]:
        out.print(f"insert order ({len(result['tables'])} tables):")
    for number, entry in enumerate(result["tables"], 1):
        out.print(f"[bold]{number}. {entry['table']}[/bold] x {entry['count']:,}")
        table = Table("column", "type", "generator", "why", box=None, pad_edge=False)
        for column in entry["columns"]:
            table.add_row(column["column"], column["type"], column["generator"], column["why"])
        out.print(table)
    if result["cycles"]:
        out.print("cycles:")
        for cycle in result["cycles"]:
            out.print(
                f"  {cycle['table']}.{', '.join(cycle['columns'])} -> {cycle['references']} "
                f"({cycle['foreign_key']}): {cycle['broken_by']}"
            )
    if result["not_generated"]:
        out.print("not generated:")
        for item in result["not_generated"]:
            out.print(f"  {item['table']}.{item['column']}: {item['what']}")


def _check(
    profile: str | None,
    database_url: str | None,
    mongo_url: str | None,
    json_output: bool,
    config: Path | None,
    seed: int | None,
) -> None:
    from seedkit.seeding.check import HASH_SEEDS, check_determinism

    settings = load(config)
    name = profile or (next(iter(settings.profiles)) if len(settings.profiles) == 1 else None)
    report = check_determinism(
        settings, _choose_profile(settings, name), database_url=database_url, mongo_url=mongo_url, seed=seed
    )
    apart = " (in two processes, PYTHONHASHSEED={} and {})".format(*HASH_SEEDS)
    if json_output:
        print_json(
            {
                "profile": report.profile,
                "fingerprints": list(report.fingerprints),
                "differing": list(report.differing),
            }
        )
    elif report.clean:
        out.print(
            f"profile {report.profile!r} seeded twice{apart}: the same data "
            f"(fingerprint {report.fingerprints[0]})"
        )
    else:
        out.print(
            f"profile {report.profile!r} seeded twice{apart} gives different data "
            f"({report.fingerprints[0][:16]} vs {report.fingerprints[1][:16]}); values differ in:"
        )
        for key in report.differing:
            out.print(f"  {key}")
        out.print("fill them from seedkit.clock() / seedkit.ids() (see docs/determinism.md)")
    if not report.clean:
        raise typer.Exit(1)


def profiles(json_output: JsonOption = False, config: ConfigOption = None) -> None:
    """List the configured profiles."""
    settings = load(config)
    if json_output:
        print_json(
            {
                name: {
                    "description": p.description,
                    "seed": p.seed,
                    "packs": list(p.packs),
                    "volumes": [{"factory": v.factory, "count": v.count, **v.fields} for v in p.volumes],
                    "tables": [{"table": t.table, "count": t.count} for t in p.tables],
                    "migrate": p.migrate,
                    "migration_command": p.migration_command,
                    "isolation": p.isolation,
                }
                for name, p in sorted(settings.profiles.items())
            }
        )
        return
    out.print(f"profiles ({_source(settings)}):")
    for name, p in sorted(settings.profiles.items()):
        steps = p.migration_command if p.migration_command else ("alembic upgrade" if p.migrate else "no")
        out.print(f"[bold]{name}[/bold]  seed {p.seed}, isolation {p.isolation}, migrate: {steps}")
        if p.description:
            out.print(f"  {p.description}")
        if p.packs:
            out.print(f"  packs: {', '.join(p.packs)}")
        if p.volumes:
            out.print(f"  volumes: {', '.join(_volume(v) for v in p.volumes)}")
        if p.tables:
            out.print(f"  table volumes: {', '.join(f'{t.table} x {t.count}' for t in p.tables)}")


def _volume(volume: Volume) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in volume.fields.items())
    return f"{volume.factory} x {volume.count}" + (f" ({fields})" if fields else "")


def _source(settings: Settings) -> str:
    return f"from {settings.source}" if settings.source else "built-in reference configuration"


def _redacted(url: str) -> str:
    from seedkit.stores.urls import redact

    return redact(url)
