"""The constraints of a PostgreSQL database, read from its system catalogs, for generating rows.

:func:`read_catalog` returns every ordinary and partitioned table outside the system schemas
(partitions are reached through their parent), with what generating rows needs and SQLAlchemy's
inspector does not say in one place: each column's type down to its base (domains, arrays,
enums and their labels, ranges and their subtype, ``varchar(n)``, ``numeric(p, s)``), identity
and generated columns, primary keys, UNIQUE constraints and unique indexes (partial ones with
their predicate), foreign keys (deferrable or not, across schemas) and CHECK constraints as
PostgreSQL prints them (``pg_get_constraintdef``).

Tables are named ``schema.table``, or just ``table`` in ``public``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from seedkit.errors import ConfigError

EXCLUDED_TABLES = ("alembic_version",)


@dataclass(frozen=True)
class PgType:
    """A column's type as generation sees it.

    Attributes:
        name: PostgreSQL's spelling (``format_type``), e.g. ``character varying(40)``.
        base: the base type's ``typname`` (``int4``, ``varchar``, ``timestamptz``...); for a
            domain, its underlying type's; ``enum``, ``array`` or ``range`` for those kinds.
        oid: the type's OID (the domain's base type for a domain).
        length: ``n`` of ``varchar(n)``/``char(n)``, else None.
        precision, scale: of ``numeric(p, s)``, else None.
        labels: an enum's labels, in order.
        element: an array's element type, or a range's subtype.
    """

    name: str
    base: str
    oid: int
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    labels: tuple[str, ...] = ()
    element: PgType | None = None


@dataclass(frozen=True)
class Column:
    """A column: ``identity`` is ``"a"`` (ALWAYS), ``"d"`` (BY DEFAULT) or ``""``; ``default`` as SQL text."""

    name: str
    type: PgType
    not_null: bool
    default: str | None = None
    identity: str = ""
    generated: bool = False

    @property
    def serial(self) -> bool:
        """Filled from a sequence by default (identity or ``serial``)."""
        return bool(self.identity) or (self.default or "").startswith("nextval(")


@dataclass(frozen=True)
class Unique:
    """A primary key, UNIQUE constraint or unique index; ``predicate`` of a partial index (SQL)."""

    name: str
    columns: tuple[str, ...]
    primary: bool = False
    predicate: str | None = None
    expression: bool = False
    """The index has expressions (e.g. ``lower(email)``): ``columns`` are those it reads."""


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of the table reference ``referred_columns`` of ``referred_table``."""

    name: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    deferrable: bool = False


@dataclass(frozen=True)
class Check:
    """A CHECK constraint; ``definition`` as PostgreSQL prints it (``CHECK ((price > (0)::numeric))``)."""

    name: str
    definition: str
    columns: tuple[str, ...]


@dataclass
class Table:
    """One table's columns (in order) and constraints."""

    schema: str
    name: str
    partitioned: bool = False
    columns: dict[str, Column] = field(default_factory=dict)
    uniques: list[Unique] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    partition_strategy: str = ""
    """``r`` (range), ``l`` (list) or ``h`` (hash) for a partitioned table."""
    partition_key: tuple[str, ...] = ()
    partition_bounds: list[str] = field(default_factory=list)
    """Each partition's bound as PostgreSQL prints it (``FOR VALUES FROM ('2024-01-01') TO (...)``)."""

    @property
    def qualified(self) -> str:
        """``schema.name``, or ``name`` in ``public``."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return next((u.columns for u in self.uniques if u.primary), ())

    @property
    def sql_name(self) -> str:
        """The quoted, schema-qualified name for SQL text."""
        return f'"{self.schema}"."{self.name}"'


@dataclass
class Catalog:
    """The tables of a database by qualified name (see :attr:`Table.qualified`)."""

    tables: dict[str, Table] = field(default_factory=dict)

    def table(self, name: str, where: str = "") -> Table:
        """The table called ``name`` (``public.x`` is ``x``); a ConfigError with a "did you mean" otherwise."""
        key = name[len("public.") :] if name.startswith("public.") else name
        found = self.tables.get(key)
        if found is not None:
            return found
        hint = difflib.get_close_matches(key, list(self.tables), n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}table {name!r} does not exist in the database{did_you_mean}")


_TABLES = """
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid, a.attname, a.attnum, a.atttypid, a.atttypmod, a.attnotnull, a.attidentity,
       a.attgenerated, pg_get_expr(d.adbin, d.adrelid), format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(:oids) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_TYPES = """
SELECT t.oid, t.typname, t.typtype, t.typelem, t.typbasetype, t.typtypmod, t.typcategory,
       r.rngsubtype
FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid
WHERE t.oid = ANY(:oids)
"""

_CONSTRAINTS = """
SELECT c.conrelid, c.conname, c.contype, c.conkey, c.confrelid, c.confkey, c.condeferrable,
       pg_get_constraintdef(c.oid), c.conindid
FROM pg_constraint c
WHERE c.conrelid = ANY(:oids) AND c.contype IN ('p', 'u', 'f', 'c') AND c.conparentid = 0
ORDER BY c.conrelid, c.conname
"""

