"""Columns the database fills as a row is written (server defaults), read before bulk writes them.

The per-object path flushes each object as it is created; PostgreSQL fills the columns the
INSERT leaves out (``server_default="draft"``, ``DEFAULT upper('x')``, a trigger's key) and the
ORM reads them back, so a later declaration reading ``o.account.status`` sees the database's
value. The bulk paths write a chunk at a time, so they know such a value before writing only
where it is provably the one the database would give:

- :func:`constant_defaults` finds the server defaults made only of constants, type coercions and
  immutable functions and operators (PostgreSQL's stored expression tree, ``pg_attrdef.adbin``,
  has no other node and every function it names is ``IMMUTABLE`` in ``pg_proc``), and evaluates
  each once in the database, read through the column's type as the ORM reads it: the bulk
  paths then fill and write that value, as a Python ``default=`` (same rows, since the database
  would have written the same value). ``now()``, ``CURRENT_USER``, ``random()``, ``nextval`` and
  text-to-timestamp casts (which depend on the session's time zone) are not constant. Clock
  and random defaults are not seen here: seedkit fills them from the injected clock and IDs
  (:mod:`seedkit.core.volatile`).
- any other column the database fills (and a key no sequence can reserve, see
  :mod:`seedkit.bulk.keys`) is refused when a declaration or hook reads it before its row is
  written (:class:`ServerValueUnknown`, one line naming the volume's factory, the model, the
  column and the factory to set it in), on both bulk paths: never read as ``None`` where the
  per-object path reads the database's value. Columns nothing reads are left to the database.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seedkit.errors import FactoryError
from seedkit.stores.quoting import qualified

CONSTANT_NODES = frozenset({"CONST", "FUNCEXPR", "OPEXPR", "RELABELTYPE", "ARRAYEXPR", "BOOLEXPR"})
"""The expression-tree nodes a constant default may have (functions and operators: immutable ones)."""

_NODE = re.compile(r"\{(\w+)")
_FUNCTION = re.compile(r":(?:op)?funcid (\d+)")


class ServerValueUnknown(FactoryError):
    """A column the database fills as the row is written was read before bulk seeding wrote it,
    and its value is not provably known before (see the module docstring)."""


def constant_defaults(connection: Connection, table: sa.Table) -> dict[str, Any]:
    """The values of ``table``'s server defaults that are constant, by column name.

    Two or three queries: the stored defaults (``pg_attrdef``), the volatility of the functions
    they call (``pg_proc.provolatile``), and one ``SELECT`` evaluating the constant ones, each
    read through its column's SQLAlchemy type (its result processor, as an ORM load).
    Columns without a default, generated columns and identity columns are not included.
    """
    found = connection.execute(
        sa.text(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), d.adbin::text FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = CAST(:t AS regclass) AND a.attgenerated = '' AND a.attidentity = ''"
        ),
        {"t": qualified(table.schema, table.name)},
    ).all()
    candidates = [
        (name, sql, tree)
        for name, sql, tree in found
        if name in table.columns and set(_NODE.findall(tree)) <= CONSTANT_NODES
    ]
    functions = {int(oid) for _, _, tree in candidates for oid in _FUNCTION.findall(tree)}
    immutable: set[int] = set()
    if functions:
        immutable = set(
            connection.execute(
                sa.text("SELECT oid::int FROM pg_proc WHERE oid = ANY(:oids) AND provolatile = 'i'"),
                {"oids": sorted(functions)},
            ).scalars()
        )
    constant = [
        (name, sql)
        for name, sql, tree in candidates
        if {int(oid) for oid in _FUNCTION.findall(tree)} <= immutable
    ]
    if not constant:
        return {}
    labels = [f"c{i}" for i in range(len(constant))]
    query = sa.text(
        "SELECT " + ", ".join(f"({sql}) AS {label}" for (_, sql), label in zip(constant, labels, strict=True))
    )
    typed = query.columns(
        *(
            sa.column(label, table.columns[name].type)
            for (name, _), label in zip(constant, labels, strict=True)
        )
    )
    row = connection.execute(typed).one()
    return {name: value for (name, _), value in zip(constant, row, strict=True)}


def describe(column: sa.Column[Any]) -> str:
    """How the database fills ``column``: its default's SQL, identity, serial or sequence."""
    if column.identity is not None:
        return "an identity"
    if isinstance(column.default, sa.Sequence):
        return f"the sequence {column.default.name}"
    server_default = column.server_default
    if isinstance(server_default, sa.DefaultClause):
        arg = server_default.arg
        text = (
            arg.text
            if isinstance(arg, sa.TextClause)
            else repr(str(arg))
            if isinstance(arg, str)
            else str(arg)
        )
        return f"DEFAULT {text}"
    if column is column.table.autoincrement_column:
        return "serial"
    return "a trigger or default"
