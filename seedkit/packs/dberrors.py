"""Mapping errors the databases raise while loading back to the file, record and field that caused them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from seedkit.errors import PackError
from seedkit.packs.model import Record
from seedkit.packs.plan import Row

UNIQUE_VIOLATION = "23505"
_KEY = re.compile(r"Key \((?P<columns>.*?)\)=\((?P<values>.*)\)")


def _where(record: Record) -> str:
    return f"{record.file}:{record.line}" if record.line else record.file


def postgres_error(exc: sa.exc.DBAPIError, row: Row, written: Iterable[Row]) -> PackError:
    """A PackError at ``row``'s record for a failed INSERT/UPDATE, naming the other record of a duplicate."""
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
    if getattr(orig, "sqlstate", None) == UNIQUE_VIOLATION and match:
        other = _same_key(row, written, columns, match["values"])
        reason = (
            f"unique value {match['columns']}=({match['values']}) is also used by record "
            f"{other.label!r} in {_where(other)}"
            if other
            else f"unique value {match['columns']}=({match['values']}) already exists in the database"
        )
    return row.record.error(f"cannot insert into {row.record.table!r}: {reason}", column)


def _same_key(row: Row, written: Iterable[Row], columns: list[str], shown: str) -> Record | None:
    for other in written:
        if other is row or other.record.table != row.record.table:
            continue
        known = all(name in other.values for name in columns)
        if known and ", ".join(str(other.values[name]) for name in columns) == shown:
            return other.record
    return None


def mongo_error(exc: Exception, row: Row, written: Iterable[Row]) -> PackError:
    """A PackError at ``row``'s record for a failed insert, naming the other record of a duplicate key."""
    details: Any = getattr(exc, "details", None) or {}
    key = details.get("keyValue") if isinstance(details, dict) else None
    message = str(exc).split(", full error")[0]
    if getattr(exc, "code", None) == 11000 or "duplicate key" in message.lower():
        fields = dict(key) if isinstance(key, dict) else {}
        other = next(
            (
                o.record
                for o in written
                if o is not row
                and o.record.table == row.record.table
                and fields
                and all(o.values.get(k) == v for k, v in fields.items())
            ),
            None,
        )
        field = next(iter(fields), None)
        if other is not None:
            return row.record.error(
                f"duplicate key {fields}: also used by record {other.label!r} in {_where(other)}", field
            )
        return row.record.error(f"cannot insert into collection {row.record.table!r}: {message}", field)
    return row.record.error(f"cannot insert into collection {row.record.table!r}: {message}")
