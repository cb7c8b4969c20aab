"""Loading packs into PostgreSQL and Mongo, all or nothing.

PostgreSQL rows are written on the given connection inside one transaction: a SAVEPOINT when the
caller already has a transaction open (the caller then commits), else a transaction committed
here. Tables are filled parents first (reflected foreign keys); rows of one table referring to
each other go parents first too; a reference that cannot be satisfied yet (a foreign-key cycle)
is inserted as NULL and set by an UPDATE once its target exists. Mongo documents are inserted
after the rows; if anything fails, the rows are rolled back and the documents deleted again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from bson.errors import BSONError
from pymongo.database import Database
from pymongo.errors import PyMongoError
from sqlalchemy.engine import Connection

from seedkit.core.determinism import Deterministic, activate, current, frozen
from seedkit.errors import PackError
from seedkit.packs.builders import import_modules
from seedkit.packs.dberrors import mongo_error, postgres_error
from seedkit.packs.labels import MONGO_ID, Labels
from seedkit.packs.model import MONGO, POSTGRES, STORE_PREFIX, Pack, Record
from seedkit.packs.plan import Planner, Row
from seedkit.packs.validate import validate_packs
from seedkit.stores.quoting import quote_ident
from seedkit.stores.schema import SchemaInfo, TableInfo, reflect_schema
from seedkit.stores.sequences import (
    advance_sequences,
    database_sequences,
    restore_sequence_positions,
    sequence_positions_of,
)
from seedkit.stores.violations import Constraints, read_constraints


def apply_packs(
    packs: Sequence[Pack],
    *,
    connection: Connection | None,
    mongo: Database[Any] | None,
    context: Deterministic,
    factory_modules: Sequence[str | ModuleType] = (),
    schema: str | Sequence[str] | None = None,
) -> dict[str, int]:
    """Write ``packs`` (dependencies first, as :func:`resolve_packs` returns them).

    Returns the number of rows or documents written per ``pg:<table>`` / ``mongo:<collection>``.
    Raises PackError (naming file, record and field) and leaves both stores as they were.
    Times, IDs and factory values come from ``context`` (activated for the load if it is not the
    active one), and code that reads the wall clock reads its clock (see
    :func:`seedkit.core.determinism.frozen`).
    ``schema``: the PostgreSQL schemas reflected (one, several; default: every application schema).
    """
    packs = list(packs)
    _require_stores(packs, connection, mongo)
    if context is not current() or not context.clock.frozen:
        # factories' "today" (Faker's relative dates, fuzzy ranges) reads the injected clock too
        with activate(context, freeze=True) if context is not current() else frozen(context):
            return apply_packs(
                packs,
                connection=connection,
                mongo=mongo,
                context=context,
                factory_modules=factory_modules,
                schema=schema,
            )
    modules = import_modules(factory_modules)
    transaction = None
    if connection is not None:
        transaction = connection.begin_nested() if connection.in_transaction() else connection.begin()
    inserted_documents: list[tuple[str, Any]] = []
    collections_before = set(mongo.list_collection_names()) if mongo is not None else set()
    # setval/nextval outlive a ROLLBACK: a failed load puts the sequences back where they were
    positions = sequence_positions_of(connection, database_sequences(connection)) if connection else {}
    try:
        info = reflect_schema(connection, schema) if connection is not None else None
        problems = validate_packs(packs, schema=info, factory_modules=modules)
        if problems:
            raise _summary(problems)
        planner = Planner(Labels(packs, info), info, context.clock, modules)
        pg_rows = _plan_postgres(planner, packs, info)
        mongo_rows = [
            planner.row(r) for pack in packs for f in pack.files if f.store == MONGO for r in f.records
        ]
        counts = _counts(packs)
        if connection is not None and info is not None:
            _write_postgres(connection, info, pg_rows, counts)
            advance_sequences(connection, info)  # past the labels' keys
        if mongo is not None:
            _write_mongo(mongo, mongo_rows, counts, inserted_documents)
        if transaction is not None:
            try:
                transaction.commit()
            except sa.exc.DBAPIError as exc:
                raise PackError(f"PostgreSQL refused to commit the load: {exc.orig}") from exc
    except BaseException:
        if transaction is not None and transaction.is_active:
            transaction.rollback()
        if connection is not None and positions:
            with contextlib.suppress(sa.exc.DBAPIError):  # a connection lost on an interrupt
                restore_sequence_positions(connection, positions)
        if mongo is not None:
            _undo_mongo(mongo, inserted_documents, collections_before)
        raise
    return counts


def _require_stores(packs: list[Pack], connection: Connection | None, mongo: Database[Any] | None) -> None:
    for pack in packs:
        for data_file in pack.files:
            if data_file.store == POSTGRES and connection is None and data_file.records:
                raise PackError(
                    "this data file is for PostgreSQL, but no database connection was given",
                    file=data_file.file,
                )
            if data_file.store == MONGO and mongo is None and data_file.records:
                raise PackError(
                    "this data file is for Mongo, but no Mongo database was given", file=data_file.file
                )


def _summary(problems: list[PackError]) -> PackError:
    first = problems[0]
    if len(problems) == 1:
        return first
    more = len(problems) - 1
    return PackError(
        f"{first.reason} (and {more} more problem{'s' if more > 1 else ''}; run `seedkit packs validate`)",
        file=first.file,
        record=first.record,
        field=first.field,
        line=first.line,
    )


def _counts(packs: list[Pack]) -> dict[str, int]:
    return {data_file.key: 0 for pack in packs for data_file in pack.files}


def _plan_postgres(planner: Planner, packs: list[Pack], schema: SchemaInfo | None) -> list[Row]:
    """Rows in insertion order: tables parents first, then each table's records parents first."""
    by_table: dict[str, list[Record]] = {}
    for pack in packs:
        for data_file in pack.files:
            if data_file.store == POSTGRES:
                by_table.setdefault(data_file.table, []).extend(data_file.records)
    if schema is None:
        return []
    rows: list[Row] = []
    try:
        order = schema.insertion_order(by_table)
    except ValueError as exc:  # a cycle of NOT NULL foreign keys: no insertion order exists
        raise PackError(f"cannot load tables {', '.join(sorted(by_table))}: {exc}") from None
    for table in order:
        rows.extend(_parents_first([planner.row(record) for record in by_table[table]]))
    return rows


