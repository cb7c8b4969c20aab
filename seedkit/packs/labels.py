"""Labels and the IDs they stand for.

A record's ID is its primary key value when the record gives it; otherwise it is derived from
the table and label alone, by the primary key's reflected type: UUID columns get
:func:`~seedkit.core.ids.label_uuid`, integer columns :func:`~seedkit.core.ids.label_int`, text columns
the label itself, and Mongo documents :func:`~seedkit.core.ids.label_object_id`. So the same pack
gives the same IDs in every database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from seedkit.core.clock import Clock
from seedkit.core.ids import label_int, label_object_id, label_uuid
from seedkit.errors import PackError
from seedkit.packs.coerce import coerce, type_name
from seedkit.packs.model import MONGO, Pack, Record
from seedkit.packs.values import Ref
from seedkit.stores.schema import SchemaInfo

MONGO_ID = "_id"


class Labels:
    """Every labelled record of a set of packs, by ``(table, label)``, and their IDs."""

    def __init__(self, packs: Sequence[Pack], schema: SchemaInfo | None = None) -> None:
        self.schema = schema
        self.errors: list[PackError] = []
        self._by_key: dict[tuple[str, str], list[Record]] = {}
        self._visible: dict[str, set[str]] = _visibility(packs)
        self._ids: dict[int, Any] = {}
        self._ints: dict[str, dict[str, int]] = {}
        seen: dict[tuple[str, str, str], Record] = {}
        for pack in packs:
            for record in pack.records():
                key = (record.store, record.table, record.label)
                if key in seen:
                    first = seen[key]
                    where = f"{first.file}:{first.line}" if first.line else first.file
                    self.errors.append(
                        record.error(f"duplicate label: {record.ref} is also defined in {where}")
                    )
                    continue
                seen[key] = record
                self._by_key.setdefault((record.table, record.label), []).append(record)

    def lookup(self, ref: Ref, source: Record, field: str) -> Record:
        """The record ``ref`` names, visible from ``source``'s pack; else a PackError at ``field``.

        A table outside the default schema has a dotted name (``@billing.invoices.march``): every
        way of splitting the reference into table and label is tried, and more than one match
        is an error.
        """
        ref = self._split(ref, source, field)
        found = self._by_key.get((ref.table, ref.label), [])
        if not found:
            tables = sorted({table for table, _ in self._by_key})
            hint = (
                f"no record labelled {ref.label!r} in {ref.table!r}"
                if ref.table in tables
                else f"no table or collection {ref.table!r} in the loaded packs"
            )
            raise source.error(f"dangling reference {ref}: {hint}", field)
        if len(found) > 1:
            raise source.error(
                f"ambiguous reference {ref}: {ref.table!r} is both a table and a collection", field
            )
        target = found[0]
        if target.pack not in self._visible.get(source.pack, {source.pack}):
            raise source.error(
                f"{ref} is defined in pack {target.pack!r}; add it to depends_on of pack {source.pack!r}",
                field,
            )
        return target

    def _split(self, ref: Ref, source: Record, field: str) -> Ref:
        text = f"{ref.table}.{ref.label}"
        splits = [Ref(text[:i], text[i + 1 :]) for i, char in enumerate(text) if char == "."]
        matches = [r for r in splits if (r.table, r.label) in self._by_key]
        if len(matches) > 1:
            names = " and ".join(repr(r.table) for r in matches)
            raise source.error(f"ambiguous reference {ref}: it names a record in {names}", field)
        return matches[0] if matches else ref

    def ref_id(self, ref: Ref, source: Record, field: str, clock: Clock) -> Any:
        """The ID ``ref`` stands for; a PackError at ``source``'s ``field`` when there is none."""
        target = self.lookup(ref, source, field)
        try:
            return self.id_of(target, clock)
        except PackError as exc:
            raise source.error(f"cannot refer to {ref}: {exc.reason}", field) from None

    def id_of(self, record: Record, clock: Clock, _chain: tuple[int, ...] = ()) -> Any:
        """``record``'s ID (needs the schema for PostgreSQL records). Raises PackError at ``record``."""
        key = id(record)
        if key in self._ids:
            return self._ids[key]
        if key in _chain:
            raise record.error("its primary key refers back to itself through references")
        if record.store == MONGO:
            value = self._given_id(record, MONGO_ID, clock, (*_chain, key))
            result = label_object_id(record.table, record.label) if value is None else value
        else:
            result = self._postgres_id(record, clock, (*_chain, key))
        self._ids[key] = result
        return result

    def _given_id(self, record: Record, column: str, clock: Clock, chain: tuple[int, ...]) -> Any:
        value = record.fields.get(column)
        if isinstance(value, Ref):
            return self.id_of(self.lookup(value, record, column), clock, chain)
        return value

    def _label_ints(self, table: str, pk: str) -> dict[str, int]:
        """The integer keys of ``table``'s labels that give no ``pk`` (see :func:`_label_key_ints`)."""
        found = self._ints.get(table)
        if found is None:
            records = [r for (t, _), rs in self._by_key.items() if t == table for r in rs if r.store != MONGO]
            given = [r.fields[pk] for r in records if r.fields.get(pk) is not None]
            taken = {int(v) for v in given if isinstance(v, int | str) and str(v).lstrip("-").isdigit()}
            labels = [r.label for r in records if r.fields.get(pk) is None]
            found = self._ints[table] = _label_key_ints(table, labels, taken)
        return found

    def _postgres_id(self, record: Record, clock: Clock, chain: tuple[int, ...]) -> Any:
        if self.schema is None:
            raise record.error("IDs of PostgreSQL records need the database schema")
        table = self.schema.tables.get(record.table)
        if table is None:
            raise record.error(f"unknown table {record.table!r}")
        if len(table.primary_key) != 1:
            raise record.error(
                f"table {record.table!r} has no single-column primary key; its records cannot be referred to"
            )
        (pk,) = table.primary_key
        column = table.columns[pk]
        given = self._given_id(record, pk, clock, chain)
        if given is not None:
            try:
                return coerce(given, column.type, clock=clock, textual=record.textual)
            except ValueError as exc:
                raise record.error(str(exc), pk) from None
        if isinstance(column.type, sa.Uuid):
            return label_uuid(record.table, record.label)
        if isinstance(column.type, sa.Integer):
            try:
                return coerce(self._label_ints(record.table, pk)[record.label], column.type, clock=clock)
            except ValueError as exc:
                raise record.error(f"the label's ID {exc}; give {pk!r} explicitly", pk) from None
        if isinstance(column.type, sa.String):
            return coerce(record.label, column.type, clock=clock)
        raise record.error(
            f"cannot derive a {type_name(column.type)} primary key from a label; give {pk!r} explicitly", pk
        )


