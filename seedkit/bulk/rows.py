"""Rows of mapped objects, read the way the ORM's flush would write them.

A :class:`TableLayout` is computed once per mapped class: the table, its columns in order,
which attribute holds each column, and the many-to-one relationships whose target object
supplies foreign-key values (as the ORM copies ``order.user.id`` into ``order.user_id`` at
flush time). Reading a row is then one dictionary look-up per column and per foreign-key
value, in code generated once per layout (:meth:`TableLayout._compile_rows`), which also tells
which rows have an unset column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, RelationshipDirection

from seedkit.core.volatile import column_injector
from seedkit.errors import FactoryError

_MISSING = object()


def int_range(type_: sa.types.TypeEngine[Any]) -> tuple[int, int] | None:
    """The values an integer column's type holds (``smallint``, ``integer``, ``bigint``), else None."""
    if isinstance(type_, sa.BigInteger):
        return -(2**63), 2**63 - 1
    if isinstance(type_, sa.SmallInteger):
        return -(2**15), 2**15 - 1
    if isinstance(type_, sa.Integer):
        return -(2**31), 2**31 - 1
    return None


@dataclass(frozen=True)
class _ForeignKeySource:
    """A many-to-one relationship: ``(column index, target attribute)`` pairs to copy.

    ``generated``: the target attributes whose column the database generates (serial, identity,
    a sequence or server default): one still unset when a child's row is read is a key the bulk
    path could not reserve, and the child would get NULL.
    """

    key: str
    pairs: tuple[tuple[int, str], ...]
    generated: dict[str, sa.Column[Any]] = field(default_factory=dict)


class UnknownParentKey(FactoryError):
    """A child's row refers to a parent whose database-generated key is not known before writing.

    Attributes:
        child: the child's ``table.column``.
        parent: the parent object.
        attribute: the parent's key attribute.
        column: the parent's key column.
    """

    def __init__(self, child: str, parent: Any, attribute: str, column: sa.Column[Any]) -> None:
        self.child = child
        self.parent = parent
        self.attribute = attribute
        self.column = column
        super().__init__(f"{child} refers to a {type(parent).__name__} whose key {column} is not known")


def database_generated(column: sa.Column[Any]) -> bool:
    """Whether the database fills ``column`` when an INSERT leaves it out (serial, identity, a
    ``Sequence`` or a server default)."""
    return (
        column.server_default is not None
        or column.identity is not None
        or isinstance(column.default, sa.Sequence)
        or column is column.table.autoincrement_column
    )


class DefaultContext:
    """What SQLAlchemy hands a context-sensitive Python default (``default=lambda ctx: ...``):
    ``get_current_parameters()`` / ``current_parameters``, the row's values by column key.

    As in SQLAlchemy's INSERT, the parameters are the values set on the row (foreign keys copied
    from parents included) and the defaults already computed for earlier columns, in the table's
    column order; computed only when asked.
    """

    __slots__ = ("_keys", "_values")

    def __init__(self, keys: list[str], values: list[Any]) -> None:
        self._keys = keys
        self._values = values

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        """The row's parameters by column key (SQLAlchemy's ``DefaultExecutionContext`` method)."""
        return {
            key: value for key, value in zip(self._keys, self._values, strict=True) if value is not _MISSING
        }

    @property
    def current_parameters(self) -> dict[str, Any]:
        """The same dictionary, as SQLAlchemy's attribute."""
        return self.get_current_parameters()


def _ignoring_context(make: Callable[[], Any]) -> Callable[[Any], Any]:
    return lambda context: make()


