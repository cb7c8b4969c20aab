"""Portable snapshots of both stores: one zip file, restorable on any PostgreSQL version.

A snapshot ``<name>.seedkit.zip`` in the snapshots directory holds:

* ``postgres/<table>.csv``: each table's rows as ``COPY ... TO STDOUT (FORMAT csv, HEADER)``
  under fixed settings (UTC, ISO dates, exact floats, hex bytea): plain text that every
  PostgreSQL version reads back, unlike ``pg_dump``'s custom format;
* ``postgres/sequences.json``: every sequence's ``last_value``/``is_called``;
* ``mongo/<collection>.jsonl``: documents in ``_id`` order as canonical Extended JSON (exact
  BSON types), and ``mongo/indexes.json``: each collection's index definitions;
* ``manifest.json``: format version, schema revision (``alembic_version``), the seedkit
  fingerprint, table columns, counts, and the sha256 and size of every member. The zip
  comment holds the manifest's own sha256.

:func:`restore` verifies every checksum and the schema revision before it changes anything,
refusing a truncated, corrupt or mismatched file with a :class:`SnapshotError` naming the file
and the member. PostgreSQL is then restored in one transaction (TRUNCATE, COPY FROM in
insertion order, sequences set back, fingerprint checked before COMMIT), then Mongo.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
import sqlalchemy as sa
from bson import json_util
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import SnapshotError
from seedkit.stores.fingerprint import fingerprint, postgres_parts
from seedkit.stores.mongo import index_specs, user_collections
from seedkit.stores.mongo_state import check_mongo_destructive, replace_collections
from seedkit.stores.quoting import qualified, quote_ident
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import SchemaInfo, reflect_schema
from seedkit.stores.truncate import truncate_tables, url_of

FORMAT = "seedkit-snapshot"
FORMAT_VERSION = 1
SUFFIX = ".seedkit.zip"
MANIFEST = "manifest.json"
SEQUENCES = "postgres/sequences.json"
MONGO_INDEXES = "mongo/indexes.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9_.-]+$")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no clock time: same data, same bytes
_CHUNK = 1 << 16
_SETTINGS = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 3",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL standard_conforming_strings = on",
)
_JSON = json_util.CANONICAL_JSON_OPTIONS
_JSON_IN = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=True, tzinfo=UTC)


@dataclass(frozen=True)
class SnapshotInfo:
    """What :func:`list_snapshots` shows about one snapshot file."""

    name: str
    path: Path
    size: int
    created: datetime | None = None  # the file's modification time
    revision: tuple[str, ...] | None = None
    tables: int = 0
    rows: int = 0
    collections: int = 0
    documents: int = 0
    fingerprint: str = ""
    error: str | None = None


def snapshot_path(directory: Path, name: str) -> Path:
    """The file of snapshot ``name`` in ``directory``; ``name`` may also be a path to a snapshot file."""
    if name.endswith(SUFFIX) and ("/" in name or Path(name).exists()):
        return Path(name)
    if not _NAME.match(name):
        raise SnapshotError(
            f"invalid snapshot name {name!r}: "
            "use letters, digits, '_', '.', '-' (starting with a letter or digit)"
        )
    return Path(directory) / f"{name}{SUFFIX}"


def _name_of(path: Path) -> str:
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name


# --- reading PostgreSQL ------------------------------------------------------------------


def schema_revision(conn: Connection, schema: str = "public") -> tuple[str, ...] | None:
    """The Alembic revision(s) in ``alembic_version``, or None when the table does not exist."""
    exists = conn.execute(
        sa.text("SELECT to_regclass(format('%I.alembic_version', CAST(:s AS text)))"), {"s": schema}
    )
    if exists.scalar() is None:
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version ORDER BY 1"))
    return tuple(rows.scalars())


def _columns(conn: Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of the columns COPY can write: not dropped, not generated, in table order."""
    rows = conn.execute(
        sa.text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(format('%I.%I', CAST(:s AS text), CAST(:t AS text))) "
            "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum"
        ),
        {"s": schema, "t": table},
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def _sequences(conn: Connection, schema: str) -> dict[str, list[Any]]:
    names = list(
        conn.execute(
            sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s ORDER BY 1"), {"s": schema}
        ).scalars()
    )
    state: dict[str, list[Any]] = {}
    for name in names:
        row = conn.execute(
            sa.text(f"SELECT last_value, is_called FROM {quote_ident(schema)}.{quote_ident(name)}")
        ).one()
        state[name] = [int(row[0]), bool(row[1])]
    return state


