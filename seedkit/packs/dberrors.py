"""Mapping errors the databases raise while loading back to the file, record and field that caused them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from pymongo.collection import Collection

from seedkit.errors import PackError
from seedkit.packs.model import Record
from seedkit.packs.plan import Row
from seedkit.stores.violations import Constraints, describe_violation

UNIQUE_VIOLATION = "23505"
DUPLICATE_KEY = 11000
_KEY = re.compile(r"Key \((?P<columns>.*?)\)=\((?P<values>.*)\)")


def _where(record: Record) -> str:
    return f"{record.file}:{record.line}" if record.line else record.file


def postgres_error(
    exc: sa.exc.DBAPIError,
    row: Row,
    written: Iterable[Row],
    primary_key: tuple[str, ...] = (),
    constraints: Constraints | None = None,
) -> PackError:
    """A PackError at ``row``'s record for a failed INSERT/UPDATE, naming the other record of a duplicate.

    Other constraint violations are worded by :func:`~seedkit.stores.violations.describe_violation`
    (the constraint and its columns, from ``constraints``, never a dump of the row), at the
    violated column's field when the constraint covers one column.
    """
    orig: Any = exc.orig
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(orig).strip().splitlines()[0]
    detail = getattr(diag, "message_detail", None) or ""
    column = getattr(diag, "column_name", None)
    match = _KEY.match(detail)
    columns = [c.strip().strip('"') for c in match["columns"].split(",")] if match else []
    if column is None and len(columns) == 1:
        column = columns[0]
    reason = f"{primary} ({detail})" if detail else primary
    unique = getattr(orig, "sqlstate", None) == UNIQUE_VIOLATION and match is not None
    if unique and match:
        other = _same_key(row, written, columns, match["values"])
        shown = f"unique value {match['columns']}=({match['values']})"
        if other is not None:
            reason = f"{shown} is also used by record {other.label!r} in {_where(other)}"
        elif primary_key and tuple(columns) == primary_key:
            reason = f"{shown} already exists in the database (is this pack already loaded?)"
        else:
            reason = f"{shown} already exists in the database"
    violation = None if unique else describe_violation(exc, constraints)
    if violation is not None:
        constraint = (constraints or {}).get(
            (getattr(diag, "schema_name", None) or "public", getattr(diag, "constraint_name", None) or "")
        )
        covered = constraint.columns if constraint is not None else ()
        field = getattr(diag, "column_name", None) or (covered[0] if len(covered) == 1 else column)
        return row.record.error(f"cannot insert: {violation}", field)
    return row.record.error(f"cannot insert into {row.record.table!r}: {reason}", column)


def _same_key(row: Row, written: Iterable[Row], columns: list[str], shown: str) -> Record | None:
    for other in written:
        if other is row or other.record.table != row.record.table:
            continue
        known = all(name in other.values for name in columns)
        if known and ", ".join(str(other.values[name]) for name in columns) == shown:
            return other.record
    return None


def mongo_error(exc: Exception, row: Row, written: Iterable[Row], collection: Collection[Any]) -> PackError:
    """A PackError at ``row``'s record for a failed insert; for a duplicate key, the field and the
    other record (or the document already in the collection) are named."""
    message = str(exc).split(", full error")[0]
    if getattr(exc, "code", None) != DUPLICATE_KEY:
        return row.record.error(f"cannot insert into collection {row.record.table!r}: {message}")
    for keys in _unique_keys(collection):
        if not all(key in row.values for key in keys):
            continue
        wanted = {key: row.values[key] for key in keys}
        if collection.find_one(wanted) is None:
            continue
        shown = ", ".join(f"{key}={value}" for key, value in wanted.items())
        other = next(
            (o.record for o in written if o.record.table == row.record.table and _matches(o.values, wanted)),
            None,
        )
        where = (
            f"record {other.label!r} in {_where(other)}" if other else "a document already in the collection"
        )
        return row.record.error(f"duplicate key {shown}: also used by {where}", keys[0])
    return row.record.error(f"cannot insert into collection {row.record.table!r}: {message}")


def _unique_keys(collection: Collection[Any]) -> list[tuple[str, ...]]:
    """``_id`` and the keys of every unique index."""
    keys: list[tuple[str, ...]] = [("_id",)]
    for name, info in collection.index_information().items():
        if name != "_id_" and info.get("unique"):
            keys.append(tuple(field for field, _ in info["key"]))
    return keys


def _matches(values: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(key in values and values[key] == value for key, value in wanted.items())
