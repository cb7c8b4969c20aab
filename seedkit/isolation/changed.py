"""The ``changed`` isolation strategy: after each test, put back only the rows it changed.

Resets that scale with what a test touched, done server-side.

:func:`install_change_tracking` keeps, next to the seeded tables, a server-side copy of every
table of every application schema (schema ``seedkit_seed``, one copy per table named
``schema.table``) and a log of changed primary keys (schema ``seedkit_changes``), filled by
statement-level triggers with transition tables: an ``INSERT``, ``UPDATE`` or ``DELETE`` logs
the keys it touched, a ``TRUNCATE`` (or a change to a table without a primary key, or a write
straight into a partition rather than through its partitioned table) marks the whole table.
The triggers run in the writer's transaction, so they see writes from every connection (a
server under test in another process included) and a rolled-back write leaves no entry.

:meth:`ChangeTracker.restore` then, in one transaction with triggers and foreign-key checks
off (``session_replication_role = replica``), deletes the logged keys and inserts the seeded
version of those keys back from the copy, rewinds sequences that moved, and clears the log.
A test that wrote 10 rows costs about 10 rows of work, whatever the size of the database.

:class:`ChangedRowsStrategy` wraps this in the isolation-strategy interface of
:mod:`seedkit.isolation` (real commits, visible to other processes); see docs/isolation-changed.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import SeedkitError
from seedkit.isolation.base import Handle, committing_handle, guard_stores
from seedkit.stores.mongo_state import MongoBaseline
from seedkit.stores.quoting import quote_ident, quote_literal
from seedkit.stores.schema import application_schemas, reflect_schema
from seedkit.stores.truncate import DEFAULT_LOCK_TIMEOUT, check_lock_timeout, lock_wait_error

LOG_SCHEMA = "seedkit_changes"
COPY_SCHEMA = "seedkit_seed"


def _script(conn: Connection, sql: str) -> None:
    """Run several statements in one round trip, in ``conn``'s transaction (no placeholders)."""
    conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]


_FUNCTIONS = f"""
CREATE FUNCTION {LOG_SCHEMA}.log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('INSERT INTO {LOG_SCHEMA}.log SELECT %s, jsonb_build_array(%s) FROM old_rows',
                       TG_RELID, TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format('INSERT INTO {LOG_SCHEMA}.log SELECT %s, jsonb_build_array(%s) FROM new_rows',
                       TG_RELID, TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION {LOG_SCHEMA}.log_table() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a partition's trigger names its partitioned table (the one that is copied and restored)
    INSERT INTO {LOG_SCHEMA}.log VALUES (coalesce(CAST(TG_ARGV[0] AS oid), TG_RELID), NULL);
    RETURN NULL;
END $$;
"""


