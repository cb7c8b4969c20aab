"""PostgreSQL's part of a snapshot: tables as CSV ``COPY``, sequences as JSON, and their restore.

Each table's rows are written by ``COPY ... TO STDOUT (FORMAT csv, HEADER)`` under fixed settings
(UTC, ISO dates, exact floats, hex bytea): plain text that every PostgreSQL version reads back,
unlike ``pg_dump``'s custom format. ``postgres/sequences.json`` holds every sequence's
``last_value``/``is_called``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seedkit.errors import SnapshotError
from seedkit.snapshots.archive import MANIFEST, Snapshot, Writer, member_for
from seedkit.snapshots.copy_out import CopyOutError, copy_out
from seedkit.stores.fingerprint import postgres_parts
from seedkit.stores.quoting import qualified, quote_ident, quote_literal
from seedkit.stores.schema import SchemaInfo, reflect_schema
from seedkit.stores.truncate import truncate_tables

SEQUENCES = "postgres/sequences.json"
COPY_CHUNK = 1 << 20
"""Bytes handed to one ``COPY ... FROM STDIN`` write when a member is streamed from the file."""
INDEX_REBUILD_ROWS = 500
"""Rows a table's member must hold for the restore to drop its indexes and build them after the
load: below it, an index's drop and build (a fraction of a millisecond each) cost more than
keeping it up to date row by row saves (measured: docs/isolation-snapshot.md)."""
_SETTINGS = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 3",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL standard_conforming_strings = on",
)


def schema_revision(conn: Connection, schema: str = "public") -> tuple[str, ...] | None:
    """The Alembic revision(s) in ``alembic_version``, or None when the table does not exist."""
    exists = conn.execute(
        sa.text("SELECT to_regclass(format('%I.alembic_version', CAST(:s AS text)))"), {"s": schema}
    )
    if exists.scalar() is None:
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version ORDER BY 1"))
    return tuple(rows.scalars())


def _columns(conn: Connection, info: SchemaInfo) -> dict[str, list[tuple[str, str]]]:
    """Per table of ``info`` (by key): (name, type) of the columns COPY can write (not dropped,
    not generated), in table order; one catalog query for every table."""
    keys = list(info.tables)
    rows = conn.execute(
        sa.text(
            "SELECT r.i, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS r(name, i) "
            "JOIN pg_attribute a ON a.attrelid = to_regclass(r.name) "
            "WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY r.i, a.attnum"
        ),
        {"names": [info.qualified(key) for key in keys]},
    )
    columns: dict[str, list[tuple[str, str]]] = {key: [] for key in keys}
    for index, name, type_ in rows:
        columns[keys[int(index) - 1]].append((str(name), str(type_)))
    return columns


def _sequences(conn: Connection, info: SchemaInfo) -> list[tuple[str, str, str]]:
    """(key, schema, name) of every sequence in ``info``'s schemas; keys as tables' keys (the
    bare name in the default schema, ``schema.name`` elsewhere)."""
    rows = conn.execute(
        sa.text("SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname = ANY(:s) ORDER BY 1, 2"),
        {"s": list(info.schemas)},
    )
    return [
        (name if schema == info.schema else f"{schema}.{name}", str(schema), str(name))
        for schema, name in rows
    ]


def _sequence_state(conn: Connection, info: SchemaInfo) -> dict[str, list[Any]]:
    """Sequence key -> ``[last_value, is_called]``, one query for every sequence."""
    sequences = _sequences(conn, info)
    if not sequences:
        return {}
    selects = " UNION ALL ".join(
        f"SELECT {i}, last_value, is_called FROM {qualified(schema, name)}"
        for i, (_, schema, name) in enumerate(sequences)
    )
    return {
        sequences[int(i)][0]: [int(last), bool(called)] for i, last, called in conn.execute(sa.text(selects))
    }


def _driver(conn: Connection) -> Any:
    """The psycopg 3 connection under a SQLAlchemy connection (COPY needs it)."""
    driver = conn.connection.driver_connection
    if not hasattr(driver, "cursor") or not hasattr(driver, "pgconn"):
        raise SnapshotError("portable snapshots need the psycopg 3 driver (postgresql+psycopg:// URLs)")
    return driver


def save_postgres(conn: Connection, writer: Writer, info: SchemaInfo) -> dict[str, Any]:
    """Write every table of ``info`` and the sequences of its schemas into ``writer``.

    ``info`` needs the tables' names only (:func:`~seedkit.stores.schema.reflect_table_names`);
    they are written in key order. Returns the manifest's part. Each table is one ``COPY ... TO STDOUT`` read in blocks
    (:func:`~seedkit.snapshots.copy_out.copy_out`); the server sends one message per row (the
    first is the CSV header), so the row count comes from the stream. Raises
    :class:`SnapshotError` naming the table when the server refuses a COPY.
    """
    driver = _driver(conn)
    _batch(driver, _SETTINGS)
    all_columns = _columns(conn, info)
    tables = []
    for index, table in enumerate(info.tables):
        columns = all_columns[table]
        member = member_for("postgres", table, ".csv", index)
        column_list = ", ".join(quote_ident(c) for c, _ in columns)
        statement = (  # a query, not the table: COPY TO refuses partitioned tables
            f"COPY (SELECT {column_list} FROM {info.qualified(table)}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
        try:
            with writer.member(member) as stream:
                messages = copy_out(driver, statement, stream.write)
        except CopyOutError as exc:  # one line naming the table, not the driver's traceback
            raise SnapshotError(f"cannot save table {info.qualified(table)}: {exc}") from None
        tables.append(
            {
                "name": table,
                "member": member,
                "columns": [list(c) for c in columns],
                "rows": max(messages - 1, 0),
            }
        )
    writer.write(SEQUENCES, json.dumps(_sequence_state(conn, info), indent=1, sort_keys=True).encode())
    server = conn.execute(sa.text("SHOW server_version")).scalar_one()
    return {
        "schema": info.schema,
        "schemas": list(info.schemas),
        "server_version": server,
        "tables": tables,
        "sequences_member": SEQUENCES,
    }


def _revision_text(revision: tuple[str, ...] | None) -> str:
    if revision is None:
        return "revision none (never migrated)"
    return "revision " + (", ".join(revision) or "(empty)")


def snapshot_schemas(snapshot: Snapshot) -> list[str]:
    """The schemas a snapshot holds, the default one (bare table keys) first."""
    pg = snapshot.manifest.get("postgres")
    if not isinstance(pg, dict):
        raise snapshot.fail("holds no PostgreSQL data", MANIFEST)
    schemas = pg.get("schemas") or [pg.get("schema") or "public"]  # files of 0.x name one schema
    return [str(s) for s in schemas]


def check_postgres_matches(
    snapshot: Snapshot, conn: Connection, schema: str | Sequence[str] | None = None
) -> SchemaInfo:
    """Refuse a snapshot whose schema revision, tables or columns differ from the database's.

    ``schema``: the schemas to compare (None: those the snapshot holds). Returns the database's
    reflected schema; raises :class:`SnapshotError` naming both revisions, or the tables and
    columns that differ.
    """
    schemas = snapshot_schemas(snapshot) if schema is None else schema
    default = schemas if isinstance(schemas, str) else schemas[0]
    current = schema_revision(conn, default)
    if current != snapshot.revision:
        raise snapshot.fail(
            f"was taken at {_revision_text(snapshot.revision)}, "
            f"but the database is at {_revision_text(current)}: "
            "migrate the database to the snapshot's revision, or save a new snapshot"
        )
    info = reflect_schema(conn, schemas)
    all_columns = _columns(conn, info)
    saved = {t["name"]: t for t in snapshot.manifest["postgres"].get("tables", [])}
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
        columns = [list(c) for c in all_columns.get(name, [])]
        if columns != table["columns"]:
            raise snapshot.fail(
                f"columns of table {name!r} differ: snapshot has {table['columns']}, database has {columns}",
                table["member"],
            )
    return info


@dataclass(frozen=True)
class _ForeignKey:
    """A foreign key set aside during a restore: dropped before the load, added back after it."""

    table: str  # the referencing table's key
    name: str
    definition: str  # pg_get_constraintdef()
    comment: str | None
    oid: int = 0  # pg_constraint.oid


def _set_aside_foreign_keys(conn: Connection, info: SchemaInfo) -> list[_ForeignKey]:
    """The foreign keys of ``info``'s tables that the restore drops and adds back, in one query.

    Checking a foreign key row by row while COPY loads (one trigger call and index probe per
    row) cost more than the load itself; adding the key back checks every row with one join
    (what ``pg_restore`` does). Left in place: keys that involve a partition or a partitioned
    table (their per-partition copies are not re-created by name), and keys on tables the
    current role does not own or may not reference.
    """
    keys = list(info.tables)
    rows = conn.execute(
        sa.text(
            "SELECT r.i, con.conname, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint'), "
            "con.oid FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS r(name, i) "
            "JOIN pg_constraint con ON con.conrelid = to_regclass(r.name) "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class p ON p.oid = con.confrelid "
            "WHERE con.contype = 'f' AND con.conparentid = 0 AND c.relkind = 'r' AND p.relkind = 'r' "
            "AND NOT c.relispartition AND NOT p.relispartition "
            "AND pg_has_role(c.relowner, 'USAGE') AND has_table_privilege(p.oid, 'REFERENCES') "
            "ORDER BY r.i, con.conname"
        ),
        {"names": [info.qualified(key) for key in keys]},
    )
    return [
        _ForeignKey(keys[int(i) - 1], str(name), str(definition), comment, int(oid))
        for i, name, definition, comment, oid in rows
    ]


@dataclass(frozen=True)
class _Index:
    """An index set aside during a restore: dropped before the load, built again after it."""

    table: str  # the indexed table's key
    schema: str
    name: str  # the index's name, which is also its constraint's
    constraint: bool  # the index of a PRIMARY KEY, UNIQUE or EXCLUDE constraint
    definition: str  # pg_get_constraintdef() for a constraint's index, pg_get_indexdef() otherwise
    comment: str | None  # the index's
    constraint_comment: str | None

    def drop(self, info: SchemaInfo) -> str:
        """The statement that drops it (with its constraint)."""
        if self.constraint:
            return f"ALTER TABLE {info.qualified(self.table)} DROP CONSTRAINT {quote_ident(self.name)}"
        return f"DROP INDEX {qualified(self.schema, self.name)}"

    def build(self, info: SchemaInfo) -> list[str]:
        """The statements that build it again, with its comments."""
        target = info.qualified(self.table)
        statements = [
            f"ALTER TABLE {target} ADD CONSTRAINT {quote_ident(self.name)} {self.definition}"
            if self.constraint
            else self.definition
        ]
        if self.comment is not None:
            statements.append(
                f"COMMENT ON INDEX {qualified(self.schema, self.name)} IS {quote_literal(self.comment)}"
            )
        if self.constraint_comment is not None:
            statements.append(
                f"COMMENT ON CONSTRAINT {quote_ident(self.name)} ON {target} "
                f"IS {quote_literal(self.constraint_comment)}"
            )
        return statements


def _set_aside_indexes(
    conn: Connection, info: SchemaInfo, tables: Sequence[str], foreign_keys: list[_ForeignKey]
) -> list[_Index]:
    """The indexes of ``tables`` (keys of ``info``) that the restore drops and builds again, in one query.

    COPY into a table with indexes inserts every row into each of them (an index probe and
    page write per row and index); building an index once the rows are in sorts them instead,
    which took half the time for the benchmark's tables (what ``pg_restore`` does: data first,
    then indexes and constraints). Only what comes back exactly as it was is set aside: valid
    indexes of ordinary tables the current role owns, in the database's default tablespace,
    that are neither a table's clustering nor its replica-identity index, have no per-column
    statistics target, are not a constraint's index with storage parameters (which
    ``pg_get_constraintdef`` leaves out), and that nothing depends on but ``foreign_keys`` (set aside
    before them; a constraint's own index and triggers are parts of it, not dependents). A
    PRIMARY KEY, UNIQUE or EXCLUDE constraint's index comes back through its constraint, with the
    constraint's name, definition (deferrability too) and comment.
    """
    keys = list(tables)
    rows = conn.execute(
        sa.text(
            "SELECT r.i, n.nspname, ic.relname, con.oid IS NOT NULL, "
            "coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(x.indexrelid)), "
            "obj_description(x.indexrelid, 'pg_class'), obj_description(con.oid, 'pg_constraint') "
            "FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS r(name, i) "
            "JOIN pg_class c ON c.oid = to_regclass(r.name) "
            "JOIN pg_index x ON x.indrelid = c.oid "
            "JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace "
            "LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid "
            "AND con.contype IN ('p', 'u', 'x') "
            "WHERE c.relkind = 'r' AND NOT c.relispartition AND pg_has_role(c.relowner, 'USAGE') "
            "AND x.indisvalid AND x.indisready AND x.indislive "
            "AND NOT x.indisclustered AND NOT x.indisreplident AND ic.reltablespace = 0 "
            "AND (con.oid IS NULL OR con.conname = ic.relname AND ic.reloptions IS NULL) "
            "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = x.indexrelid "
            "AND coalesce(CAST(a.attstattarget AS int), -1) >= 0) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass "
            "AND d.refobjid = x.indexrelid "
            "AND NOT (d.classid = 'pg_constraint'::regclass AND d.objid = ANY(CAST(:gone AS oid[])))) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_constraint'::regclass "
            "AND d.refobjid = con.oid AND d.deptype <> 'i' "
            "AND NOT (d.classid = 'pg_constraint'::regclass AND d.objid = ANY(CAST(:gone AS oid[])))) "
            "ORDER BY r.i, ic.relname"
        ),
        {"names": [info.qualified(key) for key in keys], "gone": [fk.oid for fk in foreign_keys]},
    )
    return [
        _Index(keys[int(i) - 1], str(schema), str(name), bool(constraint), str(definition), comment, remark)
        for i, schema, name, constraint, definition, comment, remark in rows
    ]


def _without(info: SchemaInfo, foreign_keys: list[_ForeignKey]) -> SchemaInfo:
    """``info`` without the foreign keys set aside (what constrains the load order while they are gone)."""
    gone = {(fk.table, fk.name) for fk in foreign_keys}
    return replace(
        info,
        tables={
            key: replace(
                table, foreign_keys=tuple(fk for fk in table.foreign_keys if (key, fk.name) not in gone)
            )
            for key, table in info.tables.items()
        },
    )


def _by_table(foreign_keys: list[_ForeignKey]) -> dict[str, list[_ForeignKey]]:
    grouped: dict[str, list[_ForeignKey]] = {}
    for fk in foreign_keys:
        grouped.setdefault(fk.table, []).append(fk)
    return grouped


def _copy_in(driver: Any, snapshot: Snapshot, entry: dict[str, Any], target: str) -> None:
    """COPY the member of manifest ``entry`` into ``target``; it must load the rows the entry lists."""
    column_list = ", ".join(quote_ident(c) for c, _ in entry["columns"])
    statement = f"COPY {target} ({column_list}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    with snapshot.open(entry["member"]) as source, driver.cursor() as cursor:
        with cursor.copy(statement) as copy:
            while chunk := source.read(COPY_CHUNK):
                copy.write(chunk)
        if cursor.rowcount != entry["rows"]:
            error = snapshot.fail(
                f"loaded {cursor.rowcount} rows into table {entry['name']!r}, the manifest lists {entry['rows']}",
                entry["member"],
            )
            raise _RowCountError(str(error))


class _RowCountError(SnapshotError):
    """A COPY loaded another number of rows than the manifest lists."""


def restore_postgres(snapshot: Snapshot, conn: Connection, info: SchemaInfo, verify: bool) -> None:
    """Load the snapshot into ``conn``'s open transaction (the caller commits).

    ``info``: the database's schema as :func:`check_postgres_matches` returned it. Foreign keys
    between ordinary tables are dropped first and added back once every table is loaded (each
    checked with one query, as ``pg_restore`` does; same names, definitions and comments); all
    of it in the caller's transaction, so a failure leaves the schema and the data as they
    were. The indexes of tables of at least :data:`INDEX_REBUILD_ROWS` rows (with their
    PRIMARY KEY, UNIQUE and EXCLUDE constraints) are likewise dropped before the load and built
    again after it, before the keys come back (:func:`_set_aside_indexes` says which). Parents
    are loaded before children for the keys that stay; a foreign-key cycle among those is
    broken at the keys :meth:`SchemaInfo.cycle_breakers` picks (nullable): that table is
    loaded through a temporary staging table with those keys NULL, and they are set by UPDATE
    once every table is loaded. User triggers are disabled during the load, so restoring never fires
    application logic. Each COPY must load the rows the manifest lists (checked once the
    indexes are built, so that a duplicated row is named by the unique index it breaks); with
    ``verify``, the loaded data must also match the snapshot's fingerprint. Raises
    :class:`SnapshotError` naming the member and table.
    """
    driver = _driver(conn)
    _batch(driver, _SETTINGS)
    keys = list(info.tables)
    triggered = [
        keys[int(i) - 1]
        for (i,) in conn.execute(
            sa.text(
                "SELECT r.i FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS r(name, i) "
                "WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = to_regclass(r.name) "
                "AND NOT g.tgisinternal) ORDER BY r.i"
            ),
            {"names": [info.qualified(key) for key in keys]},
        )
    ]
    set_aside = _set_aside_foreign_keys(conn, info)
    saved = {t["name"]: t for t in snapshot.manifest["postgres"]["tables"]}
    large = [key for key in info.tables if saved[key]["rows"] >= INDEX_REBUILD_ROWS]
    indexes = _set_aside_indexes(conn, info, large, set_aside) if large else []
    _batch(
        driver,
        [f"ALTER TABLE {info.qualified(table)} DISABLE TRIGGER USER" for table in triggered]
        + [
            f"ALTER TABLE {info.qualified(table)} "
            + ", ".join(f"DROP CONSTRAINT {quote_ident(fk.name)}" for fk in fks)
            for table, fks in _by_table(set_aside).items()
        ]
        + [index.drop(info) for index in indexes],  # after the keys that depend on them
    )
    # the guard ran in restore(); the snapshot holds the baseline rows itself
    truncate_tables(conn, list(info.tables), allow_unsafe=True, baseline=False, info=info)
    loading = _without(info, set_aside)
    try:
        breakers = loading.cycle_breakers()
    except ValueError as exc:
        raise snapshot.fail(f"cannot be loaded: {exc}") from None
    staged: dict[str, tuple[str, list[str]]] = {}
    miscounted: _RowCountError | None = None
    for index, table in enumerate(loading.insertion_order()):
        entry = saved[table]
        columns = [c for c, _ in entry["columns"]]
        table_info = loading.tables[table]
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
                try:
                    _copy_in(driver, snapshot, entry, info.qualified(table))
                except _RowCountError as exc:  # raised once the indexes are built
                    miscounted = miscounted or exc  # (a duplicated row is named by its unique index)
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
                    f"SELECT {column_list} FROM {info.qualified(table)} WITH NO DATA"
                )
            )
            _copy_in(driver, snapshot, entry, stage)
            values = ", ".join("NULL" if c in held_back else quote_ident(c) for c in columns)
            conn.execute(
                sa.text(
                    f"INSERT INTO {info.qualified(table)} ({column_list}) OVERRIDING SYSTEM VALUE "
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
                sa.text(
                    f"UPDATE {info.qualified(table)} AS t SET {assignments} FROM {stage} AS s WHERE {match}"
                )
            )
        except sa.exc.DBAPIError as exc:
            raise snapshot.fail(
                f"cannot be loaded into table {table!r}: {_first_line(exc)}", saved[table]["member"]
            ) from None
    try:  # every index built again, then every key back (checked with one join each), in one round trip
        _batch(
            driver,
            # deferred checks still pending (a deferrable unique constraint or key left in
            # place) run now, as COMMIT would have: a CREATE INDEX on their table would be
            # refused, and a violation found at COMMIT would not name the member
            ["SET CONSTRAINTS ALL IMMEDIATE"]
            + [statement for index in indexes for statement in index.build(info)]
            + [
                f"ALTER TABLE {info.qualified(table)} "
                + ", ".join(f"ADD CONSTRAINT {quote_ident(fk.name)} {fk.definition}" for fk in fks)
                for table, fks in _by_table(set_aside).items()
            ]
            + [
                f"COMMENT ON CONSTRAINT {quote_ident(fk.name)} ON {info.qualified(fk.table)} "
                f"IS {quote_literal(fk.comment)}"
                for fk in set_aside
                if fk.comment is not None
            ],
        )
    except psycopg.Error as exc:
        table = _table_of(exc, info) or (set_aside[0].table if set_aside else indexes[0].table)
        raise snapshot.fail(
            f"cannot be loaded into table {table!r}: {_first_line(exc)}", saved[table]["member"]
        ) from None
    if miscounted is not None:
        raise miscounted
    sequences = snapshot.read_json(snapshot.manifest["postgres"]["sequences_member"])
    restarts = [
        f"setval({quote_literal(qualified(schema, name))}::regclass, {int(sequences[key][0])}, "
        f"{'true' if sequences[key][1] else 'false'})"
        for key, schema, name in _sequences(conn, info)
        if key in sequences
    ]
    _batch(
        driver,
        ([f"SELECT {', '.join(restarts)}"] if restarts else [])
        + [f"ALTER TABLE {info.qualified(table)} ENABLE TRIGGER USER" for table in triggered],
    )
    if verify:
        expected = {k: v for k, v in snapshot.manifest["fingerprint"]["parts"].items() if k.startswith("pg:")}
        actual = {k: [p.count, p.digest] for k, p in postgres_parts(conn, info=info).items()}
        if actual != expected:
            differing = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
            raise snapshot.fail(
                f"restored data does not match its fingerprint ({', '.join(differing)}); nothing was changed"
            )


def _batch(driver: Any, statements: Sequence[str]) -> None:
    """Run ``statements`` in one round trip (the simple query protocol: no parameters, so no
    placeholders either; every value in them is quoted)."""
    if statements:
        driver.execute(";\n".join(statements))


def _table_of(exc: psycopg.Error, info: SchemaInfo) -> str | None:
    """The key of the table a server error names (its diagnostics), when it is one of ``info``'s."""
    schema, name = exc.diag.schema_name, exc.diag.table_name
    return next((key for key, t in info.tables.items() if (t.schema, t.name) == (schema, name)), None)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
