"""Seeding volumes in fixed partitions, on any number of worker processes, with one result.

A volume larger than ``partition_size`` is cut into partitions of ``partition_size`` roots
(the last one smaller). Partition *p* (numbered 1, 2, ... across the run; 0 is the serial
part) is generated inside ``deterministic(seed, start, step, partition=p)``: its own random
stream, ID range and sequence range, derived from the seed and *p* only. Every partition

- starts from the same database state: a snapshot exported after the serial volumes before
  it were committed (``SET TRANSACTION SNAPSHOT``), so it never sees another partition's rows;
- starts from the same session state: what the serial part's session keeps in
  ``session.info`` (e.g. the organizations ``ReuseOrCreate`` draws from) is handed over as
  ``(class, primary key)`` references and reloaded, in the same order;
- commits on its own.

What a partition writes thus depends on the seed and its number, never on which worker ran
it or when: one worker and eight workers give the same fingerprint. Volumes up to
``partition_size`` run in the coordinating process, in order, as on the single-process path.

Mongo documents: with a Mongo server (``mongo_url``) each partition writes its own documents
with unordered ``insert_many``, chunk by chunk, while it holds the run's lock, so the
coordinator's memory does not grow with the data. An in-process mongomock database cannot be
reached from another process: its partitions' documents are sent back to the coordinator, which
inserts them as each partition ends (mongomock holds every document in the coordinator's memory
anyway).

Progress: ``progress`` is called with a :class:`PartitionProgress` after each partition ends
(in the order they end), whichever executor runs them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import factory
import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from seedkit import faults
from seedkit.bulk.collect import CollectingDatabase
from seedkit.bulk.coordinator import Coordinator, join_run, prepare_transaction
from seedkit.bulk.executors import PartitionExecutor, open_executor
from seedkit.bulk.prepared_waits import PreparedWaitWatch
from seedkit.bulk.row_builder import RowRecord, model_of
from seedkit.bulk.rows import int_range
from seedkit.bulk.seeder import MONGO_BATCH, ORM_CHUNK_SIZE, BulkSeeder, RootError, partition_keys_on_flush
from seedkit.core.clock import DEFAULT_START
from seedkit.core.declarations import IntegerFor
from seedkit.core.determinism import Deterministic, deterministic
from seedkit.core.ids import DEFAULT_INT_STRIDE
from seedkit.errors import FactoryError, SeedkitError
from seedkit.factories.binding import bind

DEFAULT_PARTITION_SIZE = 10_000
"""Root objects per partition: fixed, so the data never depends on the number of workers."""


@dataclass(frozen=True)
class VolumeSpec:
    """``factory.create_batch(count, **fields)``."""

    factory: type[Any]
    count: int
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Ref:
    """A mapped object handed to another session: its class and primary key."""

    cls: type[Any]
    key: tuple[Any, ...]


@dataclass(frozen=True)
class MongoAddress:
    """The Mongo database partitions write their documents into: ``database`` on the server at ``url``."""

    url: str
    database: str

    def connect(self) -> Database[Any]:
        """A connection to the database (the caller closes its client).

        Raises:
            DatabaseUnavailable: the server does not answer.
        """
        from seedkit.stores.mongo import connect

        return connect(self.url, self.database)


@dataclass(frozen=True)
class PartitionProgress:
    """Where a partitioned run stands, reported after each partition ends.

    ``done`` of ``total`` partitions have ended (every partitioned volume of the run counted);
    ``rows`` and ``documents`` are what the run has written so far (rows are counted on the bulk
    path only).
    """

    done: int
    total: int
    rows: int
    documents: int


@dataclass(frozen=True)
class _Outcome:
    """What a partition wrote (``written``: documents it inserted itself) or hands back (``documents``)."""

    rows: Counter[str]
    written: Counter[str]
    documents: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class _Partition:
    url: str
    snapshot: str
    number: int
    volume: VolumeSpec
    count: int
    info: Any
    seed: int
    start: datetime
    step: timedelta
    bulk: bool
    chunk_size: int | None
    gid: str | None
    """With a coordinator: the global id to PREPARE under instead of committing."""
    mongo: MongoAddress | None
    """Where the partition writes its documents; None: it hands them back to the coordinator."""
    last: int = 0
    """The highest partition number of the run (integer keys the database generates share ranges)."""
    first: int = 0
    """How many of the volume's roots the partitions before this one make (an error numbers its root in the volume)."""