def _parents_first(rows: list[Row]) -> list[Row]:
    """``rows`` of one table, each after the rows it refers to when possible (stable otherwise)."""
    pending = list(rows)
    in_table = {id(row.record) for row in rows}
    placed: set[int] = set()
    ordered: list[Row] = []
    while pending:
        ready = [
            row
            for row in pending
            if all(id(p) in placed or id(p) not in in_table or p is row.record for p in row.parents.values())
        ]
        chosen = ready or pending[:1]  # a cycle of rows: take the first, its reference waits for an UPDATE
        for row in chosen:
            ordered.append(row)
            placed.add(id(row.record))
        pending = [row for row in pending if id(row.record) not in placed]
    return ordered


def _sa_table(schema: SchemaInfo, table: TableInfo) -> sa.TableClause:
    columns = [sa.column(c.name, c.type) for c in table.columns.values()]
    return sa.table(table.name, *columns, schema=table.schema)


def _insert(table: TableInfo, clause: sa.TableClause, values: dict[str, Any]) -> Any:
    """An INSERT of ``values``; ``OVERRIDING SYSTEM VALUE`` when it writes a ``GENERATED ALWAYS`` identity."""
    if not any(table.columns[name].identity == "always" for name in values):
        return clause.insert()
    names = list(values)
    statement = sa.text(
        f"INSERT INTO {table.qualified} ({', '.join(quote_ident(n) for n in names)}) "
        f"OVERRIDING SYSTEM VALUE VALUES ({', '.join(f':p{i}' for i in range(len(names)))})"
    ).bindparams(
        *(sa.bindparam(f"p{i}", values[n], type_=table.columns[n].type) for i, n in enumerate(names))
    )
    return statement


def _write_postgres(
    connection: Connection, schema: SchemaInfo, rows: list[Row], counts: dict[str, int]
) -> None:
    planned = {id(row.record) for row in rows}
    inserted: set[int] = set()
    written: list[Row] = []
    updates: list[tuple[Row, str, Any]] = []
    tables = {name: _sa_table(schema, info) for name, info in schema.tables.items()}
    # Read while the transaction can: a violation is worded with the constraint's columns.
    constraints = read_constraints(connection) if rows else {}
    for row in rows:
        info = schema.tables[row.record.table]
        values = dict(row.values)
        for column, parent in row.parents.items():
            if id(parent) in planned and id(parent) not in inserted:
                if not info.columns[column].nullable:
                    raise row.record.error(
                        f"refers to {parent.ref}, which cannot be inserted first: the NOT NULL column is "
                        "part of a reference cycle (make one foreign key of the cycle nullable)",
                        column,
                    )
                updates.append((row, column, values[column]))
                values[column] = None
        statement = _insert(info, tables[row.record.table], values)
        _execute(
            connection,
            statement,
            {} if isinstance(statement, sa.TextClause) else values,
            row,
            written,
            constraints,
        )
        inserted.add(id(row.record))
        written.append(row)
        counts[f"{STORE_PREFIX[POSTGRES]}:{row.record.table}"] += 1
    for row, column, value in updates:
        info = schema.tables[row.record.table]
        if not info.primary_key:
            raise row.record.error(f"cannot set {column!r} after inserting: table has no primary key", column)
        table = tables[row.record.table]
        where = sa.and_(*(table.c[pk] == row.values[pk] for pk in info.primary_key))
        _execute(
            connection, table.update().where(where).values({column: value}), {}, row, written, constraints
        )


def _execute(
    connection: Connection,
    statement: Any,
    values: dict[str, Any],
    row: Row,
    written: list[Row],
    constraints: Constraints,
) -> None:
    try:
        if values:
            connection.execute(statement, values)
        else:
            connection.execute(statement)
    except sa.exc.DBAPIError as exc:
        raise postgres_error(exc, row, written, row.primary_key, constraints) from exc


def _write_mongo(
    mongo: Database[Any], rows: list[Row], counts: dict[str, int], inserted: list[tuple[str, Any]]
) -> None:
    written: list[Row] = []
    for row in rows:
        collection = row.record.table
        try:
            mongo[collection].insert_one(row.values)
        except (PyMongoError, BSONError) as exc:
            raise mongo_error(exc, row, written, mongo[collection]) from exc
        inserted.append((collection, row.values[MONGO_ID]))
        written.append(row)
        counts[f"{STORE_PREFIX[MONGO]}:{collection}"] += 1


def _undo_mongo(mongo: Database[Any], inserted: list[tuple[str, Any]], collections_before: set[str]) -> None:
    """Delete the documents this load inserted, and the collections it created."""
    by_collection: dict[str, list[Any]] = {}
    for collection, document_id in inserted:
        by_collection.setdefault(collection, []).append(document_id)
    for collection, ids in by_collection.items():
        mongo[collection].delete_many({MONGO_ID: {"$in": ids}})
    for name in set(mongo.list_collection_names()) - collections_before:
        if mongo[name].count_documents({}) == 0:
            mongo.drop_collection(name)