def _driver(conn: Connection) -> Any:
    """The psycopg 3 connection under a SQLAlchemy connection (COPY needs it)."""
    driver = conn.connection.driver_connection
    if not hasattr(driver, "cursor") or not hasattr(driver, "pgconn"):
        raise SnapshotError("portable snapshots need the psycopg 3 driver (postgresql+psycopg:// URLs)")
    return driver


# --- writing -----------------------------------------------------------------------------


class _Writer:
    """Adds members to a zip with fixed metadata and records their sha256 and size."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.members: dict[str, dict[str, Any]] = {}

    @contextmanager
    def member(self, name: str) -> Iterator[_HashingStream]:
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self.archive.open(info, "w", force_zip64=True) as raw:
            stream = _HashingStream(raw)
            yield stream
        self.members[name] = {"sha256": stream.hasher.hexdigest(), "size": stream.size}

    def write(self, name: str, data: bytes) -> None:
        with self.member(name) as stream:
            stream.write(data)


class _HashingStream:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.raw.write(data)
        self.hasher.update(data)
        self.size += len(data)


def _member_for(prefix: str, name: str, suffix: str, index: int) -> str:
    return f"{prefix}/{name}{suffix}" if _SAFE_MEMBER.match(name) else f"{prefix}/{index:04d}{suffix}"


def _save_postgres(conn: Connection, writer: _Writer, schema: str) -> dict[str, Any]:
    for setting in _SETTINGS:
        conn.execute(sa.text(setting))
    info = reflect_schema(conn, schema)
    driver = _driver(conn)
    tables = []
    for index, table in enumerate(info.insertion_order()):
        columns = _columns(conn, schema, table)
        member = _member_for("postgres", table, ".csv", index)
        column_list = ", ".join(quote_ident(c) for c, _ in columns)
        statement = (
            f"COPY {qualified(schema, table)} ({column_list}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
        with writer.member(member) as stream, driver.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                stream.write(chunk)
        rows = conn.execute(
            sa.text(f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}")
        ).scalar_one()
        tables.append({"name": table, "member": member, "columns": [list(c) for c in columns], "rows": rows})
    writer.write(SEQUENCES, json.dumps(_sequences(conn, schema), indent=1, sort_keys=True).encode())
    server = conn.execute(sa.text("SHOW server_version")).scalar_one()
    return {"schema": schema, "server_version": server, "tables": tables, "sequences_member": SEQUENCES}


def _save_mongo(db: Database[Any], writer: _Writer) -> dict[str, Any]:
    collections = []
    indexes = {}
    for index, name in enumerate(user_collections(db)):
        member = _member_for("mongo", name, ".jsonl", index)
        count = 0
        with writer.member(member) as stream:
            for document in db[name].find({}, sort=[("_id", 1)]):
                stream.write(json_util.dumps(document, json_options=_JSON).encode() + b"\n")
                count += 1
        indexes[name] = index_specs(db, name)
        collections.append({"name": name, "member": member, "documents": count})
    writer.write(
        MONGO_INDEXES, json_util.dumps(indexes, json_options=_JSON, indent=1, sort_keys=True).encode()
    )
    return {"database": db.name, "collections": collections, "indexes_member": MONGO_INDEXES}


def save(
    name: str,
    *,
    directory: Path,
    engine: Engine | None = None,
    mongo: Database[Any] | None = None,
    overwrite: bool = False,
    schema: str = "public",
) -> SnapshotInfo:
    """Write snapshot ``name`` of the given stores to ``directory``; returns what was written.

    PostgreSQL is read in one REPEATABLE READ, READ ONLY transaction (a consistent view).
    The file appears only when complete (written under a temporary name, then renamed).
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
    manifest: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "name": _name_of(path)}
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            writer = _Writer(archive)
            if engine is not None:
                with (
                    engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
                    conn.begin(),
                ):
                    conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                    manifest["revision"] = schema_revision(conn, schema)
                    manifest["postgres"] = _save_postgres(conn, writer, schema)
                    taken = fingerprint(conn, mongo, schema)
            else:
                manifest["revision"] = None
                taken = fingerprint(None, mongo)
            if mongo is not None:
                manifest["mongo"] = _save_mongo(mongo, writer)
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


# --- verifying -----------------------------------------------------------------------------


