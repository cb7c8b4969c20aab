"""A PostgreSQL schema found by reflection: tables, keys, and the order to fill them in.

seedkit's packs, truncate, snapshots and fingerprints work on any schema, not only on the
reference domain's models, so they use this reflected view instead of ORM classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedkit.core.volatile import Volatility, sql_volatility
from seedkit.stores.quoting import quote_ident

EXCLUDED_TABLES = ("alembic_version",)
"""Tables no feature touches (bare names, in every schema): Alembic's version table."""

SYSTEM_SCHEMA_PREFIXES = ("pg_", "seedkit_")
"""Schemas never reflected by default: PostgreSQL's own and seedkit's (the changed strategy's copies)."""


@dataclass(frozen=True)
class ColumnInfo:
    """One reflected column.

    ``default`` is the server default's SQL text (``now()``, ``nextval('t_id_seq'::regclass)``...);
    ``identity`` is ``"always"`` or ``"by default"`` for an identity column; ``generated`` marks a
    ``GENERATED ALWAYS AS (...) STORED`` column, which is never written; ``sequence`` is the
    schema-qualified, quoted sequence that feeds the column (serial, identity or a ``nextval``
    default), or None.
    """

    name: str
    type: sa.types.TypeEngine[object]
    nullable: bool
    has_default: bool
    default: str | None = None
    identity: str | None = None
    generated: bool = False
    sequence: str | None = None
    sequence_owned: bool = False
    """Whether :attr:`sequence` belongs to the column (serial, identity), not only named in its default."""

    @property
    def volatile_default(self) -> Volatility | None:
        """``"clock"``/``"random"`` when the server default reads the wall clock or a random source
        (see :mod:`seedkit.core.volatile`); seedkit fills such columns itself."""
        return sql_volatility(self.default)