def column_default(col: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """The column's Python default as a function of a :class:`DefaultContext`, or None (a SQL
    expression or sequence, left to the server)."""
    default = col.default
    if default is None:
        return None
    if getattr(default, "is_scalar", False):
        value = default.arg  # type: ignore[attr-defined]
        return lambda context: value
    if getattr(default, "is_callable", False):
        # SQLAlchemy wraps a function without arguments into one taking the context
        function = default.arg  # type: ignore[attr-defined]
        return cast("Callable[[Any], Any]", function)
    return None


@dataclass(frozen=True)
class _ChildSync:
    """A one-to-many relationship without a reverse side: children get the parent's keys."""

    key: str
    child_pairs: tuple[tuple[str, str], ...]  # (child attribute, parent attribute)


class TableLayout:
    """How to turn objects of one mapped class into row tuples for its table."""

    def __init__(self, mapper: Mapper[Any], dialect: Dialect) -> None:
        tables = {col.table for col in mapper.columns if isinstance(col, sa.Column)}
        if len(tables) != 1:
            raise FactoryError(
                f"bulk seeding supports classes mapped to one table; {mapper.class_.__name__} maps to "
                f"{sorted(t.name for t in tables)}"
            )
        self.mapper = mapper
        self.table: sa.Table = mapper.local_table  # type: ignore[assignment]
        self.columns: list[sa.Column[Any]] = list(self.table.columns)
        self.names = [col.name for col in self.columns]
        self.keys = [mapper.get_property_by_column(col).key for col in self.columns]
        index: dict[Any, int] = {col: i for i, col in enumerate(self.columns)}
        injected = [column_injector(col, f"{col.table.name}.{col.name}") for col in self.columns]
        self.column_keys = [col.key for col in self.columns]
        self.defaults: list[Callable[[Any], Any] | None] = [
            _ignoring_context(inject) if inject is not None else column_default(col)
            for inject, col in zip(injected, self.columns, strict=True)
        ]
        """Per column: the function of a :class:`DefaultContext` giving the value a flush would
        give an unset column (the injected clock or ID, else the column's Python default)."""
        self.processors: list[Callable[[Any], Any] | None] = [
            col.type.dialect_impl(dialect).bind_processor(dialect) for col in self.columns
        ]
        self.has_processors = any(p is not None for p in self.processors)
        self.server_generated = [
            inject is None
            and (
                col.server_default is not None
                or col.identity is not None
                or col is self.table.autoincrement_column
            )
            for inject, col in zip(injected, self.columns, strict=True)
        ]
        self.int_ranges: list[tuple[int, int, int]] = [
            (i, *bounds) for i, col in enumerate(self.columns) if (bounds := int_range(col.type)) is not None
        ]
        """``(column index, lowest, highest)`` of the integer columns: binary COPY would wrap a value
        out of range without an error, so the seeder checks them first."""
        primary_key = list(self.table.primary_key.columns)
        self.reserved_key: tuple[str, sa.Column[Any]] | None = None
        """``(attribute, column)`` of a single-column key the database generates (serial, identity,
        a ``Sequence``, a server default): the seeder reserves such keys before writing (see
        ``BulkSeeder._reserve_keys``), so that children can refer to their parents."""
        if len(primary_key) == 1:
            (pk,) = primary_key
            if database_generated(pk):
                self.reserved_key = (mapper.get_property_by_column(pk).key, pk)
        self.foreign_keys: list[_ForeignKeySource] = []
        self.child_syncs: list[_ChildSync] = []
        for rel in mapper.relationships:
            if rel.secondary is not None:
                self.child_syncs.append(_ChildSync(rel.key, ()))  # refused when used, see sync_children
            elif rel.direction is RelationshipDirection.MANYTOONE:
                pairs = tuple(
                    (index[local], rel.mapper.get_property_by_column(remote).key)
                    for local, remote in rel.local_remote_pairs
                    if local in index
                )
                generated = {
                    rel.mapper.get_property_by_column(remote).key: remote
                    for local, remote in rel.local_remote_pairs
                    if local in index and isinstance(remote, sa.Column) and database_generated(remote)
                }
                self.foreign_keys.append(_ForeignKeySource(rel.key, pairs, generated))
            elif rel.direction is RelationshipDirection.ONETOMANY and rel._reverse_property == set():
                child_pairs = tuple(
                    (rel.mapper.get_property_by_column(remote).key, mapper.get_property_by_column(local).key)
                    for local, remote in rel.local_remote_pairs
                )
                self.child_syncs.append(_ChildSync(rel.key, child_pairs))
        self._compile_rows()

    def _compile_rows(self) -> None:
        """Generate :meth:`row` and :meth:`rows` for this layout, once.

        Why generated code: reading rows is the bulk path's inner loop (every object of every
        chunk), and straight-line code with the column keys as constants does one dictionary
        look-up per column and per foreign-key value, with no loop over the layout's
        columns and foreign keys per row. It also tells, while reading, whether a row has an
        unset column: the keys of the columns no foreign key fills are all in the object's
        ``__dict__`` (one C-level set comparison), and each foreign-key column was filled from
        its parent or set; :func:`~seedkit.bulk.seeder._finish_rows` then looks only at those
        rows instead of every value of the chunk.
        """
        covered = sorted({position for source in self.foreign_keys for position, _ in source.pairs})
        direct = frozenset(key for i, key in enumerate(self.keys) if i not in covered)
        body = ["get = values.get", f"row = [{', '.join(f'get({key!r}, MISSING)' for key in self.keys)}]"]
        for number, source in enumerate(self.foreign_keys):
            body += [
                f"parent = get({source.key!r})",
                "if parent is not None:",
                "    parent_values = parent.__dict__",
            ]
            for position, attribute in source.pairs:
                body += [
                    f"    value = parent_values.get({attribute!r}, MISSING)",
                    "    if value is MISSING or value is None:  # unset, expired or a key not known yet",
                    f"        value = parent_value(parent, {number}, {position}, {attribute!r}, value)",
                    f"    row[{position}] = value",
                ]
        unset = " or ".join(["not values.keys() >= DIRECT", *(f"row[{i}] is MISSING" for i in covered)])
        lines = [
            "def row(values):",
            *(f"    {line}" for line in body),
            "    return row",
            "def rows(objects):",
            "    found = []",
            "    incomplete = []",
            "    for obj in objects:",
            "        values = obj.__dict__",
            *(f"        {line}" for line in body),
            f"        if {unset}:",
            "            incomplete.append(len(found))",
            "        found.append(row)",
            "    return found, incomplete",
        ]
        namespace: dict[str, Any] = {
            "MISSING": _MISSING,
            "DIRECT": direct,
            "parent_value": self._parent_value,
        }
        exec("\n".join(lines), namespace)  # code made from the mapper's attribute names, see above
        self.row: Callable[[dict[str, Any]], list[Any]] = namespace["row"]
        """The column values of one object (its ``__dict__``); unset columns are ``MISSING``.

        Raises:
            UnknownParentKey: a related object's key, which the database generates, is unset."""
        self.rows: Callable[[list[Any]], tuple[list[list[Any]], list[int]]] = namespace["rows"]
        """The rows of ``objects`` (as :attr:`row`) and the indexes of those with an unset column."""

    def _parent_value(self, target: Any, source: int, position: int, attribute: str, value: Any) -> Any:
        """A foreign-key value that ``target``'s ``__dict__`` gives as unset or None: an expired
        attribute of an ORM object is loaded (on a record it stays unset: None); a None key
        that the database generates is refused."""
        if value is _MISSING:  # an expired attribute of an ORM object; unset on a record
            value = None if hasattr(type(target), "_seedkit_flushed") else getattr(target, attribute)
        generated = self.foreign_keys[source].generated
        if value is None and attribute in generated:
            child = f"{self.table.name}.{self.names[position]}"
            raise UnknownParentKey(child, target, attribute, generated[attribute])
        return value


MISSING = _MISSING