class Snapshot:
    """An opened, verified snapshot file (use :func:`open_snapshot`)."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.path = path
        self.archive = archive
        self.manifest = manifest

    def fail(self, reason: str, member: str | None = None) -> SnapshotError:
        where = f"{self.path}, member {member!r}" if member else str(self.path)
        return SnapshotError(f"snapshot {where}: {reason}")

    def open(self, member: str) -> IO[bytes]:
        return self.archive.open(member)

    def read_json(self, member: str, *, bson_types: bool = False) -> Any:
        try:
            text = self.archive.read(member).decode()
            return json_util.loads(text, json_options=_JSON_IN) if bson_types else json.loads(text)
        except Exception as exc:
            raise self.fail(f"unreadable ({exc})", member) from None

    @property
    def revision(self) -> tuple[str, ...] | None:
        revision = self.manifest.get("revision")
        return None if revision is None else tuple(revision)


def _unreadable(path: Path, exc: BaseException) -> SnapshotError:
    return SnapshotError(
        f"snapshot {path}: not a readable seedkit snapshot, the file is truncated or corrupt ({exc})"
    )


def _verify_member(snapshot: Snapshot, member: str, expected: dict[str, Any]) -> None:
    hasher = hashlib.sha256()
    size = 0
    try:
        with snapshot.archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
    except KeyError:
        raise snapshot.fail("missing from the file", member) from None
    except Exception as exc:  # zlib/CRC/struct errors of a damaged file
        raise snapshot.fail(f"corrupt ({exc})", member) from None
    if size != expected.get("size") or hasher.hexdigest() != expected.get("sha256"):
        raise snapshot.fail("checksum mismatch: the file is corrupt or was modified", member)


@contextmanager
def open_snapshot(path: Path) -> Iterator[Snapshot]:
    """Open ``path`` and verify the manifest and every member's sha256 and size, or raise SnapshotError."""
    if not path.is_file():
        raise SnapshotError(f"snapshot {path} does not exist")
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    with archive:
        snapshot = Snapshot(path, archive, {})
        try:
            body = archive.read(MANIFEST)
        except KeyError:
            raise snapshot.fail("missing from the file", MANIFEST) from None
        except Exception as exc:
            raise snapshot.fail(f"corrupt ({exc})", MANIFEST) from None
        if archive.comment != f"sha256={hashlib.sha256(body).hexdigest()}".encode():
            raise snapshot.fail("checksum mismatch: the file is corrupt or was modified", MANIFEST)
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            raise snapshot.fail(f"not valid JSON ({exc})", MANIFEST) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise snapshot.fail("not a seedkit snapshot manifest", MANIFEST)
        if manifest.get("version") != FORMAT_VERSION:
            raise snapshot.fail(
                f"format version {manifest.get('version')!r} is not supported "
                f"(this seedkit reads {FORMAT_VERSION})",
                MANIFEST,
            )
        snapshot.manifest = manifest
        members = manifest.get("members", {})
        extra = sorted(set(archive.namelist()) - set(members) - {MANIFEST})
        if extra:
            raise snapshot.fail("not listed in the manifest (the file was modified)", extra[0])
        for member, expected in sorted(members.items()):
            _verify_member(snapshot, member, expected)
        yield snapshot


def read_info(path: Path) -> SnapshotInfo:
    """Read (without full verification) what a snapshot file holds."""
    stat = path.stat()
    base = SnapshotInfo(
        name=_name_of(path), path=path, size=stat.st_size, created=datetime.fromtimestamp(stat.st_mtime, UTC)
    )
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except Exception as exc:
        return replace(base, error=f"unreadable: {exc}")
    pg = manifest.get("postgres") or {}
    mongo = manifest.get("mongo") or {}
    revision = manifest.get("revision")
    return replace(
        base,
        revision=None if revision is None else tuple(revision),
        tables=len(pg.get("tables", [])),
        rows=sum(t.get("rows", 0) for t in pg.get("tables", [])),
        collections=len(mongo.get("collections", [])),
        documents=sum(c.get("documents", 0) for c in mongo.get("collections", [])),
        fingerprint=manifest.get("fingerprint", {}).get("digest", ""),
    )


