"""Emptying tables: one ``TRUNCATE ... RESTART IDENTITY CASCADE`` statement, guarded.

Used by the truncate isolation strategy, by ``seedkit seed --reset`` and ``seedkit reset``, and
by snapshot restores. ``alembic_version`` is never emptied. Tables are named by their keys
(:class:`~seedkit.stores.schema.TableInfo`), over every application schema by default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import ConfigError, IsolationError
from seedkit.stores.baseline import restore_baseline
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import EXCLUDED_TABLES, SchemaInfo, TableInfo, reflect_schema

_LOCK_TIMEOUT = re.compile(r"^[0-9]+(ms|s|min|h)?$")
DEFAULT_LOCK_TIMEOUT = "30s"
"""How long a reset waits for a lock another session holds before it fails (PostgreSQL's ``lock_timeout``)."""


def check_lock_timeout(value: str) -> str:
    """``value`` if it is a PostgreSQL ``lock_timeout`` seedkit accepts (``200ms``, ``30s``, ``1min``...).

    Raises:
        ConfigError: naming the value.
    """
    if not _LOCK_TIMEOUT.match(value):
        raise ConfigError(
            f"lock_timeout must be a number with an optional unit ms, s, min or h (e.g. '30s'), got {value!r}"
        )
    return value


def lock_wait_error(lock_timeout: str) -> IsolationError:
    """The error of a reset that waited ``lock_timeout`` for a lock (SQLSTATE 55P03, lock_not_available)."""
    return IsolationError(
        f"waited more than {lock_timeout} for a table lock: another connection keeps a "
        "transaction open on these tables (look for 'idle in transaction' in pg_stat_activity)"
    )


def url_of(bind: Engine | Connection) -> str:
    """The URL (with password, for the guard only) of an engine or connection."""
    return bind.engine.url.render_as_string(hide_password=False)


Schemas = str | Sequence[str] | None
"""Which schemas: one, several, or None for every application schema (see :func:`application_schemas`)."""


def schema_tables(bind: Engine | Connection, schema: Schemas = None) -> list[str]:
    """The tables :func:`truncate_tables` empties by default: every reflected one but ``alembic_version``.

    Keys as in :class:`~seedkit.stores.schema.TableInfo` (``billing.invoices`` outside the default schema).
    """
    return list(reflect_schema(bind, schema, EXCLUDED_TABLES).tables)


def used_tables(
    conn: Connection, tables: Sequence[str], schema: Schemas = None, info: SchemaInfo | None = None
) -> list[str]:
    """The tables among ``tables`` (keys) that differ from freshly truncated ones, in one query.

    A table counts when it holds a row, or when a sequence that feeds one of its columns
    (serial, identity, ``nextval`` default) has been used since it was last restarted. Empty,
    untouched tables are skipped: on a wide schema this is what makes a reset cheap
    (DatabaseCleaner's *pre_count* idea).
    """
    if not tables:
        return []
    info = reflect_schema(conn, schema, EXCLUDED_TABLES) if info is None else info
    known = [t for t in tables if t in info.tables]
    probes = [
        f"SELECT {i} AS n WHERE EXISTS (SELECT 1 FROM {info.qualified(t)})" for i, t in enumerate(known)
    ]
    non_empty = (
        {int(row[0]) for row in conn.execute(sa.text(" UNION ALL ".join(probes)))} if probes else set()
    )
    sequences = sorted({seq for t in known for seq in info.tables[t].sequences.values()})
    moved: set[str] = set()
    if sequences:
        moved = set(
            conn.execute(
                sa.text(
                    "SELECT s FROM unnest(CAST(:sequences AS text[])) AS s "
                    "WHERE pg_sequence_last_value(CAST(s AS regclass)) IS NOT NULL"
                ),
                {"sequences": sequences},
            ).scalars()
        )
    return [
        t
        for i, t in enumerate(known)
        if i in non_empty or any(seq in moved for seq in info.tables[t].sequences.values())
    ]


def truncate_tables(
    conn: Connection,
    tables: Sequence[str] | None = None,
    *,
    schema: Schemas = None,
    skip_unused: bool = False,
    allow_unsafe: bool = False,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    keep: Sequence[str] = (),
    baseline: bool = True,
    info: SchemaInfo | None = None,
) -> list[str]:
    """Empty ``tables`` (keys; default: every reflected table but ``alembic_version``) in one statement.

    Runs inside ``conn``'s transaction (the caller commits). Identities and the sequences the
    tables use restart; tables that reference the emptied ones are emptied too (``CASCADE``).
    Returns the tables named in the statement. Tables in ``keep`` are left alone; with
    ``baseline``, the rows the migrations wrote are put back (:mod:`seedkit.stores.baseline`).
    Refused by the safety guard before anything runs unless the target is a local test
    database or ``allow_unsafe`` is set. ``info``: the reflected schema, when the caller keeps
    one (a strategy resetting after every test), instead of reflecting again.

    Raises:
        IsolationError: before anything is emptied, when ``CASCADE`` would also empty a table
            that holds rows and is not among those named (a kept table, or one in a schema
            outside ``schema``), naming it and the foreign key; and when a lock is not granted
            within ``lock_timeout``.
    """
    check_destructive(url_of(conn), action="truncate the tables of", allow_unsafe=allow_unsafe)
    info = reflect_schema(conn, schema, EXCLUDED_TABLES) if info is None else info
    names = [t for t in (info.tables if tables is None else tables) if t in info.tables and t not in keep]
    if skip_unused:
        names = used_tables(conn, names, schema, info)
    if not names:
        return []
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{check_lock_timeout(lock_timeout)}'"))
    _refuse_cascade_beyond(conn, info, names, keep)
    statement = f"TRUNCATE TABLE {', '.join(info.qualified(t) for t in names)} RESTART IDENTITY CASCADE"
    try:
        conn.execute(sa.text(statement))
        _restart_default_sequences(conn, [info.tables[t] for t in names])
        if baseline:
            restore_baseline(conn, info, sorted(info.dependents(names)))  # CASCADE emptied those too
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise lock_wait_error(lock_timeout) from None
        raise
    return names


def _restart_default_sequences(conn: Connection, tables: Sequence[TableInfo]) -> None:
    """Restart the sequences named in ``nextval`` defaults (``RESTART IDENTITY`` only restarts owned ones)."""
    sequences = sorted(
        {
            c.sequence
            for table in tables
            for c in table.columns.values()
            if c.sequence and not c.sequence_owned
        }
    )
    for sequence in sequences:
        conn.execute(sa.text(f"ALTER SEQUENCE {sequence} RESTART"))


_REFERENCING = sa.text(
    """
    WITH RECURSIVE emptied(oid) AS (
        SELECT coalesce(pg_partition_root(t), t) FROM unnest(CAST(:tables AS regclass[])) AS t
        UNION
        SELECT coalesce(pg_partition_root(c.conrelid), c.conrelid)
        FROM pg_constraint c JOIN emptied e ON coalesce(pg_partition_root(c.confrelid), c.confrelid) = e.oid
        WHERE c.contype = 'f'
    ), via(oid, constraint_name, referred) AS (
        SELECT DISTINCT ON (coalesce(pg_partition_root(c.conrelid), c.conrelid))
               coalesce(pg_partition_root(c.conrelid), c.conrelid), c.conname,
               CAST(coalesce(pg_partition_root(c.confrelid), c.confrelid) AS regclass)
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND coalesce(pg_partition_root(c.confrelid), c.confrelid) IN (SELECT oid FROM emptied)
        ORDER BY coalesce(pg_partition_root(c.conrelid), c.conrelid), c.conname
    )
    SELECT CAST(CAST(e.oid AS regclass) AS text), v.constraint_name, CAST(v.referred AS text)
    FROM emptied e JOIN via v ON v.oid = e.oid
    WHERE e.oid <> ALL (SELECT coalesce(pg_partition_root(t), t) FROM unnest(CAST(:managed AS regclass[])) AS t)
    ORDER BY 1
    """
)


def _refuse_cascade_beyond(
    conn: Connection, info: SchemaInfo, names: Sequence[str], keep: Sequence[str]
) -> None:
    """Refuse when ``TRUNCATE ... CASCADE`` of ``names`` would empty rows seedkit does not manage.

    ``CASCADE`` empties every table whose foreign keys reach the named ones, in any schema. The
    reflected tables (``info``) are seedkit's to reset, but a table left out on purpose (in
    ``keep``, or in a schema outside the configured ``schemas``) would lose its rows without a
    word. One catalog query finds those tables (partitions counted as their partitioned table);
    only the ones holding a row are refused, since emptying an empty table changes nothing.
    """
    managed = [info.qualified(t) for t in info.tables if t not in keep]
    rows = conn.execute(
        _REFERENCING, {"tables": [info.qualified(t) for t in names], "managed": managed}
    ).all()
    for table, constraint, referred in rows:
        if conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar():
            raise IsolationError(
                f"emptying {referred} would also empty {table} (foreign key {constraint} references it), "
                f"which holds rows and is not among the tables seedkit resets: add its schema to "
                "`schemas`, take it out of `keep`, or drop that foreign key"
            )
