"""The bulk path: factories generate as usual, rows reach PostgreSQL by COPY, chunk by chunk.

Factories run unchanged, with a :class:`~seedkit.bulk.collect.CollectingSession` bound
instead of a real one and built by seedkit's lean step builder (:mod:`seedkit.factories.builder`, the
same values as factory_boy's, with less machinery): every object is created, related and
post-generated exactly as on the per-object path, but stays pending instead of being flushed.
Every ``chunk_size`` root objects the seeder

1. reads the pending objects' rows (foreign keys taken from related objects, as a flush would),
2. hands them, parents' tables first, to a :class:`~seedkit.bulk.copy.CopyWriter` (COPY; in a
   background thread so PostgreSQL ingests chunk *k* while Python generates chunk *k + 1*),
3. inserts collected Mongo documents with unordered ``insert_many``,
4. forgets the chunk: written objects become detached rows with identity; objects the session
   keeps for later factory calls (what ``session.info`` refers to, e.g. the pool of
   ``ReuseOrCreate``, and what they reach through loaded relationships) are re-attached as
   persistent, and their large collections are expired (reloaded from the database if read).

Memory therefore holds one or two chunks whatever the count, and IDs are the factories' own
(generated before insert), so nothing is read back.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from itertools import repeat
from operator import attrgetter, is_, itemgetter
from typing import Any

import factory
import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import PASSIVE_NO_RESULT, PassiveFlag

from seedkit.bulk.collect import CollectingDatabase, CollectingSession
from seedkit.bulk.compiled import roots
from seedkit.bulk.computed_attributes import refuse_reads
from seedkit.bulk.copy import CopyJob, CopyWriter
from seedkit.bulk.flush_events import (
    flush_events,
    run_after_insert,
    run_before_insert,
    session_flush_listeners,
)
from seedkit.bulk.keys import KeyReservations
from seedkit.bulk.mutable_values import as_created, mutable_columns, note_created
from seedkit.bulk.paths import ORM, PathDecision, _qualified, decide_call
from seedkit.bulk.record_collections import CollectionNotFollowed, CollectionTracker, expire_twinned, tracking
from seedkit.bulk.row_builder import (
    WRITTEN,
    RowPathUnsupported,
    RowRecord,
    model_of,
    no_session,
    reading_generated,
)
from seedkit.bulk.rows import (
    MISSING,
    DefaultContext,
    TableLayout,
    UnknownParentKey,
    database_generated,
    int_range,
)
from seedkit.bulk.server_values import ServerValueUnknown, constant_defaults, describe
from seedkit.bulk.user_sql import SQLWhileBuilding, refusing_sql, seedkit_statements
from seedkit.core.determinism import Checkpoint, current, ensure_active
from seedkit.errors import FactoryError
from seedkit.factories.alchemy import (
    _POOL_KEY,
    _REUSABLE_MODELS,
    _live_pool,
    convert_pooled_records,
    row_pools,
)
from seedkit.factories.binding import bind
from seedkit.factories.builder import lean_builds
from seedkit.factories.failures import explain
from seedkit.factories.related import factory_making

DEFAULT_CHUNK_SIZE = 10_000
"""Root objects the row path generates between two writes (``chunk_size`` not given).

Each write is one COPY per table, run by the writer thread, which needs the GIL back after every
wait on the server: while the main thread generates, it gets it only at Python's switch interval
(see :meth:`~seedkit.bulk.copy.CopyWriter.generating`), so a write's fixed waits are paid per
chunk. Measured on the ordinary graph at N = 200,000: 2,000 roots per chunk 46% of raw COPY
rows/s, 10,000 roots 61-66%, 20,000 roots no faster (64%) for 45 MB more peak RSS."""

ORM_CHUNK_SIZE = 2_000
"""Root objects the ORM path creates between two writes (``chunk_size`` not given): ORM objects
and their session state take several times a row record's memory."""

KEEP_COLLECTION = 1_000
"""Loaded collections of kept objects larger than this are expired after each chunk."""

MONGO_BATCH = 10_000

COLLECT_AFTER = 50_000
"""A chunk's end collects garbage once the container objects allocated since the last
collection outnumber those freed by this many (see :func:`_collect_garbage`)."""