def list_snapshots(directory: Path) -> list[SnapshotInfo]:
    """Every snapshot file in ``directory`` by name (unreadable ones carry ``error``)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [read_info(path) for path in sorted(directory.glob(f"*{SUFFIX}"))]


def delete(name: str, *, directory: Path) -> Path:
    """Delete snapshot ``name``; returns the removed file."""
    path = snapshot_path(directory, name)
    if not path.is_file():
        known = ", ".join(s.name for s in list_snapshots(directory)) or "none"
        raise SnapshotError(f"snapshot {name!r} not found in {directory} (snapshots there: {known})")
    path.unlink()
    return path


# --- restoring -----------------------------------------------------------------------------


def _revision_text(revision: tuple[str, ...] | None) -> str:
    if revision is None:
        return "revision none (never migrated)"
    return "revision " + (", ".join(revision) or "(empty)")


def _check_postgres_matches(snapshot: Snapshot, conn: Connection, schema: str) -> SchemaInfo:
    """Refuse a snapshot whose schema revision, tables or columns differ from the database's."""
    pg = snapshot.manifest.get("postgres")
    if not isinstance(pg, dict):
        raise snapshot.fail("holds no PostgreSQL data", MANIFEST)
    current = schema_revision(conn, schema)
    if current != snapshot.revision:
        raise snapshot.fail(
            f"was taken at {_revision_text(snapshot.revision)}, "
            f"but the database is at {_revision_text(current)}: "
            "migrate the database to the snapshot's revision, or save a new snapshot"
        )
    info = reflect_schema(conn, schema)
    saved = {t["name"]: t for t in pg.get("tables", [])}
    missing = sorted(set(saved) - set(info.tables))
    unknown = sorted(set(info.tables) - set(saved))
    if missing or unknown:
        detail = "; ".join(
            part
            for part in (
                f"tables not in the database: {', '.join(missing)}" if missing else "",
                f"tables not in the snapshot: {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise snapshot.fail(f"does not match the database schema ({detail})")
    for name, table in saved.items():
        columns = [list(c) for c in _columns(conn, schema, name)]
        if columns != table["columns"]:
            raise snapshot.fail(
                f"columns of table {name!r} differ: snapshot has {table['columns']}, database has {columns}",
                table["member"],
            )
    return info


def _copy_in(driver: Any, snapshot: Snapshot, member: str, target: str, columns: list[str]) -> None:
    column_list = ", ".join(quote_ident(c) for c in columns)
    statement = f"COPY {target} ({column_list}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    with snapshot.open(member) as source, driver.cursor() as cursor, cursor.copy(statement) as copy:
        while chunk := source.read(_CHUNK):
            copy.write(chunk)


def _restore_postgres(
    snapshot: Snapshot, conn: Connection, info: SchemaInfo, schema: str, verify: bool
) -> None:
    """Load the snapshot into ``conn``'s open transaction (the caller commits).

    Parents are loaded before children. Self-references need nothing special: a foreign key is
    checked at the end of the COPY statement, when all of the table's rows are there. A
    foreign-key cycle between tables is broken at the keys :meth:`SchemaInfo.cycle_breakers`
    picks (nullable): that table is loaded through a temporary staging table with those keys
    NULL, and they are set by UPDATE once every table is loaded. User triggers are disabled
    during the load, so restoring never fires application logic.
    """
    for setting in _SETTINGS:
        conn.execute(sa.text(setting))
    qualified = {name: f"{quote_ident(schema)}.{quote_ident(name)}" for name in info.tables}
    triggered = list(
        conn.execute(
            sa.text(
                "SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT g.tgisinternal AND n.nspname = :s"
            ),
            {"s": schema},
        ).scalars()
    )
    triggered = sorted(t for t in triggered if t in qualified)
    for table in triggered:
        conn.execute(sa.text(f"ALTER TABLE {qualified[table]} DISABLE TRIGGER USER"))
    truncate_tables(conn, list(info.tables), schema=schema, allow_unsafe=True)  # the guard ran in restore()
    try:
        breakers = {(t, fk) for t, fk in info.cycle_breakers()}
    except ValueError as exc:
        raise snapshot.fail(f"cannot be loaded: {exc}") from None
    saved = {t["name"]: t for t in snapshot.manifest["postgres"]["tables"]}
    driver = _driver(conn)
    staged: dict[str, tuple[str, list[str]]] = {}
    for index, table in enumerate(info.insertion_order()):
        entry = saved[table]
        columns = [c for c, _ in entry["columns"]]
        table_info = info.tables[table]
        held_back = sorted(
            {
                column
                for fk in table_info.foreign_keys
                if (table, fk.name) in breakers and fk.referred_table != table
                for column in fk.columns
            }
        )
        try:
            if not held_back:
                _copy_in(driver, snapshot, entry["member"], qualified[table], columns)
                continue
            if not table_info.primary_key:
                raise snapshot.fail(
                    f"table {table!r} is in a foreign-key cycle but has no primary key", entry["member"]
                )
            stage = f"seedkit_restore_stage_{index}"
            column_list = ", ".join(quote_ident(c) for c in columns)
            conn.execute(
                sa.text(
                    f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
                    f"SELECT {column_list} FROM {qualified[table]} WITH NO DATA"
                )
            )
            _copy_in(driver, snapshot, entry["member"], stage, columns)
            values = ", ".join("NULL" if c in held_back else quote_ident(c) for c in columns)
            conn.execute(
                sa.text(
                    f"INSERT INTO {qualified[table]} ({column_list}) OVERRIDING SYSTEM VALUE "
                    f"SELECT {values} FROM {stage}"
                )
            )
            staged[table] = (stage, held_back)
        except (sa.exc.DBAPIError, psycopg.Error) as exc:
            raise snapshot.fail(
                f"cannot be loaded into table {table!r}: {_first_line(exc)}", entry["member"]
            ) from None
    for table, (stage, held_back) in staged.items():
        assignments = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in held_back)
        match = " AND ".join(
            f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in info.tables[table].primary_key
        )
        try:
            conn.execute(
                sa.text(f"UPDATE {qualified[table]} AS t SET {assignments} FROM {stage} AS s WHERE {match}")
            )
        except sa.exc.DBAPIError as exc:
            raise snapshot.fail(
                f"cannot be loaded into table {table!r}: {_first_line(exc)}", saved[table]["member"]
            ) from None
    sequences = snapshot.read_json(snapshot.manifest["postgres"]["sequences_member"])
    for name, (last_value, is_called) in sorted(sequences.items()):
        conn.execute(
            sa.text(
                "SELECT setval(to_regclass(format('%I.%I', CAST(:s AS text), CAST(:n AS text))), :v, :c)"
            ),
            {"s": schema, "n": name, "v": last_value, "c": is_called},
        )
    for table in triggered:
        conn.execute(sa.text(f"ALTER TABLE {qualified[table]} ENABLE TRIGGER USER"))
    if verify:
        expected = {k: v for k, v in snapshot.manifest["fingerprint"]["parts"].items() if k.startswith("pg:")}
        actual = {k: [p.count, p.digest] for k, p in postgres_parts(conn, schema).items()}
        if actual != expected:
            differing = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
            raise snapshot.fail(
                f"restored data does not match its fingerprint ({', '.join(differing)}); nothing was changed"
            )


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _read_mongo(snapshot: Snapshot) -> dict[str, tuple[list[Any], dict[str, dict[str, Any]]]]:
    """Parse every Mongo member before anything is written (a bad line fails here)."""
    mongo = snapshot.manifest["mongo"]
    indexes = snapshot.read_json(mongo["indexes_member"], bson_types=True)
    contents: dict[str, tuple[list[Any], dict[str, dict[str, Any]]]] = {}
    for collection in mongo["collections"]:
        member = collection["member"]
        documents = []
        with snapshot.open(member) as stream:
            for number, line in enumerate(stream, start=1):
                try:
                    documents.append(json_util.loads(line, json_options=_JSON_IN))
                except Exception as exc:
                    raise snapshot.fail(
                        f"line {number}: not canonical Extended JSON ({exc})", member
                    ) from None
        specs = {
            name: {**spec, "key": [tuple(part) for part in spec["key"]]}
            for name, spec in indexes.get(collection["name"], {}).items()
        }
        contents[collection["name"]] = (documents, specs)
    return contents


def restore(
    name: str,
    *,
    directory: Path,
    engine: Engine | None = None,
    mongo: Database[Any] | None = None,
    allow_unsafe: bool = False,
    schema: str = "public",
    verify: bool = True,
) -> SnapshotInfo:
    """Replace the given stores' contents with snapshot ``name``.

    In order: the safety guard (before opening anything), every checksum, the schema revision
    and columns, parsing Mongo documents; only then PostgreSQL in one transaction (rolled back
    on any error, so the database is left as it was) and Mongo. With ``verify``, the restored
    PostgreSQL data must match the snapshot's fingerprint before COMMIT.
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
    with open_snapshot(path) as snapshot:
        if mongo is not None and not isinstance(snapshot.manifest.get("mongo"), dict):
            raise snapshot.fail("holds no Mongo data", MANIFEST)
        schema_info = None
        if engine is not None:
            with engine.connect() as conn:
                schema_info = _check_postgres_matches(snapshot, conn, schema)
        mongo_contents = _read_mongo(snapshot) if mongo is not None else None
        if engine is not None and schema_info is not None:
            with engine.begin() as conn:
                _restore_postgres(snapshot, conn, schema_info, schema, verify)
        if mongo is not None and mongo_contents is not None:
            replace_collections(mongo, mongo_contents)
    return read_info(path)
