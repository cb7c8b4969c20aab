"""Emptying tables: one ``TRUNCATE ... RESTART IDENTITY CASCADE`` statement, guarded.

Used by the truncate isolation strategy, by ``seedkit seed --reset`` and ``seedkit reset``, and
by snapshot restores. ``alembic_version`` is never emptied.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import IsolationError
from seedkit.stores.quoting import qualified
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import EXCLUDED_TABLES, reflect_schema


def url_of(bind: Engine | Connection) -> str:
    """The URL (with password, for the guard only) of an engine or connection."""
    return bind.engine.url.render_as_string(hide_password=False)


def schema_tables(bind: Engine | Connection, schema: str = "public") -> list[str]:
    """The tables :func:`truncate_tables` empties by default: all of ``schema`` but ``alembic_version``."""
    return list(reflect_schema(bind, schema, EXCLUDED_TABLES).tables)


def used_tables(conn: Connection, tables: Sequence[str], schema: str = "public") -> list[str]:
    """The tables among ``tables`` that differ from freshly truncated ones, in one query.

    A table counts when it holds a row, or when a sequence it owns (serial or identity) has been
    used since it was last restarted. Empty, untouched tables are skipped: on a wide schema this
    is what makes a reset cheap (DatabaseCleaner's *pre_count* idea).
    """
    if not tables:
        return []
    probes = [
        f"SELECT {i} AS n WHERE EXISTS (SELECT 1 FROM {qualified(schema, t)})" for i, t in enumerate(tables)
    ]
    non_empty = {int(row[0]) for row in conn.execute(sa.text(" UNION ALL ".join(probes)))}
    moved = set(
        conn.execute(
            sa.text(
                "SELECT t.relname FROM pg_depend d "
                "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
                "JOIN pg_class t ON t.oid = d.refobjid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "JOIN pg_sequences q ON q.schemaname = n.nspname AND q.sequencename = s.relname "
                "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
                "AND d.deptype IN ('a', 'i') AND n.nspname = :schema AND q.last_value IS NOT NULL"
            ),
            {"schema": schema},
        ).scalars()
    )
    return [t for i, t in enumerate(tables) if i in non_empty or t in moved]


def truncate_tables(
    conn: Connection,
    tables: Sequence[str] | None = None,
    *,
    schema: str = "public",
    skip_unused: bool = False,
    allow_unsafe: bool = False,
    lock_timeout: str = "30s",
) -> list[str]:
    """Empty ``tables`` (default: the whole schema but ``alembic_version``) in one statement.

    Runs inside ``conn``'s transaction (the caller commits). Identities restart; tables that
    reference the emptied ones are emptied too (``CASCADE``). Returns the tables named in the
    statement. Refused by the safety guard before anything runs unless the target is a local
    test database or ``allow_unsafe`` is set.
    """
    check_destructive(url_of(conn), action="truncate the tables of", allow_unsafe=allow_unsafe)
    names = [
        t for t in (schema_tables(conn, schema) if tables is None else tables) if t not in EXCLUDED_TABLES
    ]
    if skip_unused:
        names = used_tables(conn, names, schema)
    if not names:
        return []
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
    statement = f"TRUNCATE TABLE {', '.join(qualified(schema, t) for t in names)} RESTART IDENTITY CASCADE"
    try:
        conn.execute(sa.text(statement))
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise IsolationError(
                f"truncate waited more than {lock_timeout} for a table lock: another connection keeps a "
                "transaction open on these tables (look for 'idle in transaction' in pg_stat_activity)"
            ) from None
        raise
    return names
