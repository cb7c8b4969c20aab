"""A stable content hash of the seeded data of both stores.

PostgreSQL tables are hashed inside the server (an md5 per row, aggregated in primary-key
order), under fixed session settings (UTC, ISO dates, exact floats), so the result is the
same on every machine and costs one query per table however large it is. Mongo collections
are hashed from canonical Extended JSON with sorted keys, in ``_id`` order, plus their
index definitions. Column names are part of a table's hash; the Alembic version table is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from bson import json_util
from pymongo.database import Database
from sqlalchemy.engine import Connection

from seedkit.stores.quoting import quote_ident
from seedkit.stores.schema import EXCLUDED_TABLES, SchemaInfo, reflect_schema

_STABLE_SETTINGS = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'iso_8601'",
    "SET LOCAL extra_float_digits = 3",
    "SET LOCAL bytea_output = 'hex'",
)


@dataclass(frozen=True)
class Part:
    """One table's or collection's share of a fingerprint."""

    count: int
    digest: str


@dataclass(frozen=True)
class Fingerprint:
    """The combined digest and the part per ``pg:<table>`` / ``mongo:<collection>``."""

    digest: str
    parts: dict[str, Part] = field(default_factory=dict)

    def short(self) -> str:
        return self.digest[:16]


def postgres_parts(
    conn: Connection,
    schema: str | Sequence[str] | None = None,
    exclude: tuple[str, ...] = EXCLUDED_TABLES,
    *,
    info: SchemaInfo | None = None,
) -> dict[str, Part]:
    """Per table (``pg:<key>``, see :class:`~seedkit.stores.schema.TableInfo`): row count and a
    digest of its rows in primary-key order (whole-row order without a primary key).

    ``schema``: one schema, several, or None for every application schema. A partitioned
    table is hashed through its parent (its partitions' rows together). ``info``: the schema
    as already reflected by the caller (``exclude`` is then not applied again: pass a
    reflection made with the same ``exclude``); reflected here when None.
    """
    if info is None:
        info = reflect_schema(conn, schema, exclude)
    parts: dict[str, Part] = {}
    if not info.tables:
        return parts
    selects = []
    for index, table in enumerate(info.tables.values()):
        order = ", ".join(f"t.{quote_ident(c)}" for c in table.primary_key) or "t::text"
        selects.append(
            f"SELECT {index}, count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY {order})), '') "
            f"FROM {table.qualified} AS t"
        )
    with conn.begin_nested() if conn.in_transaction() else conn.begin():
        for setting in _STABLE_SETTINGS:
            conn.execute(sa.text(setting))
        # one statement for every table: one round trip, one parse, whatever the schema's width
        found = {
            int(row[0]): (int(row[1]), str(row[2]))
            for row in conn.execute(sa.text(" UNION ALL ".join(selects)))
        }
    for index, (name, table) in enumerate(info.tables.items()):
        count, rows_digest = found[index]
        header = ",".join(f"{c.name}:{c.type}" for c in table.columns.values())
        digest = hashlib.sha256(f"{header}\n{rows_digest}".encode()).hexdigest()
        parts[f"pg:{name}"] = Part(count, digest)
    return parts


def postgres_column_digests(
    conn: Connection, schema: str | Sequence[str] | None = None, exclude: tuple[str, ...] = EXCLUDED_TABLES
) -> dict[str, str]:
    """``<table key>.<column>`` -> a digest of the column's values as a sorted multiset.

    Sorting each column by its own values (not by the primary key) names exactly the columns
    that differ between two databases: a random key differs alone, not every column ordered by
    it. ``<table key>.*`` holds the whole-row digest, which also catches values that are the
    same per column but paired differently. Same session settings as :func:`postgres_parts`.
    """
    info = reflect_schema(conn, schema, exclude)
    digests: dict[str, str] = {}
    with conn.begin_nested() if conn.in_transaction() else conn.begin():
        for setting in _STABLE_SETTINGS:
            conn.execute(sa.text(setting))
        for key, table in info.tables.items():
            names = list(table.columns)
            texts = [f"coalesce(t.{quote_ident(c)}::text, E'\\\\N')" for c in names]
            aggregates = [
                f"md5(coalesce(string_agg({text}, E'\\x1f' ORDER BY {text}), ''))" for text in texts
            ]
            aggregates.append("md5(coalesce(string_agg(t::text, E'\\x1f' ORDER BY t::text), ''))")
            row = conn.execute(sa.text(f"SELECT {', '.join(aggregates)} FROM {table.qualified} AS t")).one()
            for name, digest in zip([*names, "*"], row, strict=True):
                digests[f"{key}.{name}"] = str(digest)
    return digests


def mongo_field_digests(db: Database[Any]) -> dict[str, str]:
    """``<collection>.<top-level field>`` -> a digest of the field's values (canonical Extended JSON,
    a missing field marked) as a sorted multiset; ``<collection>.*`` for the indexes."""
    digests: dict[str, str] = {}
    for name in sorted(db.list_collection_names()):
        if name.startswith("system."):
            continue
        collection = db[name]
        values: dict[str, list[str]] = {}
        for count, document in enumerate(collection.find({})):
            for field_name in set(document) | set(values):
                text = (
                    json_util.dumps(
                        document[field_name], json_options=json_util.CANONICAL_JSON_OPTIONS, sort_keys=True
                    )
                    if field_name in document
                    else "<missing>"
                )
                values.setdefault(field_name, ["<missing>"] * count).append(text)
        for field_name, texts in values.items():
            digests[f"{name}.{field_name}"] = hashlib.sha256("\x1f".join(sorted(texts)).encode()).hexdigest()
        indexes = sorted((n, str(list(i["key"]))) for n, i in collection.index_information().items())
        digests[f"{name}.*"] = hashlib.sha256(repr(indexes).encode()).hexdigest()
    return digests


def mongo_parts(db: Database[Any]) -> dict[str, Part]:
    """Per collection: document count and a digest of canonical documents in ``_id`` order, and indexes."""
    parts: dict[str, Part] = {}
    for name in sorted(db.list_collection_names()):
        if name.startswith("system."):
            continue
        collection = db[name]
        hasher = hashlib.sha256()
        indexes = sorted(
            (index_name, str(list(info["key"])))
            for index_name, info in collection.index_information().items()
        )
        hasher.update(repr(indexes).encode())
        count = 0
        for document in collection.find({}, sort=[("_id", 1)]):
            hasher.update(
                json_util.dumps(
                    document, json_options=json_util.CANONICAL_JSON_OPTIONS, sort_keys=True
                ).encode()
            )
            hasher.update(b"\n")
            count += 1
        parts[f"mongo:{name}"] = Part(count, hasher.hexdigest())
    return parts


def fingerprint(
    conn: Connection | None = None,
    mongo: Database[Any] | None = None,
    schema: str | Sequence[str] | None = None,
    *,
    info: SchemaInfo | None = None,
) -> Fingerprint:
    """The fingerprint of the given stores (either may be None); ``schema`` and ``info`` as in
    :func:`postgres_parts`."""
    parts: dict[str, Part] = {}
    if conn is not None:
        parts.update(postgres_parts(conn, schema, info=info))
    if mongo is not None:
        parts.update(mongo_parts(mongo))
    return combine(parts)


def combine(parts: dict[str, Part]) -> Fingerprint:
    """The fingerprint made of ``parts`` (``pg:<table>`` / ``mongo:<collection>``, taken apart)."""
    combined = hashlib.sha256()
    for key in sorted(parts):
        combined.update(f"{key} {parts[key].count} {parts[key].digest}\n".encode())
    return Fingerprint(combined.hexdigest(), dict(parts))