@dataclass
class PartitionedResult:
    """What a partitioned run wrote (rows counted on the bulk path only)."""

    rows: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    partitions: int = 0
    workers: int = 1


def plan_partitions(count: int, partition_size: int) -> list[int]:
    """Root counts of the partitions of a volume of ``count`` roots."""
    return [min(partition_size, count - start) for start in range(0, count, partition_size)]


def seed_partitioned(
    url: str,
    volumes: Sequence[VolumeSpec | tuple[type[Any], int, Mapping[str, Any]]],
    *,
    seed: int | None = None,
    start: str | datetime = DEFAULT_START,
    step: str | float | timedelta = "1s",
    workers: int = 1,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    bulk: bool = True,
    chunk_size: int | None = None,
    mongo: Database[Any] | None = None,
    context: Deterministic | None = None,
    coordinator: Coordinator | None = None,
    executor: str | PartitionExecutor = "processes",
    scheduler: str | None = None,
    mongo_url: str | None = None,
    progress: Callable[[PartitionProgress], None] | None = None,
) -> PartitionedResult:
    """Create ``volumes`` in order on the database at ``url`` (see the module docstring).

    Without ``coordinator`` it commits as it goes (each serial stretch of volumes, then each
    partition), so a failure leaves earlier work committed: run it on a database you can reset.
    With a :class:`~seedkit.bulk.coordinator.Coordinator` (entered, its undo kept), each
    partition is prepared under the coordinator's global id and the partitions of a volume are
    committed together once all are prepared; on any failure the caller's coordinator rolls the
    whole run back (see :mod:`seedkit.bulk.coordinator`). ``bulk=False`` uses the
    per-object path (``create_batch`` through a session) with the same partitioning, and gives
    the same rows.

    ``executor``: where partitions run: ``"processes"`` (a local pool of ``workers`` processes),
    ``"dask"`` (a Dask LocalCluster of ``workers`` processes, or the scheduler at ``scheduler``),
    or an open :class:`~seedkit.bulk.executors.PartitionExecutor` (not closed here). The data
    is the same whichever runs them.

    ``mongo_url``: the URL of ``mongo``'s server; partitions then write their documents
    themselves (see the module docstring). ``progress``: called with a
    :class:`PartitionProgress` after each partition ends.

    ``context``: an active ``deterministic(...)`` context to continue (e.g. after packs were
    applied in it) instead of opening ``deterministic(seed, start, step)``; the seed, start and
    step then come from it.
    """
    if context is not None:
        if seed is not None and seed != context.seed:
            raise ValueError(f"seed {seed} differs from the context's seed {context.seed}")
        seed = context.seed
    if seed is None:
        raise ValueError("give a seed or a deterministic context")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if partition_size < 1:
        raise ValueError("partition_size must be >= 1")
    specs = [v if isinstance(v, VolumeSpec) else VolumeSpec(*v) for v in volumes]
    stride = context.int_stride if context is not None else DEFAULT_INT_STRIDE
    check_key_ranges(specs, partition_size, stride)
    result = PartitionedResult(workers=workers)
    address = MongoAddress(mongo_url, mongo.name) if mongo is not None and mongo_url is not None else None
    total = sum(
        len(plan_partitions(spec.count, partition_size)) for spec in specs if spec.count > partition_size
    )
    engine = sa.create_engine(url)
    opened_executor = (
        open_executor(executor, workers, scheduler=scheduler)
        if isinstance(executor, str)
        else nullcontext(executor)
    )
    try:
        opened = (
            nullcontext(context) if context is not None else deterministic(seed, start, step, freeze=True)
        )
        with opened_executor as runner, opened as context, engine.connect() as conn:
            info: Any = {}
            serial: list[VolumeSpec] = []
            number = 0
            for spec in [*specs, None]:
                if spec is not None and spec.count <= partition_size:
                    serial.append(spec)
                    continue
                if serial:
                    info = _run_serial(conn, serial, info, bulk, chunk_size, mongo, result)
                    serial = []
                if spec is None:
                    break
                counts = plan_partitions(spec.count, partition_size)
                if number == 0 and progress is not None:  # the partitions begin
                    progress(
                        PartitionProgress(0, total, sum(result.rows.values()), sum(result.documents.values()))
                    )
                with _exported_snapshot(engine) as snapshot:
                    jobs = [
                        _Partition(
                            url,
                            snapshot,
                            number + i + 1,
                            spec,
                            n,
                            info,
                            seed,
                            context.clock.start,
                            context.clock.step,
                            bulk,
                            chunk_size,
                            coordinator.gid(number + i + 1) if coordinator else None,
                            address,
                            total,
                            sum(counts[:i]),
                        )
                        for i, n in enumerate(counts)
                    ]
                    try:
                        with closing(runner.map(_run_partition, jobs)) as ended:
                            for index, outcome in ended:
                                job = jobs[index]
                                if job.gid is not None and coordinator is not None:
                                    coordinator.prepared_by(job.gid)
                                result.rows.update(outcome.rows)
                                result.documents.update(outcome.written)
                                _insert_documents(mongo, outcome.documents, result)
                                result.partitions += 1
                                faults.point("workers.partition-ended")
                                if progress is not None:
                                    progress(
                                        PartitionProgress(
                                            result.partitions,
                                            total,
                                            sum(result.rows.values()),
                                            sum(result.documents.values()),
                                        )
                                    )
                    except BaseException:
                        # No partition may start or run on after the caller rolls the run back.
                        runner.stop()
                        raise
                if coordinator is not None:
                    coordinator.commit_stage()  # the next volume's partitions see these rows
                number += len(counts)
    finally:
        engine.dispose()
    return result


