"""A constraint violation in one line: the table, the constraint, its columns, the offending key.

PostgreSQL reports a violated constraint with error fields that psycopg exposes as
``error.diag`` (``sqlstate``, ``schema_name``, ``table_name``, ``column_name``,
``constraint_name``, ``message_detail``; see "Error message fields" in the PostgreSQL manual).
What they do not say is which columns a CHECK constraint covers, and the detail of a CHECK or
NOT NULL violation is a dump of the whole row (``Failing row contains (...)``). The columns come
from the catalog, ``pg_constraint.conkey``, read by :func:`read_constraints` *before* the first
write: a transaction that failed can no longer read the catalog, and a table created in that
transaction (a migration run inside the seeding's) is gone once it is rolled back.

:func:`describe_violation` turns the error into the line, e.g.::

    table users: CHECK constraint ck_users_role on (role) is violated: CHECK (role IN ('admin', 'customer'))
    table users: unique constraint uq_users_email on (email): the key (email)=(a@x.org) already exists
    users.email is null, but the column is NOT NULL
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"
NOT_NULL_VIOLATION = "23502"
FOREIGN_KEY_VIOLATION = "23503"
EXCLUSION_VIOLATION = "23P01"

_KINDS = {"c": "CHECK", "u": "unique", "p": "primary key", "f": "foreign key", "x": "exclusion"}
_KEY = re.compile(
    r"Key \((?P<columns>.*?)\)=\((?P<values>.*)\) (?P<rest>already exists|is not present in table .*|"
    r"conflicts with existing key .*|is still referenced from table .*?)\.?$",
    re.S,
)


@dataclass(frozen=True)
class Constraint:
    """A table constraint as ``pg_constraint`` describes it.

    Attributes:
        schema: the table's schema.
        table: the table's name.
        name: the constraint's name.
        kind: ``CHECK``, ``unique``, ``primary key``, ``foreign key`` or ``exclusion``.
        columns: the constrained columns, in the constraint's order.
        definition: ``pg_get_constraintdef``: ``CHECK ((total >= 0))``, ``UNIQUE (email)``...
    """

    schema: str
    table: str
    name: str
    kind: str
    columns: tuple[str, ...]
    definition: str


Constraints = dict[tuple[str, str], Constraint]
"""Constraints by ``(schema, constraint name)`` (a constraint's name is unique per table, and
PostgreSQL reports the schema and table with it)."""

_READ = sa.text(
    "SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), "
    "ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.position) "
    "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE k.contype IN ('c', 'u', 'p', 'f', 'x') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
)


def read_constraints(conn: Connection) -> Constraints:
    """Every table constraint of the database's application schemas (one catalog query)."""
    return {
        (schema, name): Constraint(schema, table, name, _KINDS[kind], tuple(columns), definition)
        for schema, table, name, kind, definition, columns in conn.execute(_READ)
    }


def postgres_error(error: BaseException) -> Any:
    """The psycopg error behind ``error`` (SQLAlchemy's ``orig``, or a cause), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) is not None and hasattr(current, "diag"):
            return current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return None


def violated_table(error: BaseException) -> str | None:
    """The table a constraint violation names (``schema.table`` outside ``public``), or None."""
    found = postgres_error(error)
    if found is None or not found.sqlstate.startswith("23"):
        return None
    return _table(found.diag.schema_name, found.diag.table_name)


def _table(schema: str | None, table: str | None) -> str | None:
    if table is None:
        return None
    return table if schema in (None, "public") else f"{schema}.{table}"


def describe_violation(error: BaseException, constraints: Constraints | None = None) -> str | None:
    """One line for a constraint violation (CHECK, unique, NOT NULL, foreign key, exclusion).

    ``constraints`` (from :func:`read_constraints`, read before the write) supplies a CHECK's
    columns and definition; without it the line names the constraint only.

    Returns:
        The line, or None when ``error`` is not a constraint violation PostgreSQL reported.
    """
    found = postgres_error(error)
    if found is None or not found.sqlstate.startswith("23"):
        return None
    diag = found.diag
    table = _table(diag.schema_name, diag.table_name)
    name = diag.constraint_name
    if found.sqlstate == NOT_NULL_VIOLATION and table and diag.column_name:
        return f"{table}.{diag.column_name} is null, but the column is NOT NULL"
    constraint = (constraints or {}).get((diag.schema_name or "public", name)) if name else None
    key = _KEY.match(diag.message_detail or "")
    if (
        found.sqlstate in (CHECK_VIOLATION, UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION, EXCLUSION_VIOLATION)
        and name
    ):
        kind = constraint.kind if constraint else _kind_of(found.sqlstate)
        columns = constraint.columns if constraint else tuple(_columns(key["columns"])) if key else ()
        on = f" on ({', '.join(columns)})" if columns else ""
        where = f"table {table}: " if table else ""
        if found.sqlstate == CHECK_VIOLATION:
            definition = f": {constraint.definition}" if constraint else ""
            return f"{where}{kind} constraint {name}{on} is violated{definition}"
        if key is None:
            return f"{where}{kind} constraint {name}{on} is violated"
        # "already exists", "is not present in table ...", "conflicts with existing key ..."
        said = key["rest"].rstrip(".")
        return f"{where}{kind} constraint {name}{on}: the key ({key['columns']})=({key['values']}) {said}"
    return None


def _kind_of(sqlstate: str) -> str:
    return {
        CHECK_VIOLATION: "CHECK",
        UNIQUE_VIOLATION: "unique",
        FOREIGN_KEY_VIOLATION: "foreign key",
        EXCLUSION_VIOLATION: "exclusion",
    }[sqlstate]


def _columns(listed: str) -> list[str]:
    return [column.strip().strip('"') for column in listed.split(",")]
