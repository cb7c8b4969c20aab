"""Turning records into the exact rows and documents to write: IDs, references, types, factories, times.

The same resolution serves validation (:meth:`Planner.check`, no factory is run) and loading
(:meth:`Planner.row`). A PostgreSQL record becomes a row of the reflected table: references
become the referenced record's ID, values are converted to the column's type, a factory (if
named) fills what the record leaves out, and missing NOT NULL date-time columns take the
injected clock's time. A Mongo record becomes a document whose ``_id`` is its label's ObjectId.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

from bson import Decimal128

from seedkit.core.clock import Clock
from seedkit.core.volatile import injected_value, sql_size
from seedkit.errors import PackError
from seedkit.packs.builders import Built, build, factories_in, factory_names, find_factory
from seedkit.packs.coerce import coerce, is_structured, is_time_type, parse_json_text
from seedkit.packs.labels import MONGO_ID, Labels
from seedkit.packs.model import MONGO, POSTGRES, Record
from seedkit.packs.values import Ref, RelativeTime, parse_value, refs_in
from seedkit.stores.schema import ColumnInfo, SchemaInfo, TableInfo


@dataclass(eq=False)
class Row:
    """What one record writes: column values (or a document) and the records it must follow."""

    record: Record
    values: dict[str, Any]
    parents: dict[str, Record] = field(default_factory=dict)
    """Foreign-key column -> the PostgreSQL record its reference points to (to insert first)."""
    primary_key: tuple[str, ...] = ()


class Planner:
    """Resolves records against the labels, the reflected schema, the clock and the factories."""

    def __init__(
        self, labels: Labels, schema: SchemaInfo | None, clock: Clock, modules: Sequence[ModuleType] = ()
    ) -> None:
        self.labels = labels
        self.schema = schema
        self.clock = clock
        self.modules = list(modules)

    # -- validation -------------------------------------------------------------------------

    def check(self, record: Record) -> list[PackError]:
        """Every problem of ``record`` that can be found without building or writing it."""
        problems: list[PackError] = []
        factory_fields: set[str] = set()
        if record.factory is not None:
            try:
                declarations, parameters = factory_names(self.factory(record))
                factory_fields = declarations | parameters
                for trait in record.traits:
                    if trait not in parameters:
                        known = ", ".join(sorted(parameters)) or "none"
                        problems.append(
                            record.error(
                                f"unknown trait {trait!r} of {record.factory} (known: {known})", "_traits"
                            )
                        )
            except PackError as exc:
                problems.append(exc)
        elif record.traits:
            problems.append(record.error("traits need a factory (_factory)", "_traits"))
        table = self._table(record)
        for name, raw in record.fields.items():
            try:
                if table is None:
                    self._deep(
                        record, name, raw, mongo=record.store == MONGO, need_ids=self.schema is not None
                    )
                elif name in table.columns and table.columns[name].generated:
                    raise record.error("is a generated column: the database computes its value", name)
                elif name in table.columns:
                    self._column_value(record, table.columns[name], raw)
                elif name in factory_fields:
                    self._deep(record, name, raw, mongo=False)
                else:
                    raise record.error(
                        f"unknown column of table {table.key!r} (columns: {', '.join(table.columns)})", name
                    )
            except PackError as exc:
                problems.append(exc)
        if table is not None:
            try:
                self._id(record, table)
            except PackError as exc:
                problems.append(exc)
            if record.factory is None:
                given = set(record.fields) | set(self._pk_filled(table))
                problems.extend(
                    record.error(reason, column) for column, reason in self._missing(table, given)
                )
        elif record.store == MONGO and self.schema is not None:
            try:
                self.labels.id_of(record, self.clock)
            except PackError as exc:
                problems.append(exc)
        return problems

    # -- loading ----------------------------------------------------------------------------

    def row(self, record: Record) -> Row:
        """The row or document ``record`` writes (runs its factory, reads the clock)."""
        if record.store == MONGO:
            return self._document(record)
        table = self._table(record)
        if table is None:  # validation reports unknown tables before loading
            raise record.error(f"unknown table {record.table!r}")
        given: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        parents: dict[str, Record] = {}
        foreign_key_columns = {column for fk in table.foreign_keys for column in fk.columns}
        for name, raw in record.fields.items():
            if name in table.columns:
                given[name] = self._column_value(record, table.columns[name], raw)
                if isinstance(raw, Ref) and name in foreign_key_columns:
                    target = self.labels.lookup(raw, record, name)
                    if target.store == POSTGRES:
                        parents[name] = target
            else:
                extra[name] = self._deep(record, name, raw, mongo=False)
        identity = self._id(record, table)
        given.update(identity)
        values = dict(given)
        if record.factory is not None:
            factory = self.factory(record)
            built = self._build(record, factory, {**given, **extra})
            self._refuse_unsaved_parents(record, table, built, set(given))
            for name, value in built.values.items():
                if name in table.columns and name not in given and not table.columns[name].generated:
                    try:
                        values[name] = coerce(value, table.columns[name].type, clock=self.clock)
                    except ValueError as exc:
                        raise record.error(f"{record.factory} built {value!r}: {exc}", name) from None
        for column in table.columns.values():
            volatility = column.volatile_default
            if column.name not in values and volatility is not None and not column.generated:
                try:
                    values[column.name] = injected_value(
                        volatility, column.type, f"{table.key}.{column.name}", sql_size(column.default)
                    )
                except TypeError as exc:
                    raise record.error(f"{exc}; give it a value", column.name) from None
        for column in table.columns.values():
            if (
                column.name not in values
                and not column.nullable
                and not column.has_default
                and is_time_type(column.type)
            ):
                values[column.name] = coerce(self.clock.now(), column.type, clock=self.clock)
        missing = self._missing(table, {name for name, value in values.items() if value is not None})
        for column_name, reason in missing:
            by = f" ({record.factory} did not build it)" if record.factory else ""
            raise record.error(reason + by, column_name)
        return Row(record, values, parents, table.primary_key)

    def _refuse_unsaved_parents(
        self, record: Record, table: TableInfo, built: Built, given: set[str]
    ) -> None:
        """Refuse a factory that built a parent row (a ``SubFactory``) for a foreign key the record
        leaves out: a pack writes the record's own row only, so the key would stay empty."""
        for fk in table.foreign_keys:
            if any(column in given for column in fk.columns):
                continue
            if all(built.values.get(column) is not None for column in fk.columns):
                continue
            parent = built.parents.get(fk.columns)
            if parent is None:
                continue
            column = fk.columns[0]
            raise record.error(
                f"{record.factory} builds {parent!r} (a SubFactory), which a pack does not write, so "
                f'{column} would be empty; give it in the record ({column}: "@{fk.referred_table}.<label>")',
                column,
            )

    def _document(self, record: Record) -> Row:
        document = {MONGO_ID: self.labels.id_of(record, self.clock)}
        for name, raw in record.fields.items():
            document[name] = self._deep(record, name, raw, mongo=True)
        if record.factory is not None:
            built = self._build(record, self.factory(record), document)
            document = {**built.values, **document}
        return Row(record, {name: to_bson(value) for name, value in document.items()})

    def _build(self, record: Record, factory: type, fields: dict[str, Any]) -> Built:
        try:
            return build(factory, fields, record.traits)
        except PackError:
            raise
        except Exception as exc:
            raise record.error(f"{record.factory} failed: {type(exc).__name__}: {exc}", "_factory") from None

    # -- shared -----------------------------------------------------------------------------

    def factory(self, record: Record) -> type:
        assert record.factory is not None
        found = find_factory(record.factory, self.modules)
        if found is None:
            searched = ", ".join(m.__name__ for m in self.modules) or "no factory modules configured"
            hint = difflib.get_close_matches(
                record.factory.rpartition(":")[2], factories_in(self.modules), n=1
            )
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise record.error(
                f"unknown factory {record.factory!r}{did_you_mean} (searched: {searched})", "_factory"
            )
        return found

    def _table(self, record: Record) -> TableInfo | None:
        if record.store != POSTGRES or self.schema is None:
            return None
        return self.schema.tables.get(record.table)

    def _id(self, record: Record, table: TableInfo) -> dict[str, Any]:
        if len(table.primary_key) != 1:
            return {}
        return {table.primary_key[0]: self.labels.id_of(record, self.clock)}

    def _pk_filled(self, table: TableInfo) -> tuple[str, ...]:
        return table.primary_key if len(table.primary_key) == 1 else ()

    def _missing(self, table: TableInfo, given: set[str]) -> list[tuple[str, str]]:
        return [
            (column.name, "missing value: the column is NOT NULL and has no default")
            for column in table.columns.values()
            if column.name not in given
            and not column.nullable
            and not column.has_default
            and not is_time_type(column.type)
        ]

    def _column_value(self, record: Record, column: ColumnInfo, raw: Any) -> Any:
        if raw is None and not column.nullable:
            raise record.error("cannot be null: the column is NOT NULL", column.name)
        if isinstance(raw, Ref):
            ident = self.labels.ref_id(raw, record, column.name, self.clock)
            try:
                return coerce(ident, column.type, clock=self.clock)
            except ValueError as exc:
                raise record.error(
                    f"{raw} stands for ID {ident!r}, which does not fit: {exc}", column.name
                ) from None
        if record.textual and isinstance(raw, str) and is_structured(column.type):
            try:
                raw = parse_value(parse_json_text(raw))
            except ValueError as exc:
                raise record.error(str(exc), column.name) from None
        value = self._deep(record, column.name, raw, mongo=False) if refs_in(raw) else raw
        try:
            return coerce(value, column.type, clock=self.clock, textual=record.textual)
        except ValueError as exc:
            raise record.error(str(exc), column.name) from None

    def _deep(self, record: Record, name: str, raw: Any, *, mongo: bool, need_ids: bool = True) -> Any:
        """``raw`` with references replaced by IDs (Mongo's form when ``mongo``) and times resolved."""
        if isinstance(raw, Ref):
            if not need_ids:
                self.labels.lookup(raw, record, name)
                return raw
            ident = self.labels.ref_id(raw, record, name, self.clock)
            return str(ident) if mongo and isinstance(ident, uuid.UUID) else ident
        if isinstance(raw, RelativeTime):
            return self.clock.relative(raw.offset)
        if isinstance(raw, list):
            return [self._deep(record, name, item, mongo=mongo, need_ids=need_ids) for item in raw]
        if isinstance(raw, dict):
            return {k: self._deep(record, name, v, mongo=mongo, need_ids=need_ids) for k, v in raw.items()}
        return raw


def to_bson(value: Any) -> Any:
    """``value`` in types BSON can store: UUIDs as text, Decimal as Decimal128, dates as midnight UTC."""
    if isinstance(value, dict):
        return {key: to_bson(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_bson(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return Decimal128(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value
