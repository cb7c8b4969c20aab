"""A PostgreSQL schema found by reflection: tables, keys, and the order to fill them in.

seedkit's packs, truncate, snapshots and fingerprints work on any schema, not only on the
reference domain's models, so they use this reflected view instead of ORM classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

EXCLUDED_TABLES = ("alembic_version",)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: sa.types.TypeEngine[object]
    nullable: bool
    has_default: bool


@dataclass(frozen=True)
class ForeignKeyInfo:
    name: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyInfo, ...]

    def fk_nullable(self, fk: ForeignKeyInfo) -> bool:
        return all(self.columns[c].nullable for c in fk.columns)


@dataclass
class SchemaInfo:
    """The reflected tables of one PostgreSQL schema (``public`` by default)."""

    schema: str
    tables: dict[str, TableInfo] = field(default_factory=dict)

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


def reflect_schema(
    bind: Connection | Engine, schema: str = "public", exclude: Iterable[str] = EXCLUDED_TABLES
) -> SchemaInfo:
    """Reflect the tables of ``schema`` (without ``exclude``) through SQLAlchemy's inspector.

    Uses the inspector's multi-table methods (``get_multi_columns``, ``get_multi_pk_constraint``,
    ``get_multi_foreign_keys``): one catalog query per kind for the whole schema instead of
    three per table.
    """
    inspector = sa.inspect(bind)
    excluded = set(exclude)
    info = SchemaInfo(schema=schema)
    names = sorted(name for name in inspector.get_table_names(schema=schema) if name not in excluded)
    if not names:
        return info
    all_columns = inspector.get_multi_columns(schema=schema, filter_names=names)
    all_pks = inspector.get_multi_pk_constraint(schema=schema, filter_names=names)
    all_fks = inspector.get_multi_foreign_keys(schema=schema, filter_names=names)
    for name in names:
        key = (schema, name)
        columns = {
            col["name"]: ColumnInfo(
                name=col["name"],
                type=col["type"],
                nullable=bool(col["nullable"]),
                has_default=col.get("default") is not None or col.get("identity") is not None,
            )
            for col in all_columns.get(key, ())
        }
        primary = all_pks.get(key)
        pk = tuple((primary["constrained_columns"] if primary else None) or ())
        fks = tuple(
            ForeignKeyInfo(
                name=fk.get("name") or f"{name}_{'_'.join(fk['constrained_columns'])}_fkey",
                columns=tuple(fk["constrained_columns"]),
                referred_table=fk["referred_table"],
                referred_columns=tuple(fk["referred_columns"]),
            )
            for fk in all_fks.get(key, ())
            if (fk.get("referred_schema") or schema) == schema
        )
        info.tables[name] = TableInfo(name=name, columns=columns, primary_key=pk, foreign_keys=fks)
    return info