class BulkSeeder:
    """Creates factory volumes through the bulk path on one connection (and Mongo database).

    Use it as a context manager; every :meth:`create` shares the session state (so reuse pools
    carry over from one volume to the next, as on the per-object path)::

        with engine.connect() as conn:
            with BulkSeeder(conn, mongo=db) as seeder:
                seeder.create(OrganizationFactory, 100)
                seeder.create(CustomerFactory, 200_000, orders=1)
            conn.commit()

    Writes happen in the connection's transaction; committing is the caller's decision. With
    ``keep_documents=True`` Mongo documents are kept for :meth:`take_documents` instead of
    being inserted (for a process that has no access to the Mongo database).
    ``last_partition``: in a partitioned run, its highest partition number (integer keys the
    database would generate are then drawn from the partition's share of the column's range).
    """

    def __init__(
        self,
        connection: Connection,
        mongo: Database[Any] | None = None,
        *,
        chunk_size: int | None = None,
        background: bool = True,
        keep_documents: bool = False,
        row_path: bool = True,
        last_partition: int = 0,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.connection = connection
        self.chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
        """Root objects the row path generates between two writes."""
        self.orm_chunk_size = chunk_size or ORM_CHUNK_SIZE
        """Root objects the ORM path creates between two writes."""
        self.mongo = mongo
        self.rows: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()
        if not connection.in_transaction():
            connection.begin()
        self.session = CollectingSession(bind=connection, autoflush=False, expire_on_commit=False)
        self.session.on_flush = self._as_flushed
        self._collector = CollectingDatabase(mongo) if mongo is not None or keep_documents else None
        self._keep_documents = keep_documents
        self._kept_documents: dict[str, list[dict[str, Any]]] = {}
        self._writer = CopyWriter(connection, background=background)
        self._layouts: dict[Any, TableLayout] = {}
        self._mutable_at: dict[TableLayout, dict[str, int]] = {}
        """Per layout, the row positions of columns written as created (:mod:`seedkit.bulk.mutable_values`)."""
        self._order: dict[frozenset[sa.Table], list[sa.Table]] = {}
        self._keys = KeyReservations(connection, self._writer.wait_idle)
        self._scanned = 0
        """How many of :attr:`_records` have had their keys reserved (see :meth:`_reserve_through`)."""
        self._constants: dict[sa.Table, dict[str, Any]] = {}
        self._unknown: dict[TableLayout, list[tuple[str, _RefuseRead]]] = {}
        self._refusing = False
        self._factory: type[Any] | None = None
        event.listen(connection, "before_cursor_execute", self._before_query)
        self._closed = False
        self.row_path = row_path
        self.last_partition = last_partition
        """The highest partition number of the run this seeder is part of (see :func:`_partition_key`)."""
        self.paths: dict[str, PathDecision] = {}
        """The path each factory volume took (by factory name; see :mod:`seedkit.bulk.paths`)."""
        self._records: list[Any] = []
        self._fallbacks: dict[tuple[type[Any], tuple[str, ...]], PathDecision] = {}
        self._collections = CollectionTracker()
        self._pooled: dict[Any, Any] = {}
        """Written records of the reuse pools by identity key, until the session loads their row
        (see :meth:`_loaded`)."""
        convert_pooled_records(self.session, self._orm_object)
        event.listen(self.session, "loaded_as_persistent", self._loaded)

    # -- public ---------------------------------------------------------------------------
    def create(self, factory_class: type[Any], count: int, **fields: Any) -> PathDecision:
        """Create ``count`` objects with ``factory_class.create(**fields)``, writing every chunk.

        The factory graph takes the row path when :func:`~seedkit.bulk.paths.decide_call` allows
        it (and this seeder's ``row_path`` is on): the first root is built there as a trial; if it
        reads what only ORM objects have, the trial is undone and the volume takes the ORM
        path. Returns the decision (also kept in :attr:`paths`).

        Raises:
            RowPathUnsupported: a root after the first one read what only ORM objects have
                (rows before it may be written in the connection's transaction: roll it back).
            FactoryError: a root after the first one raised another error on the row path (one
                line naming the factory and the volume). The first root's error of any kind
                sends the volume to the ORM path, the error as the recorded reason.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        self._refuse_session_flush_listeners(factory_class)
        fallback = self._fallbacks.get((factory_class, tuple(fields)))
        if fallback is not None:
            decision = fallback  # an earlier call's first row needed the ORM: no new trial
        elif self.row_path:
            decision = decide_call(factory_class, fields)
        else:
            decision = PathDecision(
                _qualified(factory_class), ORM, "the row path is turned off (row_path=False)"
            )
        done = 0
        self._factory = factory_class
        if decision.row_path and count:
            with refusing_sql(lambda: _qualified(factory_class)):
                done, decision = self._create_rows(factory_class, count, fields, decision)
            if not decision.row_path:
                self._fallbacks[(factory_class, tuple(fields))] = decision
        self.paths[decision.factory] = decision
        with self.bound(), _collecting_per_chunk(), refusing_sql(lambda: _qualified(factory_class)):
            while done < count:
                size = min(self.orm_chunk_size, count - done)
                self._refuse_foreign_sessions(factory_class, factory_class.create_batch(size, **fields))
                done += size
                self.flush()
                _collect_garbage()
        self._keys.release()
        return decision

    def _create_rows(
        self, factory_class: type[Any], count: int, fields: dict[str, Any], decision: PathDecision
    ) -> tuple[int, PathDecision]:
        """Roots made on the row path and the decision: all of them, or those of the chunks
        before the one where a root needed the ORM (that chunk is undone, and the volume goes on
        from its start on the ORM path, which makes the per-object path's rows from there)."""
        passed = tuple(v for v in fields.values() if isinstance(v, factory.Iterator))
        with (
            ensure_active(),
            no_session(),
            bind(mongo=self._collector, override=True) if self._collector is not None else nullcontext(),  # type: ignore[arg-type]
            row_pools(self.session),
            reading_generated(self._read_generated),
            tracking(self._collections),
            lean_builds(),
            _collecting_per_chunk(),
            self._writer.generating(),
        ):
            for model in list(self.session.info.get(_POOL_KEY, {})):
                _live_pool(self.session, model)  # drop objects that left, before the journal notes the pools
            done = start = 0
            chunk = self.chunk_size
            rewind = self._chunk_checkpoint(passed)
            build_root = roots(factory_class, fields, self._records)
            while True:
                try:
                    build_root()
                except (
                    CollectionNotFollowed
                ) as exc:  # first read of a collection: follow it, build the chunk again
                    rewind()
                    self._collections.end_trial()
                    self._collections.follow(exc.record_class, exc.key)
                    done = start
                    rewind = self._chunk_checkpoint(passed)
                    continue
                except Exception as exc:
                    rewind()  # the chunk's records leave the sink, collections and pools; streams go back
                    self._collections.end_trial()
                    if isinstance(exc, ServerValueUnknown | SQLWhileBuilding):
                        raise  # the ORM path cannot know it either, or refuses it too
                    if not isinstance(exc, RowPathUnsupported):
                        if done:  # only the first root is a trial: a later one's error is the factory's
                            raise _row_error(factory_class, done + 1, exc) from exc
                        # e.g. object_session(record): the per-object path may still make the row
                        reason = f"its first row failed on the row path: {explain(exc)}"
                        return 0, PathDecision(decision.factory, ORM, _one_line(reason))
                    if start == 0:
                        return 0, PathDecision(decision.factory, ORM, f"its first row needed the ORM: {exc}")
                    return start, PathDecision(
                        decision.factory,
                        ORM,
                        f"root {done + 1} of {count} needed the ORM: {exc}; roots 1-{start} took the row path, "
                        f"the rest the ORM path",
                    )
                done += 1
                if done % chunk == 0 or done == count:  # a chunk is complete: as on the ORM path
                    self._collections.end_trial()
                    self.flush()
                    _collect_garbage()
                    if done == count:
                        break
                    start = done
                    rewind = self._chunk_checkpoint(passed)
        return done, decision

    def _refuse_session_flush_listeners(self, factory_class: type[Any]) -> None:
        """Refuse a volume whose session would run flush listeners (``before_flush``...: on
        ``Session`` or the class of the factory's own ``sqlalchemy_session`` /
        ``sqlalchemy_session_factory``): bulk seeding never flushes, so they would not run.

        Raises:
            FactoryError: one line naming the factory and the listeners, before anything is written.
        """
        meta = factory_class._meta
        found = dict.fromkeys(
            [
                *session_flush_listeners(self.session),
                *session_flush_listeners(getattr(meta, "sqlalchemy_session", None)),
                *session_flush_listeners(getattr(meta, "sqlalchemy_session_factory", None)),
            ]
        )
        if found:
            raise FactoryError(
                f"bulk seeding ({factory_class.__name__}): session flush listeners would not run "
                f"({'; '.join(found)}): bulk seeding writes with COPY and never flushes a session; "
                "create this volume per object (create_batch in your session, or "
                "seed_partitioned(..., bulk=False)), or remove the listener while seeding; "
                "nothing of this volume was written"
            )

    def _chunk_checkpoint(self, passed: tuple[factory.Iterator, ...]) -> Any:
        """Save what a chunk of the row path changes; return the function that puts it back.

        The deterministic context's streams (:class:`~seedkit.core.determinism.Checkpoint`),
        the records not written yet, the collections and reuse pools (journaled by the
        :class:`~seedkit.bulk.record_collections.CollectionTracker`) and the Mongo documents
        collected.
        """
        streams = Checkpoint(passed)
        mark = len(self._records)
        self._keys.mark()
        collector = self._collector
        documents = (
            {name: len(c.documents) for name, c in collector._collections.items()} if collector else {}
        )
        self._collections.begin_trial()

        def rewind() -> None:
            streams.restore()
            self._collections.rewind()
            self._keys.rewind()  # the ORM path that makes the chunk again gets the same keys
            del self._records[mark:]
            self._scanned = min(self._scanned, mark)
            if collector is not None:
                for name, collection in collector._collections.items():
                    del collection.documents[documents.get(name, 0) :]

        return rewind

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Bind the collecting session (and Mongo collector) for factory calls made in the block.

        The binding overrides the factories' own sessions (factory_boy's ``Meta.sqlalchemy_session``
        and ``sqlalchemy_session_factory``, sub-factories' too): a factory that kept one would
        otherwise write its rows in another transaction, which the caller's commit does not commit.
        """
        with bind(session=self.session, mongo=self._collector, override=True), lean_builds():  # type: ignore[arg-type]
            yield

    def flush(self) -> None:
        """Write everything generated since the last flush (COPY runs in the background)."""
        with seedkit_statements():
            self._flush()

    def _flush(self) -> None:
        pending = list(self.session.new)
        records = self._records[:]
        self._records.clear()  # in place: the row path's root builder appends to this list
        self._scanned = 0
        self._refuse_modified_rows()
        if self._refusing:  # a flush's listeners read them unset, as before an INSERT
            _stop_refusing(pending)
            self._refusing = False
        inserted = self._run_before_insert(pending)
        jobs = self._copy_jobs(pending + records)
        self._refuse_kept_without_keys(records)
        self._writer.submit(jobs)
        if inserted:  # after_insert listeners: as flush, once the rows are in the database
            self._writer.wait_idle()
            run_after_insert(inserted, self.connection)
        self._insert_documents()
        self._forget(pending)
        self._written(records)

    def _run_before_insert(self, pending: list[Any]) -> list[Any]:
        """Mapper ``before_insert`` listeners of ``pending`` as flush runs them (:mod:`seedkit.bulk.flush_events`)."""
        if not any(flush_events(sa.inspect(model)) for model in {type(obj) for obj in pending}):
            return []
        self._writer.wait_idle()  # a listener may use the connection the writer copies on
        return run_before_insert(pending, self.connection)

    def wait(self) -> None:
        """Block until every row handed to the writer is in the database; raise its error if it failed.

        A database error (say a unique violation) surfaces here, or at the next write, not at
        the factory call that produced the row: call this after each volume to attribute it.
        """
        self._writer.wait_idle()

    def finish(self) -> None:
        """Flush, and wait until every row is written."""
        self.flush()
        self._keys.release()
        self._writer.close()

    def close(self, *, raise_errors: bool = True) -> None:
        """Stop the writer and release the session (without writing what is pending)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.close(raise_errors=raise_errors)
        finally:
            event.remove(self.connection, "before_cursor_execute", self._before_query)
            self.session.expunge_all()
            self.session.close()

    def __enter__(self) -> BulkSeeder:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self.finish()
        finally:
            # After a failure, a later write error must not hide the exception that is propagating.
            self.close(raise_errors=exc_type is None)

    # -- writing --------------------------------------------------------------------------
    def _before_query(self, *args: Any) -> None:
        # The connection is shared with the COPY writer: let it finish first.
        self._writer.wait_idle()

    def _as_flushed(self, added: list[Any]) -> None:
        """Give ORM objects a factory just created the values a flush would (the per-object path
        flushes after each ``create``): foreign keys copied from their parents, Python defaults
        (context-sensitive ones with the row's parameters), so that declarations reading them
        later (``o.member.branch_id``) see the per-object path's values. Keys the database
        generates are reserved first, in the order the objects joined the session, as the
        per-object flush gets them (see :mod:`seedkit.bulk.keys`)."""
        with seedkit_statements():
            self._reserve_keys(added)
        for obj in added:
            refuse_reads(obj)
            layout = self._layouts.get(type(obj)) or self._layout(obj)
            values = obj.__dict__
            try:
                row = layout.row(values)
            except (UnknownParentKey, ServerValueUnknown):
                continue  # a parent's key no sequence gives: refused with its one line when the chunk is written
            for i, key in enumerate(layout.keys):
                if key in values:
                    continue
                value = row[i]
                if value is MISSING:
                    default = layout.defaults[i]
                    if default is None or layout.server_generated[i]:
                        continue
                    value = row[i] = default(DefaultContext(layout.column_keys, row))
                values[key] = value
            model: Any = type(obj)
            mutable = mutable_columns(model)
            if mutable:
                note_created(obj, mutable)  # its dicts and lists as this flush writes them
            unknown = self._unknown[layout]
            if unknown:
                state = instance_state(obj)
                for key, refuse in unknown:
                    if key not in values:
                        if "callables" not in state.__dict__:  # as SQLAlchemy's loaders are set
                            state.callables = {}
                        state.callables[key] = refuse
                        self._refusing = True

    def _layout(self, obj: Any) -> TableLayout:
        cls = type(obj)
        layout = self._layouts.get(cls)
        if layout is None:
            layout = TableLayout(sa.inspect(model_of(cls)), self.connection.dialect)
            with seedkit_statements():
                self._known_server_values(layout)
            self._layouts[cls] = layout
        return layout

    def _known_server_values(self, layout: TableLayout) -> None:
        """Fill ``layout``'s constant server defaults as Python defaults (the value the database
        would write, see :mod:`seedkit.bulk.server_values`) and note the columns the database
        fills otherwise, whose reads before the write are refused."""
        key_column = layout.reserved_key[1] if layout.reserved_key is not None else None
        defaulted = [
            i
            for i, column in enumerate(layout.columns)
            if layout.server_generated[i] and column.server_default is not None and column is not key_column
        ]
        if defaulted:
            constants = self._constants.get(layout.table)
            if constants is None:
                self._writer.wait_idle()
                constants = self._constants[layout.table] = constant_defaults(self.connection, layout.table)
            for i in defaulted:
                if layout.names[i] in constants:
                    layout.defaults[i] = _constant(constants[layout.names[i]])
                    layout.server_generated[i] = False
        self._unknown[layout] = [
            (layout.keys[i], _RefuseRead(self, column))
            for i, column in enumerate(layout.columns)
            if layout.server_generated[i]
        ]

    def _read_generated(self, record: Any, attribute: str, column: sa.Column[Any]) -> Any:
        """The row path's read of ``record``'s column the database fills, before it is written
        (see :func:`~seedkit.bulk.row_builder.reading_generated`)."""
        layout = self._layout(record)
        if layout.reserved_key is not None and column is layout.reserved_key[1]:
            key = self._reserve_through(record)
            if key is not None:
                return key
        else:
            i = layout.columns.index(column)
            default = layout.defaults[i]
            if not layout.server_generated[i] and default is not None:
                value = record.__dict__[attribute] = default(None)
                return value
        raise self._server_value_unknown(record, column)

    def _server_value_unknown(self, obj: Any, column: sa.Column[Any]) -> ServerValueUnknown:
        """The one-line refusal of a read of ``obj``'s ``column``, which the database fills as the
        row is written and bulk seeding cannot know before (see :mod:`seedkit.bulk.server_values`)."""
        model = model_of(type(obj))
        attribute: str = sa.inspect(model).get_property_by_column(column).key
        maker = factory_making(self._factory, model=model) if self._factory is not None else None
        volume = f" ({self._factory.__name__})" if self._factory is not None else ""
        return ServerValueUnknown(
            f"bulk seeding{volume}: {model.__name__}.{attribute} was read before its row is written, but the "
            f"database fills {column.table.name}.{column.name} as the row is written ({describe(column)}), "
            "which bulk seeding cannot know before (the per-object path reads it back); set "
            f"{attribute} in {maker.__name__ if maker else f'the factory of {model.__name__}'}, or seed this "
            "volume per object; nothing of this chunk was written"
        )

    def _tables_in_order(self, tables: frozenset[sa.Table]) -> list[sa.Table]:
        if tables not in self._order:
            self._order[tables] = sa.schema.sort_tables(tables)
        return self._order[tables]

    def _reserve_keys(self, pending: list[Any]) -> None:
        """Give objects (and records) whose key the database generates a key, in ``pending``'s order.

        Keys come from :class:`~seedkit.bulk.keys.KeyReservations` (the column's sequence, in
        blocks, unused keys given back when the volume ends). In a partition of a partitioned
        run (``current().partition > 0``) integer and UUID keys come from the partition's own ID
        range instead (:meth:`seedkit.core.ids.IdGenerator.integer` / ``uuid`` under the table's
        name, as ``IntegerFor``/``UUIDFor`` draw them): partitions run concurrently, and a shared
        sequence would number their rows in the order the workers reach it, so the data would
        depend on the number of workers. Children then copy their parents' keys as a flush
        would. A key without either (a trigger sets it) is left to the database; a child or a
        reuse pool that needs such a key is refused (see :meth:`_unknown_key`).
        """
        lacking: dict[TableLayout, list[Any]] = {}
        layouts = self._layouts
        for obj in pending:
            layout = layouts.get(type(obj)) or self._layout(obj)
            if layout.reserved_key is not None and obj.__dict__.get(layout.reserved_key[0]) is None:
                lacking.setdefault(layout, []).append(obj)
        partition = current().partition if lacking else 0
        for layout, objects in lacking.items():
            assert layout.reserved_key is not None
            attribute, column = layout.reserved_key
            if partition and _partition_keyed(column):
                # A sequence is shared by concurrent partitions: nextval would hand out keys in
                # the order the workers happen to ask. The partition's own range does not.
                for obj in objects:
                    obj.__dict__[attribute] = _partition_key(column, partition, self.last_partition)
                continue
            keys = self._keys.take(column, len(objects))
            if keys is None:
                continue
            for obj, key in zip(objects, keys, strict=True):
                obj.__dict__[attribute] = key

    def _reserve_through(self, record: Any) -> Any:
        """The row path's ``record`` key, read before its row is written: reserve the keys of the
        records made since the last reservation, up to ``record``, in creation order (as the
        per-object path's flushes get them); None if it has none to reserve."""
        records = self._records
        for i in range(self._scanned, len(records)):
            if records[i] is record:
                with seedkit_statements():
                    self._reserve_keys(records[self._scanned : i + 1])
                self._scanned = i + 1
                break
        layout = self._layout(record)
        return record.__dict__.get(layout.reserved_key[0]) if layout.reserved_key is not None else None

    def _copy_jobs(self, pending: list[Any]) -> list[CopyJob]:
        """The COPY jobs of ``pending`` (ORM objects and records), parents' tables first, each
        table's rows in ``pending``'s order.

        Raises:
            FactoryError: a row refers to a parent whose key is not known, or an integer does
                not fit its column (before anything of the chunk is written).
        """
        self._reserve_keys(pending)
        by_class: dict[type, list[Any]] = {}
        for obj in pending:
            group = by_class.get(type(obj))
            if group is None:
                group = by_class[type(obj)] = []
            group.append(obj)
        groups = [
            (self._layouts.get(cls) or self._layout(group[0]), group) for cls, group in by_class.items()
        ]
        for layout, group in groups:
            if layout.child_syncs:  # before any row is read: children get their parents' keys
                for obj in group:
                    _sync_children(layout, obj)
        by_table: dict[sa.Table, list[tuple[TableLayout, list[Any], list[list[Any]], list[int]]]] = {}
        for layout, group in groups:
            try:
                rows, incomplete = layout.rows(group)
            except UnknownParentKey as exc:
                raise self._unknown_key(exc.parent, exc.column, f"{exc.child} refers to {{}}") from None
            positions = self._mutable_at.get(layout)
            if positions is None:
                positions = self._mutable_at[layout] = _mutable_positions(layout)
            if positions:
                for obj, row in zip(group, rows, strict=True):
                    as_created(obj, row, positions)
            by_table.setdefault(layout.table, []).append((layout, group, rows, incomplete))
        jobs = []
        for table in self._tables_in_order(frozenset(by_table)):
            parts = by_table[table]
            layout, _, rows, incomplete = parts[0]
            if len(parts) > 1:  # classes sharing a table (single-table inheritance)
                rows, incomplete = _in_pending_order(parts, pending)
            _check_int_ranges(layout, rows)
            columns, finished = _finish_rows(layout, rows, incomplete)
            jobs.append(CopyJob(table.schema, table.name, columns, finished))
            self.rows[table.name] += len(finished)
        return jobs

    def take_documents(self) -> dict[str, list[dict[str, Any]]]:
        """With ``keep_documents=True``: the Mongo documents made so far (then forgotten)."""
        self._insert_documents()
        taken, self._kept_documents = self._kept_documents, {}
        return taken

    def _insert_documents(self) -> None:
        if self._collector is None:
            return
        for name, documents in self._collector.take().items():
            if self._keep_documents or self.mongo is None:
                self._kept_documents.setdefault(name, []).extend(documents)
                continue
            target = self.mongo[name]
            for start in range(0, len(documents), MONGO_BATCH):
                target.insert_many(documents[start : start + MONGO_BATCH], ordered=False)
            self.documents[name] += len(documents)

    def _refuse_foreign_sessions(self, factory_class: type[Any], created: list[Any]) -> None:
        """Refuse objects a factory created in another session: their rows would not be this run's.

        The binding overrides every session a factory is configured with; this catches what it
        cannot (a ``_create`` of the factory's own that opens a session), before anything of the
        chunk is written.

        Raises:
            FactoryError: naming the factory and the model.
        """
        for obj in created:
            state = sa.inspect(obj, raiseerr=False)
            if state is None or not hasattr(state, "session_id"):
                continue  # not a mapped object (a Mongo document...)
            if state.session_id is not None and state.session_id != self.session.hash_key:
                raise FactoryError(
                    f"bulk seeding: {factory_class.__name__} created its {type(obj).__name__} in a session of its "
                    "own, not the one the bulk path binds; its rows would be written in another transaction, "
                    "which this run does not commit (create through the bound session)"
                )

    def _refuse_modified_rows(self) -> None:
        for obj in self.session.dirty:
            if self.session.is_modified(obj, include_collections=False):
                raise FactoryError(
                    f"bulk seeding: {type(obj).__name__} {sa.inspect(obj).identity} was changed after it was "
                    "written; the bulk path only inserts (create this volume without bulk)"
                )

    def _written(self, records: list[Any]) -> None:
        """After ``records`` are handed to the writer: mark them written (a hook can no longer
        set them), drop the collections no later row can read (see
        :mod:`seedkit.bulk.record_collections`) and expire the collections of ORM objects that
        records joined (the ORM path reloads them from the database, with those rows)."""
        generation = self._collections.generation
        for values in map(_instance_dict, records):
            values[WRITTEN] = generation  # which collections its children joined (CollectionTracker.follow)
        pooled = {cls for cls in set(map(type, records)) if model_of(cls) in _REUSABLE_MODELS}
        if pooled:  # a model's reuse pool may hand these records to the ORM path (see _loaded)
            for record in records:
                if type(record) in pooled:
                    self._pooled[self._identity_key(record)] = record
        pools = self.session.info.get(_POOL_KEY, {})
        kept = [item for pool in pools.values() for item in pool if isinstance(item, RowRecord)]
        for obj, key in self._collections.after_write(kept):
            state = instance_state(obj)
            if state.session_id == self.session.hash_key and key in state.dict:
                self.session.expire(obj, [key])

    def _identity_key(self, record: Any) -> Any:
        """The identity key (SQLAlchemy's ``(class, primary key, token)``) of ``record``'s row."""
        mapper = self._layout(record).mapper
        return mapper.identity_key_from_primary_key(
            tuple(getattr(record, mapper.get_property_by_column(column).key) for column in mapper.primary_key)
        )

    def _loaded(self, session: Session, obj: Any) -> None:
        """The session loaded ``obj`` from the database (an ORM-path volume read ``doctor.clinic``):
        when its row is a pooled record's, ``obj`` takes the record's place in the pool, so that a
        ``ReuseOrCreate`` on either path hands out the session's object for that row, as the
        per-object path's pool does (one object per row; the record's collections end there)."""
        record = self._pooled.pop(instance_state(obj).key, None)
        if record is None:
            return
        expire_twinned(record)
        pool = session.info.get(_POOL_KEY, {}).get(model_of(type(record)), [])
        for i, item in enumerate(pool):
            if item is record:
                pool[i] = obj
                break

    def _orm_object(self, record: Any) -> Any:
        """The ORM object a pooled record becomes when the ORM path picks it (see
        :func:`seedkit.factories.alchemy.convert_pooled_records`): persistent, with the record's
        column values; the record's collections stop (the ORM object's load from the database)."""
        expire_twinned(record)
        obj = self._persistent(record)
        self._pooled.pop(instance_state(obj).key, None)
        return obj

    def _persistent(self, record: Any) -> Any:
        """An ORM object holding ``record``'s column values, persistent in the session (its other
        attributes load from the database when read, as those of a written ORM object).

        One object per row, as the session's identity map keeps it: when the session already
        holds the row's object (an ORM-path volume loaded it through a relationship, say
        ``doctor.clinic`` of a reused doctor), that object is the record's, not a second
        instance of the same key (which the session would refuse)."""
        layout = self._layout(record)
        obj = layout.mapper.class_manager.new_instance()
        values = obj.__dict__
        for key, value in zip(layout.keys, layout.row(record.__dict__), strict=True):
            if value is not MISSING:
                values[key] = value
        loaded = self.session.identity_map.get(layout.mapper.identity_key_from_instance(obj))
        if loaded is not None:
            return loaded
        make_transient_to_detached(obj)
        self.session.add(obj)
        return obj

    def _refuse_kept_without_keys(self, records: list[Any]) -> None:
        """Refuse objects kept for later calls (a reuse pool: what ``session.info`` holds, and the
        row path's records of pooled models) whose key could not be reserved: the session cannot
        keep an object without its key once it is written."""
        kinds = {cls for cls in {type(record) for record in records} if model_of(cls) in _REUSABLE_MODELS}
        pooled = [record for record in records if type(record) in kinds] if kinds else []
        for obj in [*_mapped_in(self.session.info), *pooled]:
            layout = self._layout(obj)
            if layout.reserved_key is not None and obj.__dict__.get(layout.reserved_key[0]) is None:
                raise self._unknown_key(obj, layout.reserved_key[1], "{} kept for later calls (a reuse pool)")

    def _unknown_key(self, parent: Any, column: sa.Column[Any], subject: str) -> FactoryError:
        """The error for ``parent``, whose key ``column`` the database generates and no query could
        reserve; ``subject`` says who needs it, ``{}`` standing for the parent (``an Org``)."""
        model = model_of(type(parent))
        maker = factory_making(self._factory, model=model) if self._factory is not None else None
        volume = f" ({self._factory.__name__})" if self._factory is not None else ""
        table = column.table.name
        attribute: str = sa.inspect(model).get_property_by_column(column).key
        kind = "UUIDFor" if isinstance(column.type, sa.Uuid) else "IntegerFor"
        article = "an" if model.__name__[:1].upper() in "AEIOU" else "a"
        return FactoryError(
            f"bulk seeding{volume}: {subject.format(f'{article} {model.__name__}')} whose key "
            f"{table}.{column.name} the database generates as the row is written (no sequence or default to "
            "reserve it from), so it is not known before; declare it in "
            f"{maker.__name__ if maker else f'the factory of {model.__name__}'}: "
            f'`{attribute} = {kind}("{table}")`; nothing of this chunk was written'
        )

    # -- forgetting -----------------------------------------------------------------------
    def _forget(self, written: list[Any]) -> None:
        """Detach the chunk; re-attach what the session keeps for later calls (see module doc)."""
        session = self.session
        session.expunge_all()
        for obj in written:
            make_transient_to_detached(obj)
        kept = list(_mapped_in(session.info))
        for obj in kept:
            session.add(obj)  # cascades along loaded relationships: what the pool reaches
        for obj in list(session.identity_map.values()):
            state = instance_state(obj)
            # Unloaded collections may hold appends of written objects (pending mutations) and
            # large ones hold a volume: both are reloaded from the database when read again.
            stale = [
                rel.key
                for rel in state.mapper.relationships
                if rel.uselist and (rel.key not in state.dict or len(state.dict[rel.key]) > KEEP_COLLECTION)
            ]
            if stale:
                session.expire(obj, stale)


class _RefuseRead:
    """Installed as the loader of an unset column the database fills (``InstanceState.callables``,
    where SQLAlchemy keeps deferred and expired attributes' loaders) on an ORM object of the bulk
    ORM path: reading it raises the seeder's one-line :class:`ServerValueUnknown` instead of
    giving ``None`` (the per-object path reads the database's value after its flush)."""

    __slots__ = ("column", "seeder")

    def __init__(self, seeder: BulkSeeder, column: sa.Column[Any]) -> None:
        self.seeder = seeder
        self.column = column

    def __call__(self, state: Any, passive: PassiveFlag) -> Any:
        if not passive & PassiveFlag.SQL_OK:
            return PASSIVE_NO_RESULT  # an internal look that would not load (history, backrefs)
        raise self.seeder._server_value_unknown(state.obj(), self.column)


_instance_dict = attrgetter("__dict__")


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda context: value


def _stop_refusing(objects: list[Any]) -> None:
    for obj in objects:
        callables = instance_state(obj).callables
        for key in (
            [key for key, value in callables.items() if type(value) is _RefuseRead] if callables else ()
        ):
            del callables[key]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class RootError(FactoryError):
    """A root after the first raised on the row path (not a :class:`RowPathUnsupported`: the
    first root's trial passed, so the factory itself fails).

    ``root`` counts from 1 within the :meth:`BulkSeeder.create` call that raised; a caller that
    made the volume in several calls gives :meth:`located` the roots made before, so that the
    line numbers the root within the volume (or the partition) rather than within the call.
    """

    def __init__(self, factory_name: str, root: int, cause: str) -> None:
        self.factory_name = factory_name
        self.root = root
        self.cause = cause
        super().__init__(self.located(0))

    def located(self, before: int) -> str:
        """The one line, the root numbered after ``before`` roots made by earlier calls."""
        return _one_line(
            f"{self.factory_name}: root {before + self.root} failed on the row path: {self.cause}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.factory_name, self.root, self.cause))


def _row_error(factory_class: type[Any], root: int, exc: BaseException) -> RootError:
    """The error of a root after the first that raised on the row path (see :class:`RootError`)."""
    return RootError(factory_class.__name__, root, explain(exc))


def _partition_keyed(column: sa.Column[Any]) -> bool:
    """Whether a partition draws ``column``'s generated keys from its own ID range (integer and UUID keys)."""
    return int_range(column.type) is not None or isinstance(column.type, sa.Uuid)


def partition_keys_on_flush(session: Session, last_partition: int) -> None:
    """On the per-object path of a partition: give new objects whose key the database generates
    (integer or UUID) a key from the partition's range before each flush, as the bulk path's
    ``_reserve_keys`` does (``nextval`` would number them in the order concurrent workers flush).

    ``last_partition``: the run's highest partition number. Does nothing outside a partition
    (``current().partition == 0``).
    """
    partition = current().partition
    if not partition:
        return

    def before_flush(session: Session, *_: object) -> None:
        for obj in list(session.new):
            mapper = sa.inspect(obj).mapper
            if len(mapper.primary_key) != 1:
                continue
            (column,) = mapper.primary_key
            if not database_generated(column) or not _partition_keyed(column):
                continue
            attribute = mapper.get_property_by_column(column).key
            if obj.__dict__.get(attribute) is None:
                setattr(obj, attribute, _partition_key(column, partition, last_partition))

    event.listen(session, "before_flush", before_flush)


def _partition_key(column: sa.Column[Any], partition: int, last_partition: int) -> Any:
    """The next key of ``column`` from partition ``partition``'s ID range (entity: the table's name).

    UUIDs come from the context's ID generator. Integer keys are ``partition * stride + n``
    (``n`` = 1, 2, ... the generator's count for the table): the stride is the context's
    (``int_stride``), narrowed for a ``smallint``/``integer`` column so that the ranges of
    partitions 0..``last_partition`` all fit it (partition 0, the serial part, keeps ``nextval``).

    Raises:
        FactoryError: the partition needs more keys than its range of the column holds.
    """
    context = current()
    generator = context.ids
    if isinstance(column.type, sa.Uuid):
        key = generator.uuid(column.table.name)
        return key if column.type.as_uuid else str(key)
    count = generator.integer(column.table.name) - partition * context.int_stride
    bounds = int_range(column.type)
    assert bounds is not None
    stride = min(context.int_stride, bounds[1] // (max(last_partition, partition) + 1))
    if count > stride:
        raise FactoryError(
            f"bulk seeding (partition {partition}): {column.table.name}.{column.name} ({column.type}) needs more "
            f"than {stride:,} keys in one partition, the share of each of {max(last_partition, partition) + 1} "
            "partitions; make the column bigint, use larger partitions (--partition-size) or seed without --workers"
        )
    return partition * stride + count


@contextmanager
def _collecting_per_chunk() -> Iterator[None]:
    """Collect garbage once per chunk instead of automatically.

    A chunk allocates millions of objects, which makes Python's automatic collector run
    hundreds of times over everything alive (a quarter of the generation time); the chunk's
    garbage (ORM objects refer to each other) is collected after it is written instead. What
    existed before is frozen out of those collections (``gc.freeze``) and given back after,
    unless the host process had frozen objects itself: ``gc.unfreeze`` cannot tell its objects
    from ours, so then nothing is frozen (the collections take longer, the host's state stays).
    """
    enabled = gc.isenabled()
    freeze = gc.get_freeze_count() == 0
    gc.disable()
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _collect_garbage() -> None:
    """Collect garbage at a chunk's end when the chunk may have left enough of it to matter.

    ``gc.get_count()[0]`` counts the container objects (those the collector tracks) allocated
    minus those freed since the last collection, and keeps counting while the automatic
    collector is off: cyclic garbage is allocated and never freed, so the count bounds it. On
    the row path reference counting frees a chunk's records (the collections that tie parents
    and children together are dropped after the write), the count stays at a few thousand and
    a full collection (several milliseconds over everything alive, every chunk, ~4% of the
    time) would find nothing; an ORM-path chunk allocates far more than
    :data:`COLLECT_AFTER` and is collected after each chunk, as before. So at most
    :data:`COLLECT_AFTER` garbage objects (a few MB) outlive their chunk.
    """
    if gc.get_count()[0] > COLLECT_AFTER:
        gc.collect()


def _sync_children(layout: TableLayout, parent: Any) -> None:
    """One-to-many relationships without a reverse side: give children the parent's keys."""
    for sync in layout.child_syncs:
        children = parent.__dict__.get(sync.key)
        if not children:
            continue
        if not sync.child_pairs:
            raise FactoryError(
                f"bulk seeding does not write many-to-many collections ({type(parent).__name__}.{sync.key})"
            )
        for child in children:
            for child_attribute, parent_attribute in sync.child_pairs:
                setattr(child, child_attribute, getattr(parent, parent_attribute))


def _in_pending_order(
    parts: list[tuple[TableLayout, list[Any], list[list[Any]], list[int]]], pending: list[Any]
) -> tuple[list[list[Any]], list[int]]:
    """The rows of several classes' groups of one table, back in ``pending``'s order, and the
    indexes of those with an unset column."""
    order = {id(obj): i for i, obj in enumerate(pending)}
    numbered = sorted(
        ((order[id(obj)], row) for _, group, rows, _ in parts for obj, row in zip(group, rows, strict=True)),
        key=itemgetter(0),
    )
    rows = [row for _, row in numbered]
    return rows, [i for i, row in enumerate(rows) if any(map(is_, row, repeat(MISSING)))]


def _check_int_ranges(layout: TableLayout, rows: list[list[Any]]) -> None:
    """Refuse, naming table, column and partition, an integer the column's type cannot hold."""
    for i, lowest, highest in layout.int_ranges:
        values = [value for row in rows if type(value := row[i]) is int]
        if not values:
            continue
        for value in (min(values), max(values)):
            if not lowest <= value <= highest:
                partition = current().partition
                where = f" (partition {partition})" if partition else ""
                raise FactoryError(
                    f"bulk seeding{where}: {layout.table.name}.{layout.names[i]} = {value} does not fit "
                    f"{layout.columns[i].type} ({lowest}..{highest}); nothing of this chunk was written"
                )


def _mutable_positions(layout: TableLayout) -> dict[str, int]:
    """Row positions, by attribute key, of ``layout``'s columns whose dicts and lists are written
    as they were at creation (:func:`seedkit.bulk.mutable_values.as_created`)."""
    model: Any = layout.mapper.class_
    mutable = mutable_columns(model)
    return {key: i for i, key in enumerate(layout.keys) if key in mutable}


def _finish_rows(
    layout: TableLayout, rows: list[list[Any]], incomplete: list[int]
) -> tuple[tuple[str, ...], list[list[Any]]]:
    """Fill unset columns (Python defaults, else NULL) and leave server-generated ones to the server.

    ``incomplete``: the indexes of the rows with an unset column (``MISSING``), as
    :meth:`~seedkit.bulk.rows.TableLayout.rows` gives them.
    """
    keep = list(range(len(layout.columns)))
    if incomplete:
        incomplete_rows = [rows[i] for i in incomplete]
        unset_everywhere = [
            i for i in keep if layout.server_generated[i] and all(row[i] is MISSING for row in rows)
        ]
        for row in incomplete_rows:
            for i, value in enumerate(row):
                if value is MISSING and i not in unset_everywhere:
                    if layout.server_generated[i]:
                        raise FactoryError(
                            f"bulk seeding: {layout.table.name}.{layout.names[i]} is set on some rows and "
                            "left to the database on others; set it on every row or on none"
                        )
                    default = layout.defaults[i]
                    row[i] = default(DefaultContext(layout.column_keys, row)) if default is not None else None
        keep = [i for i in keep if i not in unset_everywhere]
    if layout.has_processors:
        processors = [(i, layout.processors[i]) for i in keep if layout.processors[i] is not None]
        for row in rows:
            for i, process in processors:
                row[i] = process(row[i])  # type: ignore[misc]
    if len(keep) != len(layout.columns):
        rows = [[row[i] for i in keep] for row in rows]
    return tuple(layout.names[i] for i in keep), rows


def _mapped_in(value: Any, depth: int = 3) -> Iterator[Any]:
    """Mapped instances found in ``value`` (dicts, lists, tuples, sets), a few levels deep."""
    if depth < 0:
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _mapped_in(item, depth - 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _mapped_in(item, depth - 1)
    elif hasattr(value, "_sa_instance_state") and not isinstance(value, type):
        yield value


def bulk_create(
    factory_class: type[Any],
    count: int,
    *,
    connection: Connection,
    mongo: Database[Any] | None = None,
    chunk_size: int | None = None,
    **fields: Any,
) -> Counter[str]:
    """``factory_class.create_batch(count, **fields)`` through the bulk path; rows written per table.

    The same rows as the per-object path (same IDs, same values); written with COPY into the
    connection's transaction (not committed).
    """
    with BulkSeeder(connection, mongo, chunk_size=chunk_size) as seeder:
        seeder.create(factory_class, count, **fields)
    return seeder.rows + seeder.documents