def check_key_ranges(specs: Sequence[VolumeSpec], partition_size: int, stride: int) -> None:
    """Refuse, before anything is written, partitions whose keys would not fit an integer column.

    Partition ``p``'s ``IntegerFor`` keys and factory sequences start at ``p * stride``: a
    volume cut into many partitions reaches past ``integer`` (from partition 3 with the
    default stride). Each factory's ``IntegerFor`` and ``Sequence`` declarations feeding a
    ``smallint``/``integer`` column of its model (its SubFactories' too) are checked.
    """
    last = 0
    for spec in specs:
        if spec.count > partition_size:
            last += len(plan_partitions(spec.count, partition_size))
    if last == 0:
        return
    highest_key = last * stride + partition_size
    seen: set[type] = set()
    pending = [spec.factory for spec in specs if spec.count > partition_size]
    while pending:
        factory_class = pending.pop()
        if factory_class in seen:
            continue
        seen.add(factory_class)
        table = getattr(getattr(factory_class._meta, "model", None), "__table__", None)
        for name, declaration in factory_class._meta.declarations.items():
            if isinstance(declaration, factory.SubFactory):
                pending.append(declaration.get_factory())
                continue
            if not isinstance(declaration, IntegerFor | factory.Sequence) or table is None:
                continue
            column = table.columns.get(name)
            bounds = int_range(column.type) if column is not None else None
            if bounds is not None and highest_key > bounds[1]:
                kind = "IntegerFor" if isinstance(declaration, IntegerFor) else "Sequence"
                raise FactoryError(
                    f"{factory_class.__name__}.{name} ({kind}) feeds {table.name}.{name} ({column.type}): "
                    f"with {last} partitions its keys reach {highest_key:,}, past {bounds[1]:,}; make the "
                    "column bigint, use larger partitions (--partition-size) or seed without --workers"
                )


