"""PostgreSQL's part of a snapshot: tables as CSV ``COPY``, sequences as JSON, and their restore.

Each table's rows are written by ``COPY ... TO STDOUT (FORMAT csv, HEADER)`` under fixed settings
(UTC, ISO dates, exact floats, hex bytea): plain text that every PostgreSQL version reads back,
unlike ``pg_dump``'s custom format. ``postgres/sequences.json`` holds every sequence's
``last_value``/``is_called``.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seedkit.errors import SnapshotError
from seedkit.snapshots.archive import CHUNK, MANIFEST, Snapshot, Writer, member_for
from seedkit.stores.fingerprint import postgres_parts
from seedkit.stores.quoting import qualified, quote_ident
from seedkit.stores.schema import SchemaInfo, reflect_schema
from seedkit.stores.truncate import truncate_tables

SEQUENCES = "postgres/sequences.json"
BLOCK = 1 << 18
"""Bytes of COPY rows gathered before they are written to a member (one write per row costs
more than the compression)."""
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


def _columns(conn: Connection, schema: str) -> dict[str, list[tuple[str, str]]]:
    """Per table of ``schema``: (name, type) of the columns COPY can write (not dropped, not
    generated), in table order; one catalog query for the whole schema."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY c.relname, a.attnum"
        ),
        {"s": schema},
    )
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, name, type_ in rows:
        columns.setdefault(str(table), []).append((str(name), str(type_)))
    return columns


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


def save_postgres(conn: Connection, writer: Writer, schema: str, info: SchemaInfo) -> dict[str, Any]:
    """Write every table of ``schema`` (as reflected in ``info``) and its sequences into ``writer``.

    Returns the manifest's part. Each table is one ``COPY ... TO STDOUT``; the server sends one
    message per row (the first is the CSV header), so the row count comes from the stream; rows
    are written to the member in blocks of about :data:`BLOCK` bytes.
    """
    for setting in _SETTINGS:
        conn.execute(sa.text(setting))
    all_columns = _columns(conn, schema)
    driver = _driver(conn)
    tables = []
    for index, table in enumerate(info.insertion_order()):
        columns = all_columns[table]
        member = member_for("postgres", table, ".csv", index)
        column_list = ", ".join(quote_ident(c) for c, _ in columns)
        statement = (  # a query, not the table: COPY TO refuses partitioned tables
            f"COPY (SELECT {column_list} FROM {qualified(schema, table)}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
        messages = 0
        try:
            with writer.member(member) as stream, driver.cursor() as cursor, cursor.copy(statement) as copy:
                block: list[bytes | memoryview] = []
                size = 0
                for chunk in copy:
                    messages += 1
                    block.append(chunk)
                    size += len(chunk)
                    if size >= BLOCK:
                        stream.write(b"".join(block))
                        block.clear()
                        size = 0
                if block:
                    stream.write(b"".join(block))
        except psycopg.Error as exc:  # one line naming the table, not the driver's traceback
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SnapshotError(f"cannot save table {qualified(schema, table)}: {reason}") from None
        tables.append(
            {
                "name": table,
                "member": member,
                "columns": [list(c) for c in columns],
                "rows": max(messages - 1, 0),
            }
        )
    writer.write(SEQUENCES, json.dumps(_sequences(conn, schema), indent=1, sort_keys=True).encode())
    server = conn.execute(sa.text("SHOW server_version")).scalar_one()
    return {"schema": schema, "server_version": server, "tables": tables, "sequences_member": SEQUENCES}


def _revision_text(revision: tuple[str, ...] | None) -> str:
    if revision is None:
        return "revision none (never migrated)"
    return "revision " + (", ".join(revision) or "(empty)")


def check_postgres_matches(snapshot: Snapshot, conn: Connection, schema: str) -> SchemaInfo:
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
    all_columns = _columns(conn, schema)
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
        columns = [list(c) for c in all_columns.get(name, [])]
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
        while chunk := source.read(CHUNK):
            copy.write(chunk)


def restore_postgres(
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
    # the guard ran in restore(); the snapshot holds the baseline rows itself
    truncate_tables(conn, list(info.tables), schema=schema, allow_unsafe=True, baseline=False)
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
        actual = {k: [p.count, p.digest] for k, p in postgres_parts(conn, schema, info=info).items()}
        if actual != expected:
            differing = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
            raise snapshot.fail(
                f"restored data does not match its fingerprint ({', '.join(differing)}); nothing was changed"
            )


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