@dataclass(frozen=True)
class ForeignKeyInfo:
    """A foreign key; ``referred_table`` is the referred table's key in :attr:`SchemaInfo.tables`."""

    name: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    """One reflected table (an ordinary or a partitioned one; partitions are reached through it).

    ``name`` is the bare name, ``schema`` its schema, ``key`` the name seedkit uses for it (the
    bare name in the default schema, ``schema.name`` elsewhere: pack files, ``pg:<key>``
    fingerprint parts), ``kind`` ``"table"`` or ``"partitioned"``.
    """

    name: str
    columns: dict[str, ColumnInfo]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyInfo, ...]
    schema: str = "public"
    key: str = ""
    kind: str = "table"
    unlogged: bool = False

    def fk_nullable(self, fk: ForeignKeyInfo) -> bool:
        return all(self.columns[c].nullable for c in fk.columns)

    @property
    def qualified(self) -> str:
        """The table's quoted, schema-qualified SQL name (``"billing"."invoices"``)."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def writable_columns(self) -> tuple[str, ...]:
        """The columns an INSERT may name (generated columns left out)."""
        return tuple(c.name for c in self.columns.values() if not c.generated)

    @property
    def sequences(self) -> dict[str, str]:
        """Column -> the quoted sequence feeding it, for the columns that have one."""
        return {c.name: c.sequence for c in self.columns.values() if c.sequence is not None}


@dataclass
class SchemaInfo:
    """The reflected tables of an application's PostgreSQL schemas, by :attr:`TableInfo.key`.

    ``schema`` is the default schema (whose tables go by their bare names), ``schemas`` every
    reflected one.
    """

    schema: str
    tables: dict[str, TableInfo] = field(default_factory=dict)
    schemas: tuple[str, ...] = ()

    def qualified(self, key: str) -> str:
        """The quoted SQL name of the table seedkit calls ``key``; KeyError for an unknown one."""
        return self.tables[key].qualified

    def _edges(self, skip: set[tuple[str, str]], within: set[str]) -> dict[str, set[str]]:
        """table -> tables it references (parents) among ``within``, ignoring self-references and ``skip``."""
        return {
            name: {
                fk.referred_table
                for fk in self.tables[name].foreign_keys
                if fk.referred_table != name and fk.referred_table in within and (name, fk.name) not in skip
            }
            for name in within
        }

    def cycle_breakers(self, tables: Iterable[str] | None = None) -> set[tuple[str, str]]:
        """Foreign keys ``(table, fk_name)`` to insert as NULL and set by UPDATE afterwards.

        Self-references are always among them; for cycles between tables, nullable foreign
        keys are picked until the remaining graph has no cycle. Only ``tables`` (default: all)
        are considered, so a cycle elsewhere in the schema does not matter.
        """
        within = set(self.tables if tables is None else tables) & set(self.tables)
        breakers = {
            (name, fk.name)
            for name in within
            for fk in self.tables[name].foreign_keys
            if fk.referred_table == name
        }
        while True:
            cycle = _find_cycle(self._edges(breakers, within))
            if cycle is None:
                return breakers
            for child, parent in zip(cycle, cycle[1:] + cycle[:1], strict=True):
                table = self.tables[child]
                candidates = [
                    fk for fk in table.foreign_keys if fk.referred_table == parent and table.fk_nullable(fk)
                ]
                if candidates:
                    breakers.add((child, candidates[0].name))
                    break
            else:
                raise ValueError(f"foreign-key cycle with no nullable key: {' -> '.join(cycle)}")

    def insertion_order(self, tables: Iterable[str] | None = None) -> list[str]:
        """Tables with parents before children (cycles broken by :meth:`cycle_breakers`), by name otherwise."""
        wanted = set(self.tables if tables is None else tables) & set(self.tables)
        edges = self._edges(self.cycle_breakers(wanted), wanted)
        order: list[str] = []
        done: set[str] = set()
        while len(done) < len(edges):
            ready = sorted(t for t, parents in edges.items() if t not in done and parents <= done)
            if not ready:  # pragma: no cover - cycle_breakers guarantees progress
                raise ValueError("foreign-key cycle could not be broken")
            order.extend(ready)
            done.update(ready)
        return order

    def dependents(self, tables: Iterable[str]) -> set[str]:
        """``tables`` and every table whose foreign keys reach them, directly or not."""
        result = set(tables)
        changed = True
        while changed:
            changed = False
            for name, table in self.tables.items():
                if name not in result and any(fk.referred_table in result for fk in table.foreign_keys):
                    result.add(name)
                    changed = True
        return result


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph as a list of nodes (each referencing the next), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for parent in sorted(edges.get(node, ())):
            if state.get(parent) == 1:
                return path[path.index(parent) :]
            if parent not in state and (found := visit(parent)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def application_schemas(bind: Connection | Engine) -> tuple[str, ...]:
    """The schemas an application's tables live in, found from the database.

    Every schema but PostgreSQL's own (``pg_*``, ``information_schema``), seedkit's
    (``seedkit_*``) and those an extension owns, that holds an ordinary or partitioned table;
    the current schema (``public`` usually) first even when empty, the others by name.
    """
    with bind.connect() if isinstance(bind, Engine) else nullcontext(bind) as conn:
        current_schema = conn.execute(sa.text("SELECT current_schema()")).scalar() or "public"
        found = conn.execute(
            sa.text(
                "SELECT n.nspname FROM pg_namespace n "
                "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
                "AND n.nspname NOT LIKE 'seedkit\\_%' "
                "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass "
                "  AND d.objid = n.oid AND d.deptype = 'e') "
                "AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')) "
                "ORDER BY n.nspname"
            )
        ).scalars()
        return (current_schema, *(name for name in found if name != current_schema))


def reflect_schema(
    bind: Connection | Engine,
    schema: str | Sequence[str] | None = None,
    exclude: Iterable[str] = EXCLUDED_TABLES,
) -> SchemaInfo:
    """Reflect the tables of ``schema`` (one name, several, or None: :func:`application_schemas`).

    The first schema is the default one (bare table keys). Ordinary and partitioned tables are
    reflected, partitions are not (they are reached through their parent); views, materialized
    views and foreign tables are left alone. Foreign keys between reflected schemas are kept,
    those to other schemas dropped. ``exclude`` names bare table names skipped in every schema.
    """
    with bind.connect() if isinstance(bind, Engine) else nullcontext(bind) as conn:
        return _reflect(conn, reflect_table_names(conn, schema, exclude))


def reflect_table_names(
    conn: Connection,
    schema: str | Sequence[str] | None = None,
    exclude: Iterable[str] = EXCLUDED_TABLES,
) -> SchemaInfo:
    """The tables :func:`reflect_schema` reflects, by name only, in one catalog query (two when
    ``schema`` is None).

    Each :class:`TableInfo` has its name, schema, key, kind and persistence, but no columns and
    no keys: for work that only names tables (a snapshot's COPY) while the full reflection,
    about ten times as long, runs on another connection.
    """
    if schema is None:
        schemas = application_schemas(conn)
    elif isinstance(schema, str):
        schemas = (schema,)
    else:
        schemas = tuple(dict.fromkeys(schema))
    default_schema = schemas[0] if schemas else "public"
    info = SchemaInfo(schema=default_schema, schemas=schemas)
    excluded = set(exclude)
    relations = conn.execute(
        sa.text(
            "SELECT n.nspname, c.relname, c.relkind, c.relpersistence FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "ORDER BY n.nspname, c.relname"
        ),
        {"schemas": list(schemas)},
    )
    for nsp, name, relkind, persistence in relations:
        if name not in excluded:
            key = name if nsp == default_schema else f"{nsp}.{name}"
            info.tables[key] = TableInfo(
                name=name,
                columns={},
                primary_key=(),
                foreign_keys=(),
                schema=nsp,
                key=key,
                kind="partitioned" if relkind == "p" else "table",
                unlogged=persistence == "u",
            )
    info.tables = dict(sorted(info.tables.items()))
    return info


def _reflect(conn: Connection, names: SchemaInfo) -> SchemaInfo:
    """The columns and keys of the tables ``names`` lists (:func:`reflect_table_names`)."""
    schemas = names.schemas
    default_schema = names.schema
    info = SchemaInfo(schema=default_schema, schemas=schemas)

    def key_of(schema: str, name: str) -> str:
        return name if schema == default_schema else f"{schema}.{name}"

    sequences = _column_sequences(conn, schemas)
    wanted: dict[str, list[TableInfo]] = {}
    for table in names.tables.values():
        wanted.setdefault(table.schema, []).append(table)
    inspector = sa.inspect(conn)
    search_schema = inspector.default_schema_name or "public"  # SQLAlchemy leaves it out of foreign keys
    for nsp in schemas:
        entries = wanted.get(nsp, [])
        if not entries:
            continue
        filter_names = [table.name for table in entries]
        kinds = sa.engine.reflection.ObjectKind.TABLE
        all_columns = inspector.get_multi_columns(schema=nsp, filter_names=filter_names, kind=kinds)
        all_pks = inspector.get_multi_pk_constraint(schema=nsp, filter_names=filter_names, kind=kinds)
        all_fks = inspector.get_multi_foreign_keys(schema=nsp, filter_names=filter_names, kind=kinds)
        for entry in entries:
            name = entry.name
            columns: dict[str, ColumnInfo] = {}
            for col in all_columns.get((nsp, name), []):
                default = col.get("default")
                identity = col.get("identity")
                sequence, owned = sequences.get((nsp, name, col["name"]), (None, False))
                columns[col["name"]] = ColumnInfo(
                    name=col["name"],
                    type=col["type"],
                    nullable=bool(col["nullable"]),
                    has_default=default is not None or identity is not None or "computed" in col,
                    default=None if default is None else str(default),
                    identity=None
                    if identity is None
                    else ("always" if identity.get("always") else "by default"),
                    generated="computed" in col,
                    sequence=sequence,
                    sequence_owned=owned,
                )
            pk_constraint = all_pks.get((nsp, name))
            pk = tuple(pk_constraint["constrained_columns"] or ()) if pk_constraint else ()
            fks = tuple(
                ForeignKeyInfo(
                    name=fk.get("name") or f"{name}_{'_'.join(fk['constrained_columns'])}_fkey",
                    columns=tuple(fk["constrained_columns"]),
                    referred_table=key_of(fk.get("referred_schema") or search_schema, fk["referred_table"]),
                    referred_columns=tuple(fk["referred_columns"]),
                )
                for fk in all_fks.get((nsp, name), [])
                if (fk.get("referred_schema") or search_schema) in schemas
            )
            info.tables[entry.key] = replace(entry, columns=columns, primary_key=pk, foreign_keys=fks)
    info.tables = dict(sorted(info.tables.items()))
    return info


def _column_sequences(
    conn: Connection, schemas: tuple[str, ...]
) -> dict[tuple[str, str, str], tuple[str, bool]]:
    """(schema, table, column) -> (quoted sequence, owned): owned by the column (serial, identity),
    or named in its default.

    Both come from ``pg_depend``: an owned sequence depends on its column, a ``nextval('s')``
    default on the sequence it names (resolved by the server, whatever the search path).
    """
    rows = conn.execute(
        sa.text(
            "SELECT tn.nspname, t.relname, a.attname, sn.nspname, s.relname, true FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_namespace sn ON sn.oid = s.relnamespace "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
            "AND d.deptype IN ('a', 'i') AND tn.nspname = ANY(:schemas) "
            "UNION "
            "SELECT tn.nspname, t.relname, a.attname, sn.nspname, s.relname, false FROM pg_attrdef ad "
            "JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid "
            "AND d.refclassid = 'pg_class'::regclass "
            "JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S' "
            "JOIN pg_namespace sn ON sn.oid = s.relnamespace "
            "JOIN pg_class t ON t.oid = ad.adrelid "
            "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum "
            "WHERE tn.nspname = ANY(:schemas)"
        ),
        {"schemas": list(schemas)},
    ).all()
    found: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for nsp, table, column, seq_nsp, seq, owned in sorted(rows, key=lambda r: (r[:5], not r[5])):
        found.setdefault((nsp, table, column), (f"{quote_ident(seq_nsp)}.{quote_ident(seq)}", bool(owned)))
    return found