@contextmanager
def _exported_snapshot(engine: Engine) -> Iterator[str]:
    """A snapshot of the committed database, valid while the block runs."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())


def _run_serial(
    conn: Connection,
    volumes: list[VolumeSpec],
    info: Any,
    bulk: bool,
    chunk_size: int | None,
    mongo: Database[Any] | None,
    result: PartitionedResult,
) -> Any:
    """Create small volumes in this process (partition 0) and commit; return the session state."""
    with conn.begin(), _session(conn, info, bulk, chunk_size, mongo) as (session, seeder):
        for spec in volumes:
            _create(spec.factory, spec.count, spec.fields, seeder, chunk_size)
        if seeder is not None:
            seeder.finish()
            result.rows.update(seeder.rows)
            result.documents.update(seeder.documents)
        else:
            session.flush()
        carried = _to_refs(session.info)
    return carried


def _run_partition(job: _Partition) -> _Outcome:
    """Create one partition on its own connection and snapshot; commit (or prepare). Runs in a worker.

    Documents go into ``job.mongo`` chunk by chunk before the transaction prepares, so all of
    them are written while the partition holds the run's lock (see
    :mod:`seedkit.bulk.coordinator`); without ``job.mongo`` they are handed back.
    """
    engine = sa.create_engine(job.url, poolclass=sa.pool.NullPool)
    target = job.mongo.connect() if job.mongo is not None else None
    try:
        with engine.connect() as conn:
            if job.gid is not None:
                join_run(conn, job.gid)
            watch = PreparedWaitWatch(engine, conn)
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with watch, conn.begin():
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{job.snapshot}'")
                collector = CollectingDatabase(target)
                written: Counter[str] = Counter()

                def write_documents() -> None:
                    if target is not None:
                        written.update(insert_documents(target, collector.take()))

                sink = target if target is not None and job.bulk else collector
                with (
                    deterministic(job.seed, job.start, job.step, partition=job.number, freeze=True),
                    _session(conn, job.info, job.bulk, job.chunk_size, sink, job.last) as (session, seeder),
                ):
                    spec = job.volume
                    try:
                        _create(spec.factory, job.count, spec.fields, seeder, job.chunk_size, write_documents)
                    except RootError as exc:  # numbered within the partition: number it within the volume
                        raise FactoryError(
                            f"{exc.located(job.first)} (in the partition of roots {job.first + 1}-"
                            f"{job.first + job.count})"
                        ) from exc
                    if seeder is not None:
                        seeder.finish()
                        outcome = _Outcome(
                            Counter(seeder.rows), Counter(seeder.documents), seeder.take_documents()
                        )
                    else:
                        session.flush()
                        write_documents()
                        outcome = _Outcome(Counter(), written, collector.take())
                if job.gid is not None:
                    prepare_transaction(conn, job.gid)
                    faults.point("workers.prepared")
            return outcome
    finally:
        engine.dispose()
        if target is not None:
            target.client.close()


@contextmanager
def _session(
    conn: Connection, info: Any, bulk: bool, chunk_size: int | None, mongo: Any, last: int = 0
) -> Iterator[tuple[Session, BulkSeeder | None]]:
    """A bulk seeder's session, or a plain one bound for factories; ``info`` reloaded into it."""
    if bulk:
        keep_documents = isinstance(mongo, CollectingDatabase)
        seeder = BulkSeeder(
            conn,
            None if keep_documents else mongo,
            chunk_size=chunk_size,
            keep_documents=keep_documents,
            last_partition=last,
        )
        try:
            seeder.session.info.update(_from_refs(seeder.session, info))
            with seeder.bound():
                yield seeder.session, seeder
        finally:
            seeder.close()
    else:
        with (
            Session(bind=conn, autoflush=False) as session,
            bind(session=session, mongo=mongo, override=True),
        ):
            session.info.update(_from_refs(session, info))
            partition_keys_on_flush(session, last)
            yield session, None


