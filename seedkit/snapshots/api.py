"""Saving and restoring portable snapshots of both stores (one zip file, any PostgreSQL version).

A snapshot ``<name>.seedkit.zip`` in the snapshots directory holds:

* ``postgres/<table>.csv``: each table's rows as ``COPY ... TO STDOUT (FORMAT csv, HEADER)``
  under fixed settings (UTC, ISO dates, exact floats, hex bytea): plain text that every
  PostgreSQL version reads back, unlike ``pg_dump``'s custom format; every application schema
  (``<table>`` is ``schema.table`` outside the default one);
* ``postgres/sequences.json``: every sequence's ``last_value``/``is_called``;
* ``mongo/<collection>.jsonl``: documents in ``_id`` order as canonical Extended JSON (exact
  BSON types), and ``mongo/indexes.json``: each collection's index definitions;
* ``manifest.json``: format version, schema revision (``alembic_version``), the seedkit
  fingerprint, table columns, counts, and the sha256 and size of every member. The zip
  comment holds the manifest's own sha256.

:func:`restore` verifies every checksum and the schema revision before it changes anything,
refusing a truncated, corrupt or mismatched file with a :class:`SnapshotError` naming the file
and the member. PostgreSQL is then restored in one transaction (foreign keys set aside,
TRUNCATE, COPY FROM, foreign keys added back, sequences set back; with ``verify``, the
fingerprint checked before COMMIT), and Mongo inside it:
its collections are set aside under a :class:`~seedkit.stores.mongo_undo.MongoRun` record, so
an interrupted or killed restore leaves both stores as before, or both as the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Engine

from seedkit import faults
from seedkit.errors import SnapshotError
from seedkit.snapshots.archive import (
    COMPRESS_LEVEL,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    Snapshot,
    SnapshotInfo,
    Writer,
    delete,
    list_snapshots,
    name_of,
    open_snapshot,
    read_info,
    snapshot_path,
)
from seedkit.snapshots.mongo import read_mongo, save_mongo
from seedkit.snapshots.postgres import (
    check_postgres_matches,
    restore_postgres,
    save_postgres,
    schema_revision,
)
from seedkit.stores.fingerprint import Part, combine, mongo_parts, postgres_parts
from seedkit.stores.mongo_state import check_mongo_destructive, replace_collections
from seedkit.stores.mongo_undo import MongoRun
from seedkit.stores.quoting import quote_literal
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import SchemaInfo, reflect_schema, reflect_table_names
from seedkit.stores.sequences import sequences_kept
from seedkit.stores.truncate import url_of


def save(
    name: str,
    *,
    directory: Path,
    engine: Engine | None = None,
    mongo: Database[Any] | None = None,
    overwrite: bool = False,
    schema: str | Sequence[str] | None = None,
) -> SnapshotInfo:
    """Write snapshot ``name`` of the given stores to ``directory``; returns what was written.

    ``schema``: the PostgreSQL schemas to save (one name, several, or None: every application
    schema, see :func:`~seedkit.stores.schema.application_schemas`). PostgreSQL is read in one
    REPEATABLE READ, READ ONLY transaction (a consistent view); the tables are copied by name
    (:func:`~seedkit.stores.schema.reflect_table_names`) while a second connection that imports
    the same snapshot (``pg_export_snapshot``, as ``pg_dump -j`` does) reflects them and takes
    their fingerprint, so the server hashes rows while this process copies them. The file
    appears only when complete (written under a temporary name, then renamed). Raises
    :class:`SnapshotError` when the name is taken (without ``overwrite``) or a table cannot be read.
    """
    if engine is None and mongo is None:
        raise SnapshotError("nothing to snapshot: give a PostgreSQL engine, a Mongo database, or both")
    path = snapshot_path(directory, name)
    if path.exists() and not overwrite:
        raise SnapshotError(
            f"snapshot {name!r} already exists at {path}; delete it, or replace it with --force (overwrite=True)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    manifest: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "name": name_of(path)}
    parts: dict[str, Part] = {}
    try:
        with zipfile.ZipFile(
            partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=COMPRESS_LEVEL
        ) as archive:
            writer = Writer(archive)
            if engine is None:
                manifest["revision"] = None
            else:
                with (
                    engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
                    conn.begin(),
                    ThreadPoolExecutor(1, thread_name_prefix="seedkit-snapshot") as pool,
                ):
                    conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                    names = reflect_table_names(conn, schema)
                    reflected: Future[tuple[SchemaInfo, dict[str, Part]]] | None = None
                    if _has_second_connection(engine):
                        exported = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
                        reflected = pool.submit(_reflect_and_hash, engine, str(exported), names.schemas)
                    manifest["revision"] = schema_revision(conn, names.schema)
                    manifest["postgres"] = save_postgres(conn, writer, names)
                    if reflected is None:
                        info = reflect_schema(conn, names.schemas)
                        pg_parts = postgres_parts(conn, info=info)
                    else:
                        info, pg_parts = reflected.result()
                    if list(info.tables) != list(names.tables):  # one snapshot: cannot differ
                        raise SnapshotError(
                            f"the tables reflected ({', '.join(info.tables)}) differ from those "
                            f"copied ({', '.join(names.tables)})"
                        )
                    parts.update(pg_parts)
            if mongo is not None:
                manifest["mongo"] = save_mongo(mongo, writer)
                parts.update(mongo_parts(mongo))
            taken = combine(parts)
            manifest["fingerprint"] = {
                "digest": taken.digest,
                "parts": {key: [part.count, part.digest] for key, part in sorted(taken.parts.items())},
            }
            manifest["members"] = writer.members
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            writer.write(MANIFEST, body)
            archive.comment = f"sha256={hashlib.sha256(body).hexdigest()}".encode()
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return read_info(path)


def _has_second_connection(engine: Engine) -> bool:
    """Whether ``engine`` can lend a second connection at once without waiting: a pool that
    opens one per checkout, or a queue with room (a static or single-connection pool cannot)."""
    pool = engine.pool
    if isinstance(pool, sa.pool.NullPool):
        return True
    if isinstance(pool, sa.pool.QueuePool):
        room = pool.size() + getattr(pool, "_max_overflow", 0) - pool.checkedout()
        return getattr(pool, "_max_overflow", 0) < 0 or room >= 1
    return False


def _reflect_and_hash(
    engine: Engine, exported: str, schemas: tuple[str, ...]
) -> tuple[SchemaInfo, dict[str, Part]]:
    """``schemas`` reflected, and their tables' fingerprint parts, read in the exported snapshot."""
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        conn.execute(sa.text(f"SET TRANSACTION SNAPSHOT {quote_literal(exported)}"))
        conn.execute(sa.text("SET TRANSACTION READ ONLY"))
        info = reflect_schema(conn, schemas)
        return info, postgres_parts(conn, info=info)


