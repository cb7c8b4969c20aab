"""The ``truncate`` strategy: tests commit for real; afterwards every table is emptied.

One ``TRUNCATE ... RESTART IDENTITY CASCADE`` over the schema's tables (never
``alembic_version``), and every Mongo collection emptied (indexes kept). With a ``reseed``
callable the seed data is put back after each reset, so every test starts from it.
Committed data is visible to other processes, which makes it the strategy for end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.isolation.base import Handle, IsolationError, Reseed, committing_handle, guard_stores
from seedkit.stores.mongo_state import clear_collections
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import EXCLUDED_TABLES, reflect_schema


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        f"SELECT {i} AS n WHERE EXISTS (SELECT 1 FROM {_quote(schema)}.{_quote(t)})"
        for i, t in enumerate(tables)
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
    statement = (
        f"TRUNCATE TABLE {', '.join(f'{_quote(schema)}.{_quote(t)}' for t in names)} RESTART IDENTITY CASCADE"
    )
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


def truncate_and_reload(
    engine: Engine,
    mongo: Database[Any] | None = None,
    reseed: Reseed | None = None,
    *,
    tables: Sequence[str] | None = None,
    schema: str = "public",
    skip_unused: bool = False,
    allow_unsafe: bool = False,
) -> None:
    """Empty both stores, then (when given) call ``reseed(engine, mongo)`` to put the seed data back."""
    check_destructive(
        url_of(engine), action="truncate the tables of", allow_unsafe=allow_unsafe
    )  # before connecting
    with engine.begin() as conn:
        truncate_tables(conn, tables, schema=schema, skip_unused=skip_unused, allow_unsafe=allow_unsafe)
    if mongo is not None:
        clear_collections(mongo, allow_unsafe=allow_unsafe)
    if reseed is not None:
        reseed(engine, mongo)


class TruncateStrategy:
    """Real commits; after each test, truncate everything and re-apply ``reseed``.

    Args:
        database_url: the seeded database.
        mongo: the seeded Mongo database, or None.
        reseed: puts the seed data back after each reset (``reseed(engine, mongo)``); without it,
            tests after the first one start from empty stores.
        skip_unused: truncate only tables that hold rows or used their sequences (wide schemas).
        allow_unsafe: lift the safety guard (never for a shared database).
    """

    name: ClassVar[str] = "truncate"

    def __init__(
        self,
        database_url: str,
        mongo: Database[Any] | None = None,
        *,
        reseed: Reseed | None = None,
        skip_unused: bool = False,
        allow_unsafe: bool = False,
        schema: str = "public",
    ) -> None:
        self.database_url = database_url
        self.mongo = mongo
        self.reseed = reseed
        self.skip_unused = skip_unused
        self.allow_unsafe = allow_unsafe
        self.schema = schema
        self._engine: Engine | None = None
        self._tables: list[str] = []

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise IsolationError("TruncateStrategy.prepare() was not called")
        return self._engine

    def prepare(self) -> None:
        guard_stores(
            self.database_url, self.mongo, action="use truncate isolation on", allow_unsafe=self.allow_unsafe
        )
        self._engine = sa.create_engine(self.database_url)
        self._tables = schema_tables(self._engine, self.schema)

    def begin(self) -> Handle:
        return committing_handle(self.database_url, self.engine, self.mongo)

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        self.reset()

    def reset(self) -> None:
        """Empty both stores and re-apply ``reseed``."""
        truncate_and_reload(
            self.engine,
            self.mongo,
            self.reseed,
            tables=self._tables,
            schema=self.schema,
            skip_unused=self.skip_unused,
            allow_unsafe=self.allow_unsafe,
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