def _create(
    factory: type[Any],
    count: int,
    fields: Mapping[str, Any],
    seeder: BulkSeeder | None,
    chunk: int | None,
    after_chunk: Callable[[], None] | None = None,
) -> None:
    if seeder is not None:
        seeder.create(factory, count, **fields)
        return
    chunk = chunk or ORM_CHUNK_SIZE
    for done in range(0, count, chunk):
        factory.create_batch(min(chunk, count - done), **fields)
        if after_chunk is not None:
            after_chunk()


def insert_documents(mongo: Database[Any], documents: Mapping[str, list[dict[str, Any]]]) -> Counter[str]:
    """Insert ``documents`` (collection name -> documents) with unordered ``insert_many`` calls of
    at most ``MONGO_BATCH`` documents; returns how many went into each collection.

    Raises:
        pymongo.errors.BulkWriteError: a document was refused (e.g. a duplicate key); the others
            of its batch are inserted (unordered), which the run's rollback takes back.
    """
    counts: Counter[str] = Counter()
    for name, docs in documents.items():
        for begin in range(0, len(docs), MONGO_BATCH):
            mongo[name].insert_many(docs[begin : begin + MONGO_BATCH], ordered=False)
        counts[name] += len(docs)
    return counts


def _insert_documents(
    mongo: Database[Any] | None, documents: dict[str, list[dict[str, Any]]], result: PartitionedResult
) -> None:
    """Documents a partition handed back (mongomock), inserted by the coordinator."""
    if documents and mongo is None:
        raise SeedkitError(
            f"factories made {next(iter(documents))!r} documents but no Mongo database was given"
        )
    if mongo is not None:
        result.documents.update(insert_documents(mongo, documents))


# -- carrying session state across sessions and processes ---------------------------------------
def _to_refs(value: Any) -> Any:
    """``value`` with every mapped object replaced by a :class:`_Ref` (containers rebuilt)."""
    if isinstance(value, dict):
        return {k: _to_refs(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_to_refs(v) for v in value)
    if hasattr(value, "_sa_instance_state") and not isinstance(value, type):
        mapper = sa.inspect(value).mapper
        return _Ref(mapper.class_, tuple(mapper.primary_key_from_instance(value)))
    if isinstance(value, RowRecord):  # a row-path record in a reuse pool: its written row
        record_mapper: Any = sa.inspect(model_of(type(value)))
        keys = [record_mapper.get_property_by_column(column).key for column in record_mapper.primary_key]
        return _Ref(record_mapper.class_, tuple(value.__dict__.get(key) for key in keys))
    return value


def _from_refs(session: Session, value: Any) -> Any:
    """The inverse of :func:`_to_refs`: objects loaded in ``session`` (one query per class)."""
    wanted: dict[type[Any], set[tuple[Any, ...]]] = {}
    _collect_refs(value, wanted)
    loaded: dict[tuple[type[Any], tuple[Any, ...]], Any] = {}
    for cls, keys in wanted.items():
        mapper = sa.inspect(cls)
        columns = mapper.primary_key
        key_list = sorted(keys, key=repr)
        for begin in range(0, len(key_list), 1000):
            batch = key_list[begin : begin + 1000]
            rows = session.scalars(sa.select(cls).where(sa.tuple_(*columns).in_(batch))).all()
            for obj in rows:
                loaded[(cls, tuple(mapper.primary_key_from_instance(obj)))] = obj
    return _replace_refs(value, loaded)


def _collect_refs(value: Any, wanted: dict[type[Any], set[tuple[Any, ...]]]) -> None:
    if isinstance(value, _Ref):
        wanted.setdefault(value.cls, set()).add(value.key)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_refs(item, wanted)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect_refs(item, wanted)


def _replace_refs(value: Any, loaded: dict[tuple[type[Any], tuple[Any, ...]], Any]) -> Any:
    if isinstance(value, _Ref):
        found = loaded.get((value.cls, value.key))
        if found is None:
            raise SeedkitError(f"{value.cls.__name__} {value.key} kept by the session is not in the database")
        return found
    if isinstance(value, dict):
        return {k: _replace_refs(v, loaded) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_replace_refs(v, loaded) for v in value)
    return value