def _label_key_ints(table: str, labels: Sequence[str], taken: set[int]) -> dict[str, int]:
    """Integer keys for ``labels`` of ``table``: :func:`label_int`, made unique.

    31-bit hashes collide (at 20,000 labels in one table the chance is about 9%): labels are
    taken in sorted order, and one whose key is taken (by an earlier label or by a key a record
    gives explicitly) is hashed again as ``label#1``, ``label#2``... So the keys are unique and
    depend only on the table's labels, never on the order packs list them.
    """
    keys: dict[str, int] = {}
    used = set(taken)
    for label in sorted(labels):
        key, attempt = label_int(table, label), 0
        while key in used:
            attempt += 1
            key = label_int(table, f"{label}#{attempt}")
        used.add(key)
        keys[label] = key
    return keys


def _visibility(packs: Sequence[Pack]) -> dict[str, set[str]]:
    """Pack name -> itself and every pack it depends on, directly or not."""
    depends = {pack.name: set(pack.depends_on) for pack in packs}
    visible: dict[str, set[str]] = {}
    for name in depends:
        seen, stack = {name}, list(depends[name])
        while stack:
            other = stack.pop()
            if other not in seen:
                seen.add(other)
                stack.extend(depends.get(other, ()))
        visible[name] = seen
    return visible
