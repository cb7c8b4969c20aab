"""The migrated database's own rows: the baseline that resets return to, instead of zero rows.

Migrations may write data (a lookup table filled with ``op.bulk_insert``). Those rows belong to
the schema, not to the seed: seeding must accept them, and a reset must bring them back. When
seedkit migrates a database from empty (``seedkit seed``, ``seedkit migrate``, the pytest
plugin), :func:`record_baseline` copies every table that then holds rows into the
``seedkit_baseline`` schema, with the positions of the sequences they use. Afterwards

- :func:`tables_beyond_baseline` is the emptiness check: a table holds data when it has rows
  that are not in its copy;
- :func:`restore_baseline` runs after every ``TRUNCATE`` (truncate strategy, ``seed --reset``,
  ``seedkit reset``): the copied rows go back, the sequences to their recorded positions.

A database migrated by another tool has no baseline: its tables count as data when they hold
rows. Tables named in the ``keep_tables`` setting are never emptied and never count as data.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seedkit.stores.quoting import quote_ident
from seedkit.stores.schema import SchemaInfo, TableInfo, reflect_schema
from seedkit.stores.sequences import restore_sequence_positions, sequence_positions

BASELINE_SCHEMA = "seedkit_baseline"
_SEQUENCES = f"{BASELINE_SCHEMA}._sequences"


def _copy_of(table: TableInfo) -> str:
    return f"{quote_ident(BASELINE_SCHEMA)}.{quote_ident(table.key)}"


def record_baseline(conn: Connection, info: SchemaInfo | None = None) -> list[str]:
    """Copy every table holding rows (and the positions of every sequence) as the baseline.

    Replaces an earlier baseline; runs in ``conn``'s transaction. Returns the tables copied.
    """
    info = reflect_schema(conn) if info is None else info
    conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {BASELINE_SCHEMA} CASCADE"))
    conn.execute(sa.text(f"CREATE SCHEMA {BASELINE_SCHEMA}"))
    conn.execute(
        sa.text(f"CREATE TABLE {_SEQUENCES} (name text PRIMARY KEY, last_value bigint, is_called bool)")
    )
    copied = []
    for key, table in info.tables.items():
        if not conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {table.qualified})")).scalar():
            continue
        columns = ", ".join(quote_ident(c) for c in table.writable_columns)
        conn.execute(sa.text(f"CREATE TABLE {_copy_of(table)} AS SELECT {columns} FROM {table.qualified}"))
        copied.append(key)
    for name, (last, called) in sequence_positions(conn, info).items():
        conn.execute(
            sa.text(f"INSERT INTO {_SEQUENCES} VALUES (:n, :l, :c)"), {"n": name, "l": last, "c": called}
        )
    return copied


def baseline_tables(conn: Connection) -> set[str]:
    """The keys of the tables the baseline holds rows of (empty without a baseline)."""
    return set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind = 'r' AND c.relname <> '_sequences'"
            ),
            {"s": BASELINE_SCHEMA},
        ).scalars()
    )


def tables_beyond_baseline(conn: Connection, info: SchemaInfo, keep: Iterable[str] = ()) -> list[str]:
    """The tables (keys) holding rows that are not baseline rows; ``keep`` tables are never listed."""
    kept = set(keep)
    copied = baseline_tables(conn)
    found = []
    for key, table in info.tables.items():
        if key in kept:
            continue
        if key in copied:
            columns = ", ".join(quote_ident(c) for c in table.writable_columns)
            query = (
                f"SELECT EXISTS (SELECT {columns} FROM {table.qualified} "
                f"EXCEPT ALL SELECT {columns} FROM {_copy_of(table)})"
            )
        else:
            query = f"SELECT EXISTS (SELECT 1 FROM {table.qualified})"
        if conn.execute(sa.text(query)).scalar():
            found.append(key)
    return found


def restore_baseline(conn: Connection, info: SchemaInfo, emptied: Iterable[str]) -> list[str]:
    """Put the baseline rows of the ``emptied`` tables back, and the baseline's sequence positions.

    Call it right after emptying them, in the same transaction. Returns the tables refilled.
    """
    copied = baseline_tables(conn)
    refilled = []
    for key in emptied:
        table = info.tables.get(key)
        if table is None or key not in copied:
            continue
        columns = ", ".join(quote_ident(c) for c in table.writable_columns)
        overriding = (
            " OVERRIDING SYSTEM VALUE" if any(c.identity == "always" for c in table.columns.values()) else ""
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {table.qualified} ({columns}){overriding} SELECT {columns} FROM {_copy_of(table)}"
            )
        )
        refilled.append(key)
    if has_baseline(conn):
        used = {seq for key in emptied if key in info.tables for seq in info.tables[key].sequences.values()}
        recorded = {
            name: (int(last), bool(called))
            for name, last, called in conn.execute(
                sa.text(f"SELECT name, last_value, is_called FROM {_SEQUENCES}")
            )
            if name in used
        }
        restore_sequence_positions(conn, recorded)
    return refilled


def has_baseline(conn: Connection) -> bool:
    """Whether the database has a recorded baseline."""
    query = sa.text("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :s)")
    return bool(conn.execute(query, {"s": BASELINE_SCHEMA}).scalar())


__all__ = [
    "BASELINE_SCHEMA",
    "baseline_tables",
    "has_baseline",
    "record_baseline",
    "restore_baseline",
    "tables_beyond_baseline",
]