def _check_postgres(snapshot: Snapshot, engine: Engine, schema: str | Sequence[str] | None) -> SchemaInfo:
    with engine.connect() as conn:
        return check_postgres_matches(snapshot, conn, schema)


def restore(
    name: str,
    *,
    directory: Path,
    engine: Engine | None = None,
    mongo: Database[Any] | None = None,
    allow_unsafe: bool = False,
    schema: str | Sequence[str] | None = None,
    verify: bool = False,
) -> SnapshotInfo:
    """Replace the given stores' contents with snapshot ``name``.

    In order: the safety guard (before opening anything), every checksum and, at the same time
    on another thread, the schema revision and columns (a bad file is reported first), parsing
    Mongo documents; only then PostgreSQL in one transaction (rolled back
    on any error, so the database is left as it was) and Mongo. Each table's COPY must load as
    many rows as the manifest lists. With ``verify``, the restored PostgreSQL data must also
    match the snapshot's fingerprint before COMMIT (it reads every table back: about a third
    of the restore's time, which ``pg_restore`` does not spend). ``schema``: the PostgreSQL
    schemas to restore (None: those the snapshot holds). Raises :class:`SnapshotError`
    (naming the file and member) or the guard's ``UnsafeTargetError``.
    """
    if engine is None and mongo is None:
        raise SnapshotError("nothing to restore into: give a PostgreSQL engine, a Mongo database, or both")
    if engine is not None:
        check_destructive(url_of(engine), action="restore a snapshot into", allow_unsafe=allow_unsafe)
    if mongo is not None:
        check_mongo_destructive(mongo, action="restore a snapshot into", allow_unsafe=allow_unsafe)
    path = snapshot_path(directory, name)
    if not path.is_file():
        known = ", ".join(s.name for s in list_snapshots(directory)) or "none"
        raise SnapshotError(f"snapshot {name!r} not found in {directory} (snapshots there: {known})")
    with open_snapshot(path, members=False) as snapshot, ThreadPoolExecutor(1) as pool:
        if mongo is not None and not isinstance(snapshot.manifest.get("mongo"), dict):
            raise snapshot.fail("holds no Mongo data", MANIFEST)
        # the database is compared with the manifest while the members' checksums are checked
        # (the server reads its catalog while this process hashes); a bad file is named first
        checked = None if engine is None else pool.submit(_check_postgres, snapshot, engine, schema)
        snapshot.verify_members()
        schema_info = None if checked is None else checked.result()
        mongo_contents = read_mongo(snapshot) if mongo is not None else None
        if engine is None or schema_info is None:
            if mongo is not None and mongo_contents is not None:
                replace_collections(mongo, mongo_contents)
            return read_info(path)
        # setval outlives a ROLLBACK: a failed or interrupted restore puts the sequences back
        with sequences_kept(engine), engine.connect() as conn:
            # Both stores or neither: Mongo is replaced inside PostgreSQL's transaction, its old
            # collections set aside under a record that PostgreSQL's commit decides on.
            mongo_run = MongoRun(mongo, conn) if mongo is not None else None
            try:
                with conn.begin():
                    if mongo_run is not None:
                        mongo_run.follow(conn, reset=True)
                    restore_postgres(snapshot, conn, schema_info, verify)
                    faults.point("restore.loaded")
                    if mongo_run is not None and mongo_contents is not None:
                        mongo_run.clear()
                        replace_collections(mongo_run.db, mongo_contents)
            except BaseException:
                if mongo_run is not None:
                    mongo_run.rollback()
                raise
            faults.point("restore.committed")
            if mongo_run is not None:
                mongo_run.commit()
    return read_info(path)


__all__ = [
    "SnapshotInfo",
    "delete",
    "list_snapshots",
    "open_snapshot",
    "read_info",
    "restore",
    "save",
    "snapshot_path",
]