_INDEXES = """
SELECT i.indrelid, ic.relname, i.indkey::int2[], pg_get_expr(i.indpred, i.indrelid),
       i.indexprs IS NOT NULL, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(:oids) AND i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
ORDER BY i.indrelid, ic.relname
"""


_PARTITIONS = """
SELECT p.partrelid, p.partstrat, p.partattrs::int2[], pg_get_expr(c.relpartbound, c.oid)
FROM pg_partitioned_table p
JOIN pg_inherits i ON i.inhparent = p.partrelid
JOIN pg_class c ON c.oid = i.inhrelid
WHERE p.partrelid = ANY(:oids)
ORDER BY p.partrelid, c.relname
"""


def read_catalog(conn: Connection, exclude: tuple[str, ...] = EXCLUDED_TABLES) -> Catalog:
    """The tables of the database on ``conn`` (five catalog queries; no table data is read)."""
    relations = conn.execute(text(_TABLES)).all()
    tables: dict[int, Table] = {}
    for oid, schema, name, kind in relations:
        if name in exclude:
            continue
        tables[oid] = Table(schema=schema, name=name, partitioned=kind == "p")
    oids = list(tables)
    names: dict[int, dict[int, str]] = {oid: {} for oid in oids}
    raw_columns = conn.execute(text(_COLUMNS), {"oids": oids}).all()
    types = _Types(conn)
    types.load({row[3] for row in raw_columns})
    for relid, attname, attnum, typid, typmod, notnull, identity, generated, default, shown in raw_columns:
        names[relid][attnum] = attname
        tables[relid].columns[attname] = Column(
            name=attname,
            type=types.describe(typid, typmod, shown),
            not_null=bool(notnull),
            default=default,
            identity=identity or "",
            generated=bool(generated),
        )
    qualified = {oid: table.qualified for oid, table in tables.items()}
    every = {oid for (oid, *_rest) in relations}
    for relid, conname, contype, conkey, confrelid, confkey, deferrable, definition, _ in conn.execute(
        text(_CONSTRAINTS), {"oids": oids}
    ):
        table = tables[relid]
        columns = tuple(names[relid][k] for k in conkey or ())
        if contype in ("p", "u"):
            table.uniques.append(Unique(conname, columns, primary=contype == "p"))
        elif contype == "c":
            table.checks.append(Check(conname, definition, columns))
        elif confrelid in qualified:
            referred = tuple(names[confrelid][k] for k in confkey)
            table.foreign_keys.append(
                ForeignKey(conname, columns, qualified[confrelid], referred, deferrable=bool(deferrable))
            )
        elif confrelid in every:  # an excluded table: not generated, its rows are what they are
            continue
    for relid, index, keys, predicate, expressions, _definition in conn.execute(
        text(_INDEXES), {"oids": oids}
    ):
        columns = tuple(names[relid][k] for k in keys if k)
        tables[relid].uniques.append(
            Unique(index, columns, predicate=predicate, expression=bool(expressions))
        )
    for relid, strategy, keys, bound in conn.execute(text(_PARTITIONS), {"oids": oids}):
        table = tables[relid]
        table.partition_strategy = strategy
        table.partition_key = tuple(names[relid][k] for k in keys if k)
        table.partition_bounds.append(bound)
    return Catalog({table.qualified: table for table in tables.values()})


class _Types:
    """Type descriptions by OID, resolving domains, arrays, ranges and enum labels."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[int, Any] = {}
        self.labels: dict[int, tuple[str, ...]] = {}

    def load(self, oids: set[int]) -> None:
        wanted = {o for o in oids if o not in self.rows}
        while wanted:
            found = self.conn.execute(text(_TYPES), {"oids": list(wanted)}).all()
            for row in found:
                self.rows[row[0]] = row
            wanted = {
                ref for row in found for ref in (row[3], row[4], row[7]) if ref and ref not in self.rows
            }
        enums = [oid for oid, row in self.rows.items() if row[2] == "e" and oid not in self.labels]
        if enums:
            for typid, labels in self.conn.execute(
                text(
                    "SELECT enumtypid, array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum "
                    "WHERE enumtypid = ANY(:oids) GROUP BY enumtypid"
                ),
                {"oids": enums},
            ):
                self.labels[typid] = tuple(labels)

    def describe(self, oid: int, typmod: int, shown: str | None = None) -> PgType:
        _oid, typname, typtype, typelem, basetype, typtypmod, category, subtype = self.rows[oid]
        shown = shown or typname
        if typtype == "d":
            base = self.describe(basetype, typmod if typmod >= 0 else typtypmod)
            return PgType(
                shown, base.base, base.oid, base.length, base.precision, base.scale, base.labels, base.element
            )
        if typtype == "e":
            return PgType(shown, "enum", oid, labels=self.labels.get(oid, ()))
        if typtype == "r":
            return PgType(shown, "range", oid, element=self.describe(subtype, -1))
        if category == "A" and typelem:
            return PgType(shown, "array", oid, element=self.describe(typelem, typmod))
        length = precision = scale = None
        if typname in ("varchar", "bpchar") and typmod >= 4:
            length = typmod - 4
        elif typname == "numeric" and typmod >= 4:
            precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        return PgType(shown, typname, oid, length, precision, scale)
