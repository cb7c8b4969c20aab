"""The sequences behind serial, identity and ``nextval``-defaulted columns: moved past seeded keys,
read and put back.

Seeding writes explicit keys (the injected IDs, pack labels' keys, the bulk path's): without
help, the sequence feeding such a column stays where it was and the application's first own
insert collides with a seeded row (``duplicate key value violates unique constraint``).
:func:`advance_sequences` runs after every seeding. Sequences are not transactional, so a
strategy that rolls a test back puts them back with :func:`sequence_positions` and
:func:`restore_sequence_positions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedkit.stores.quoting import quote_ident, quote_literal
from seedkit.stores.schema import SchemaInfo, reflect_schema

Positions = dict[str, tuple[int, bool]]
"""Quoted sequence name -> ``(last_value, is_called)``, as ``setval(seq, last_value, is_called)`` takes."""


def advance_sequences(conn: Connection, info: SchemaInfo | None = None) -> list[str]:
    """Move every sequence feeding a column of ``info``'s tables past the column's largest value.

    A sequence already beyond it is left alone; an empty table leaves its sequence alone. One
    statement per sequence-fed column, in ``conn``'s transaction. Returns the sequences moved.
    """
    info = reflect_schema(conn) if info is None else info
    moved: list[str] = []
    for table in info.tables.values():
        for column, sequence in table.sequences.items():
            if not isinstance(table.columns[column].type, sa.Integer):
                continue
            found = conn.execute(
                sa.text(
                    f"SELECT setval({quote_literal(sequence)}, m) "
                    f"FROM (SELECT max({quote_ident(column)}) AS m FROM {table.qualified}) AS t, "
                    f"(SELECT last_value, is_called FROM {sequence}) AS s "
                    "WHERE m IS NOT NULL AND (m > s.last_value OR (m = s.last_value AND NOT s.is_called))"
                )
            ).first()
            if found is not None:
                moved.append(sequence)
    return moved


def sequence_positions(conn: Connection, info: SchemaInfo | None = None) -> Positions:
    """Where every sequence feeding ``info``'s tables stands, in one query."""
    info = reflect_schema(conn) if info is None else info
    sequences = sorted({seq for table in info.tables.values() for seq in table.sequences.values()})
    return sequence_positions_of(conn, sequences)


def restore_sequence_positions(conn: Connection, positions: Positions) -> list[str]:
    """Put back the sequences whose position differs from ``positions``; returns them."""
    if not positions:
        return []
    now = sequence_positions_of(conn, list(positions))
    changed = [seq for seq, position in positions.items() if now.get(seq) != position]
    for seq in changed:
        last, called = positions[seq]
        conn.execute(
            sa.text(f"SELECT setval({quote_literal(seq)}, {int(last)}, {'true' if called else 'false'})")
        )
    return changed


def sequence_positions_of(conn: Connection, sequences: list[str]) -> Positions:
    """:func:`sequence_positions` for named (quoted) sequences."""
    if not sequences:
        return {}
    query = " UNION ALL ".join(
        f"SELECT {quote_literal(seq)}, last_value, is_called FROM {seq}" for seq in sorted(sequences)
    )
    return {name: (int(last), bool(called)) for name, last, called in conn.execute(sa.text(query))}


def database_sequences(conn: Connection) -> list[str]:
    """Every sequence of the database (quoted ``schema.name``), but PostgreSQL's own schemas'."""
    rows = conn.execute(
        sa.text(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1, 2"
        )
    )
    return [f"{quote_ident(schema)}.{quote_ident(name)}" for schema, name in rows]


@contextmanager
def sequences_kept(engine: Engine) -> Iterator[Positions]:
    """Record every sequence's ``(last_value, is_called)`` and put them back if the block raises.

    ``setval`` and ``nextval`` are not undone by a ROLLBACK, so a seeding, reset or restore that
    fails (or is interrupted) after moving a sequence would leave it moved although its rows are
    gone. Enter before the first write; on any exception (``KeyboardInterrupt`` included) the
    sequences that still exist are set back in their own committed transaction, then the
    exception goes on. Yields the recorded positions.
    """
    with engine.connect() as conn:
        positions = sequence_positions_of(conn, database_sequences(conn))
        conn.rollback()
    try:
        yield positions
    except BaseException:
        with engine.begin() as conn:
            existing = set(database_sequences(conn))
            restore_sequence_positions(conn, {s: p for s, p in positions.items() if s in existing})
        raise
