"""``seedkit snapshot save|restore|list|delete``: portable snapshots of both stores.

Snapshots are files in the configured snapshots directory (``snapshots = "..."`` in the
configuration; ``./snapshots`` with the built-in configuration). Restoring is
destructive: it goes through the safety guard (``--allow-unsafe`` lifts it). See docs/isolation-snapshot.md.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seedkit.cli.common import (
    AllowUnsafeOption,
    ConfigOption,
    DatabaseUrlOption,
    JsonOption,
    MongoUrlOption,
    ProfileOption,
    interruption,
    load,
    out,
    print_json,
    settings_and_targets,
)
from seedkit.seeding.config import Settings
from seedkit.seeding.targets import guard_targets, open_targets
from seedkit.snapshots import api as snapshot
from seedkit.stores.urls import redact

snapshot_app = typer.Typer(
    help="Save, restore, list and delete portable snapshots of PostgreSQL and Mongo.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="Snapshot name (letters, digits, '_', '.', '-').")]
DirOption = Annotated[
    Path | None, typer.Option("--dir", help="Snapshots directory; default: the configured one.")
]


def snapshot_directory(settings: Settings, override: Path | None = None) -> Path:
    """``--dir``, else the configured snapshots directory."""
    return override if override is not None else settings.snapshots


def _summary(info: snapshot.SnapshotInfo) -> dict[str, Any]:
    data = asdict(info)
    data["path"] = str(info.path)
    data["revision"] = list(info.revision) if info.revision is not None else None
    return data


@snapshot_app.command()
def save(
    name: NameArgument,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    directory: DirOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a snapshot of the same name.")] = False,
    json: JsonOption = False,
) -> None:
    """Save both stores to snapshot NAME."""
    settings, targets = settings_and_targets(config, profile, database_url, mongo_url)
    with open_targets(targets) as (engine, mongo_db):
        info = snapshot.save(
            name,
            directory=snapshot_directory(settings, directory),
            engine=engine,
            mongo=mongo_db,
            overwrite=force,
            schema=settings.schemas,
        )
    if json:
        print_json(_summary(info))
        return
    out.print(
        f"saved snapshot {info.name!r} to {info.path}: {info.tables} tables, {info.rows} rows, "
        f"{info.collections} collections, {info.documents} documents; fingerprint {info.fingerprint[:16]}"
    )


@snapshot_app.command()
def restore(
    name: NameArgument,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    database_url: DatabaseUrlOption = None,
    mongo_url: MongoUrlOption = None,
    directory: DirOption = None,
    allow_unsafe: AllowUnsafeOption = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also check the restored data against the snapshot's fingerprint before committing "
            "(reads every table back).",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Replace both stores' contents with snapshot NAME (checked first; nothing changes if it is refused)."""
    interruption.writes_all_or_nothing()
    settings, targets = settings_and_targets(config, profile, database_url, mongo_url)
    allowed = allow_unsafe or settings.allow_unsafe
    guard_targets(targets, action="restore a snapshot into", allow_unsafe=allowed)  # before connecting
    with open_targets(targets) as (engine, mongo_db):
        info = snapshot.restore(
            name,
            directory=snapshot_directory(settings, directory),
            engine=engine,
            mongo=mongo_db,
            allow_unsafe=allowed,
            verify=verify,
        )
    interruption.finished()
    if json:
        print_json(_summary(info))
        return
    out.print(
        f"restored snapshot {info.name!r} into {redact(targets.database_url)} and {targets.mongo_label}: "
        f"{info.rows} rows, {info.documents} documents; fingerprint {info.fingerprint[:16]}"
    )


@snapshot_app.command("list")
def list_(config: ConfigOption = None, directory: DirOption = None, json: JsonOption = False) -> None:
    """List the snapshots: name, created, schema revision, contents and size."""
    settings = load(config)
    where = snapshot_directory(settings, directory)
    snapshots = snapshot.list_snapshots(where)
    if json:
        print_json([_summary(info) for info in snapshots])
        return
    if not snapshots:
        out.print(f"no snapshots in {where}")
        return
    table = Table("name", "created", "revision", "rows", "documents", "size", "fingerprint", title=str(where))
    for info in snapshots:
        if info.error:
            table.add_row(info.name, "", "", "", "", _size(info.size), f"[red]{info.error}[/red]")
            continue
        table.add_row(
            info.name,
            info.created.strftime("%Y-%m-%d %H:%M:%S UTC") if info.created else "",
            ", ".join(info.revision) if info.revision else "-",
            str(info.rows),
            str(info.documents),
            _size(info.size),
            info.fingerprint[:16],
        )
    out.print(table)


@snapshot_app.command()
def delete(name: NameArgument, config: ConfigOption = None, directory: DirOption = None) -> None:
    """Delete snapshot NAME."""
    settings = load(config)
    path = snapshot.delete(name, directory=snapshot_directory(settings, directory))
    out.print(f"deleted snapshot {name!r} ({path})")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