@dataclass(frozen=True)
class _Table:
    schema: str
    name: str
    columns: tuple[str, ...]  # insertable columns (generated ones left out)
    key: tuple[tuple[str, str], ...]  # primary key: (column, SQL type)
    label: str  # seedkit's name for it: bare in the default schema, ``schema.table`` elsewhere
    oid: int  # how the log names it
    partitions: tuple[str, ...] = ()  # a partitioned table's partitions (quoted SQL names), at every level

    @property
    def qualified(self) -> str:
        """The quoted, schema-qualified SQL name."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def copy(self) -> str:
        """The quoted name of its copy in ``seedkit_seed``: ``"schema.table"`` (hashed when too long)."""
        name = f"{self.schema}.{self.name}"
        if len(name.encode()) > 63:  # PostgreSQL's identifier limit: never truncated into another's name
            name = (
                name.encode()[:50].decode(errors="ignore")
                + "_"
                + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
            )
        return f"{COPY_SCHEMA}.{quote_ident(name)}"


Schemas = str | Sequence[str] | None
"""Which schemas are tracked: one name, several, or None for every application schema
(:func:`seedkit.stores.schema.application_schemas`)."""


def _tables(conn: Connection, schema: Schemas) -> list[_Table]:
    info = reflect_schema(conn, schema)
    found = []
    for table in info.tables.values():
        rows = conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod), attgenerated <> '' FROM pg_attribute "
                "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": table.qualified},
        ).all()
        types = {column: sql_type for column, sql_type, _ in rows}
        columns = tuple(column for column, _, generated in rows if not generated)
        key = tuple((column, types[column]) for column in table.primary_key)
        partitions: tuple[str, ...] = ()
        if table.kind == "partitioned":
            partitions = tuple(
                conn.execute(
                    sa.text(
                        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_partition_tree(CAST(:t AS regclass)) p "
                        "JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE p.level > 0 ORDER BY 1"
                    ),
                    {"t": table.qualified},
                ).scalars()
            )
        oid = conn.execute(
            sa.text("SELECT CAST(CAST(:t AS regclass) AS oid)"), {"t": table.qualified}
        ).scalar_one()
        found.append(_Table(table.schema, table.name, columns, key, table.key, int(oid), partitions))
    return found


def install_change_tracking(conn: Connection, schema: Schemas = None) -> None:
    """Copy every table of ``schema`` (default: every application schema) server-side and log
    changed keys from now on (replaces a previous install).

    Call it on the seeded database, in a transaction the caller commits.
    """
    remove_change_tracking(conn)
    conn.execute(sa.text(f"CREATE SCHEMA {LOG_SCHEMA}"))
    conn.execute(sa.text(f"CREATE SCHEMA {COPY_SCHEMA}"))
    conn.execute(sa.text(f"CREATE TABLE {LOG_SCHEMA}.log (relid oid NOT NULL, key jsonb)"))
    _script(conn, _FUNCTIONS)
    for table in _tables(conn, schema):
        source, copy = table.qualified, table.copy
        columns = ", ".join(map(quote_ident, table.columns))
        conn.execute(sa.text(f"CREATE UNLOGGED TABLE {copy} AS SELECT {columns} FROM {source}"))
        if table.key:
            keys = ", ".join(quote_ident(c) for c, _ in table.key)
            conn.execute(sa.text(f"ALTER TABLE {copy} ADD PRIMARY KEY ({keys})"))
            for event, transition in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
            ):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER seedkit_log_{event.lower()} AFTER {event} ON {source} "
                        f"REFERENCING {transition} FOR EACH STATEMENT "
                        f"EXECUTE FUNCTION {LOG_SCHEMA}.log_rows({quote_literal(keys)})"
                    )
                )
            events = "TRUNCATE"
        else:
            events = "INSERT OR UPDATE OR DELETE OR TRUNCATE"
        conn.execute(
            sa.text(
                f"CREATE TRIGGER seedkit_log_table AFTER {events} ON {source} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {LOG_SCHEMA}.log_table()"
            )
        )
        for partition in table.partitions:  # a write naming a partition fires only its own triggers
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER seedkit_log_partition AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                    f"ON {partition} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION {LOG_SCHEMA}.log_table({quote_literal(str(table.oid))})"
                )
            )
    conn.execute(sa.text(f"ANALYZE {LOG_SCHEMA}.log"))


def remove_change_tracking(conn: Connection, schema: Schemas = None) -> None:
    """Drop the triggers, the log and the copy (the tables themselves are not touched)."""
    conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {LOG_SCHEMA} CASCADE"))  # its functions' triggers too
    conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {COPY_SCHEMA} CASCADE"))


@dataclass(frozen=True)
class _Sequence:
    name: str  # quoted, schema-qualified
    last_value: int | None
    start_value: int


def _sequences(conn: Connection, schemas: Sequence[str]) -> list[_Sequence]:
    rows = conn.execute(
        sa.text(
            "SELECT format('%I.%I', schemaname, sequencename), last_value, start_value FROM pg_sequences "
            "WHERE schemaname = ANY(:s) ORDER BY 1"
        ),
        {"s": list(schemas)},
    ).all()
    return [_Sequence(name, last, start) for name, last, start in rows]


class ChangeTracker:
    """The restore plan of one database: statements per table, the seeded sequence values.

    ``schema``: the schemas tracked (as :func:`install_change_tracking` was given them).
    """

    def __init__(self, conn: Connection, schema: Schemas = None) -> None:
        tables = _tables(conn, schema)
        self.schemas = (
            application_schemas(conn)
            if schema is None
            else (schema,)
            if isinstance(schema, str)
            else tuple(schema)
        )
        self.tables = {table.oid: table for table in tables}
        self.sequences = _sequences(conn, self.schemas)

    def restore(self, conn: Connection, *, lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> list[str]:
        """Put the changed rows back as seeded; returns the tables that had changes (bare names in
        the default schema, ``schema.table`` elsewhere).

        Runs in the caller's transaction (commit it); needs the right to set
        ``session_replication_role`` (a superuser, as in test databases). Waits at most
        ``lock_timeout`` for a row or table lock another session holds.

        Raises:
            IsolationError: a lock was not granted within ``lock_timeout``.
        """
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{check_lock_timeout(lock_timeout)}'"))
        changed = conn.execute(
            sa.text(
                f"SELECT relid, CAST(relid AS regclass)::text, bool_or(key IS NULL) FROM {LOG_SCHEMA}.log "
                "GROUP BY 1 ORDER BY 1"
            )
        ).all()
        statements = []
        for relid, name, whole in changed:
            table = self.tables.get(relid)
            if table is None:
                raise SeedkitError(f"table {name} changed but was not tracked: install change tracking again")
            statements += self._statements(table, whole=bool(whole))
        moved = self._moved_sequences(conn)
        if not statements and not moved:
            return []
        script = ["SET LOCAL session_replication_role = replica", *statements, *moved]
        if statements:
            script.append(f"DELETE FROM {LOG_SCHEMA}.log")
        try:
            _script(conn, ";\n".join(script))
        except psycopg.errors.LockNotAvailable:
            raise lock_wait_error(lock_timeout) from None
        return sorted(self.tables[relid].label for relid, _, _ in changed)

    def _statements(self, table: _Table, *, whole: bool) -> list[str]:
        target, copy = table.qualified, table.copy
        columns = ", ".join(map(quote_ident, table.columns))
        insert = f"INSERT INTO {target} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {copy}"
        if whole or not table.key:
            return [f"DELETE FROM {target}", insert]
        key_columns = "(" + ", ".join(quote_ident(c) for c, _ in table.key) + ")"
        logged = (
            "(SELECT DISTINCT "
            + ", ".join(f"CAST(key->>{i} AS {sql_type})" for i, (_, sql_type) in enumerate(table.key))
            + f" FROM {LOG_SCHEMA}.log WHERE relid = {table.oid})"
        )
        return [
            f"DELETE FROM {target} WHERE {key_columns} IN {logged}",
            f"{insert} WHERE {key_columns} IN {logged}",
        ]

    def _moved_sequences(self, conn: Connection) -> list[str]:
        now = {s.name: s.last_value for s in _sequences(conn, self.schemas)}
        statements = []
        for seeded in self.sequences:
            if now.get(seeded.name, seeded.last_value) == seeded.last_value:
                continue
            sequence = quote_literal(seeded.name)
            if seeded.last_value is None:
                statements.append(f"SELECT setval({sequence}, {seeded.start_value}, false)")
            else:
                statements.append(f"SELECT setval({sequence}, {seeded.last_value}, true)")
        return statements


class ChangedRowsStrategy:
    """Real commits; after each test, only the rows it changed are put back (see the module docstring).

    Args:
        database_url: the seeded database (committed before :meth:`prepare`).
        mongo: the seeded Mongo database, or None (restored from an in-memory copy after each test).
        allow_unsafe: lift the safety guard (never for a shared database).
        schema: the PostgreSQL schemas holding the seeded tables: one name, several, or None
            (the default) for every application schema.
        lock_timeout: how long a reset waits for a lock another session holds (PostgreSQL's
            ``lock_timeout``); then it fails with :class:`IsolationError`.
    """

    name: ClassVar[str] = "changed"

    def __init__(
        self,
        database_url: str,
        mongo: Database[Any] | None = None,
        *,
        allow_unsafe: bool = False,
        schema: Schemas = None,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.database_url = database_url
        self.lock_timeout = check_lock_timeout(lock_timeout)
        self.mongo = mongo
        self.allow_unsafe = allow_unsafe
        self.schema = schema
        self._engine: Engine | None = None
        self._tracker: ChangeTracker | None = None
        self._baseline: MongoBaseline | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise SeedkitError("ChangedRowsStrategy.prepare() was not called")
        return self._engine

    def prepare(self) -> None:
        """Copy the seeded tables server-side and start logging changes."""
        guard_stores(
            self.database_url,
            self.mongo,
            action="use changed-rows isolation on",
            allow_unsafe=self.allow_unsafe,
        )
        if self.mongo is not None:
            self._baseline = MongoBaseline.capture(self.mongo)
        self._engine = sa.create_engine(self.database_url)
        with self._engine.begin() as conn:
            try:
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            except sa.exc.DBAPIError as exc:
                raise SeedkitError(
                    "changed-rows isolation restores with triggers off (session_replication_role), which this "
                    "database user may not set: connect as a superuser, or use the truncate or snapshot strategy"
                ) from exc
        self._track()

    def _track(self) -> None:
        """Take the database's current content as the seeded state and start logging changes."""
        with self.engine.begin() as conn:
            install_change_tracking(conn, self.schema)
            self._tracker = ChangeTracker(conn, self.schema)

    def _tracking_installed(self) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(sa.text(f"SELECT to_regclass('{LOG_SCHEMA}.log')")).scalar()
        return found is not None

    def begin(self) -> Handle:
        return committing_handle(self.database_url, self.engine, self.mongo)

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        self.reset()

    def reset(self) -> list[str]:
        """Put back what changed since the seeded state; returns the tables that had changes.

        A database found without the change log (renamed away and replaced by a fresh clone of
        the seeded template, as the pytest plugin does to keep a failed test's database) is
        taken as seeded and tracked again.
        """
        if self._tracker is None:
            raise SeedkitError("ChangedRowsStrategy.prepare() was not called")
        try:
            with self.engine.begin() as conn:
                changed = self._tracker.restore(conn, lock_timeout=self.lock_timeout)
        except sa.exc.ProgrammingError:
            if self._tracking_installed():
                raise
            self._track()  # the database was replaced by a seeded copy (the plugin's keep-failed)
            changed = []
        if self.mongo is not None and self._baseline is not None:
            self._baseline.restore(self.mongo, allow_unsafe=self.allow_unsafe)
        return changed

    def close(self) -> None:
        """Remove the triggers, log and copy (the seeded data stays), and release the engine."""
        if self._engine is not None:
            with self._engine.begin() as conn:
                remove_change_tracking(conn, self.schema)
            self._engine.dispose()
            self._engine = None
            self._tracker = None
