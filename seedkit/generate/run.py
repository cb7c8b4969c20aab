"""Running a generation plan: rows as tuples, partition by partition, written by COPY.

For each table, in insert order, the volume is cut into fixed partitions
(:func:`seedkit.bulk.partitions.plan_partitions`, :data:`~seedkit.bulk.partitions.DEFAULT_PARTITION_SIZE`
rows each). Partition *p* of table *T* is generated from its own random stream,
``derive_seed(seed, "generate", T, p)``, and the global indexes of its rows; what it contains
therefore never depends on which process generated it. With ``workers > 1`` partitions are
generated in worker processes (spawned) and sent back; this process writes every row, in
partition order, with one :class:`~seedkit.bulk.copy.CopyWriter` (binary COPY, from a
background thread, while the next partition is generated) in the caller's transaction. One
transaction for everything: a failure rolls all of it back, and deferrable keys are checked at
its commit. The same seed gives the same rows for any number of workers.

Before the first write, :func:`try_sample` generates the first rows of every table and asks
PostgreSQL whether they satisfy the tables' CHECK constraints (a SELECT, nothing written).

Afterwards: broken cycles are closed by UPDATE (their keys drawn from a stream of their own)
and the sequences behind identity and serial columns are moved past the rows written.
"""

from __future__ import annotations

import json
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Json, Jsonb
from psycopg.types.range import Range
from sqlalchemy.engine import Connection

from seedkit.bulk.copy import CopyJob, CopyWriter
from seedkit.bulk.partitions import DEFAULT_PARTITION_SIZE, plan_partitions
from seedkit.core.determinism import derive_seed
from seedkit.errors import ConfigError
from seedkit.generate.plan import Deferred, GenerationPlan, TablePlan
from seedkit.generate.providers import Batch
from seedkit.generate.references import Combination, ParentKeys

SAMPLE_ROWS = 50
"""Rows per table :func:`try_sample` generates and checks before anything is written."""

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class _Job:
    plan: TablePlan
    partition: int
    start: int
    size: int
    seed: int
    base: datetime


def partition_rows(
    plan: TablePlan, partition: int, start: int, size: int, seed: int, base: datetime
) -> list[tuple[Any, ...]]:
    """The rows (tuples in ``plan.written`` order) of one partition: ``size`` rows from global index ``start``.

    Deterministic: depends only on the plan (with its keys set), the seed, the table, the
    partition number and ``base`` (the clock's start).
    """
    rng = random.Random(derive_seed(seed, "generate", plan.name, partition))
    batch = Batch(rng, start, size, {}, base)
    done = batch.done
    for step in plan.steps:
        values = step.provider.values(batch)
        if len(step.columns) == 1:
            done[step.columns[0]] = values
        else:
            for index, column in enumerate(step.columns):
                done[column] = [v[index] for v in values]
    return list(zip(*(done[c] for c in plan.written), strict=True))


def _run_job(job: _Job) -> list[tuple[Any, ...]]:
    return partition_rows(job.plan, job.partition, job.start, job.size, job.seed, job.base)


class _Keys:
    """Keys of the tables generated so far (by table and columns), and reads of other tables' keys."""

    def __init__(self, conn: Connection, plan: GenerationPlan, writer: CopyWriter | None) -> None:
        self.conn = conn
        self.writer = writer
        self.found: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
        self.generated = {t.name for t in plan.tables}
        self.wanted: dict[str, set[tuple[str, ...]]] = {}
        for table_plan in plan.tables:
            table = table_plan.table
            if table.primary_key and table_plan.deferred:  # rows to UPDATE when closing a cycle
                self.wanted.setdefault(table.qualified, set()).add(table.primary_key)
            for fk in table.foreign_keys:
                self.wanted.setdefault(fk.referred_table, set()).add(fk.referred_columns)

    def collect(self, plan: TablePlan, rows: list[tuple[Any, ...]]) -> None:
        for columns in self.wanted.get(plan.name, ()):
            if not all(c in plan.written for c in columns):
                continue
            positions = [plan.written.index(c) for c in columns]
            target = self.found.setdefault((plan.name, columns), [])
            if len(positions) == 1:
                (at,) = positions
                target.extend(row[at] for row in rows)
            else:
                target.extend(tuple(row[i] for i in positions) for row in rows)

    def get(self, table: str, columns: tuple[str, ...], sql_name: str, existing: bool = False) -> list[Any]:
        """The keys to refer to: those generated in this run, else (or with ``existing``) the table's rows.

        With ``existing`` the rows are read once, before anything is generated (see
        :func:`_prefetch_existing`).
        """
        key = (table, columns) if not existing else ("existing:" + table, columns)
        if key not in self.found:
            if table in self.generated and not existing:
                return []
            if self.writer is not None:
                self.writer.wait_idle()
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = self.conn.exec_driver_sql(f"SELECT {listed} FROM {sql_name} ORDER BY {listed}").all()
            self.found[key] = [row[0] if len(columns) == 1 else tuple(row) for row in rows]
        return self.found[key]


def _prefetch_existing(keys: _Keys, plan: GenerationPlan, names: dict[str, str]) -> None:
    """Read the keys ``existing`` foreign keys refer to, before any row is generated."""
    for table_plan in plan.tables:
        for step in table_plan.steps:
            provider = step.provider
            pickers = provider.referred if isinstance(provider, Combination) else [provider]
            for picker in pickers:
                if isinstance(picker, ParentKeys) and picker.existing:
                    keys.get(
                        picker.referred_table, picker.referred_columns, names[picker.referred_table], True
                    )


def _prepare(
    plan: TablePlan,
    keys: _Keys,
    generation: GenerationPlan,
    names: dict[str, str],
    conn: Connection,
    sample: int | None,
) -> None:
    """Give the table's reference providers their parents' keys and counters their start.

    ``sample``: the number of rows of a sample run (counters then start at their floor).
    """
    seed = generation.seed
    total = plan.count if sample is None else sample
    for step in plan.steps:
        provider = step.provider
        if isinstance(provider, ParentKeys):
            found = keys.get(
                provider.referred_table,
                provider.referred_columns,
                names[provider.referred_table],
                provider.existing,
            )
            # A sample may run before packs fill a parent: NULL stands in (CHECKs rarely read keys).
            provider.set_keys(found or ([None] if sample is not None else []), seed, total)
        elif isinstance(provider, Combination):
            domains = []
            for static, referred in zip(provider.static, provider.referred, strict=True):
                if static is not None:
                    domains.append(static)
                else:
                    assert referred is not None
                    found = keys.get(
                        referred.referred_table,
                        referred.referred_columns,
                        names[referred.referred_table],
                        referred.existing,
                    )
                    domains.append(found or ([None] if sample is not None else []))
            if sample is None and len(provider.parts) == 1 and provider.static[0] is None and domains[0]:
                # a unique foreign key: parents already used by rows in the table (packs, factory
                # volumes, an earlier run) are not offered again
                free = _unused(conn, plan.table.sql_name, provider.parts[0], domains[0])
                if len(free) < total:
                    referred = provider.referred[0]
                    assert referred is not None
                    raise ConfigError(
                        f"table {plan.table.qualified}: unique constraint {provider.constraint} "
                        f"({', '.join(provider.columns)}): {referred.referred_table} has {len(domains[0])} "
                        f"rows, {len(domains[0]) - len(free)} already used by {plan.table.qualified}, "
                        f"{total} more asked for"
                    )
                domains[0] = free
            provider.set_domains(domains, seed)
    for column, serial in plan.serials:
        if sample is not None:
            continue
        if keys.writer is not None:
            keys.writer.wait_idle()
        current = conn.exec_driver_sql(f'SELECT max("{column}") FROM {plan.table.sql_name}').scalar()
        serial.offset = max(0, (current or 0) + 1 - serial.start)


def _unused(conn: Connection, table: str, columns: tuple[str, ...], keys: list[Any]) -> list[Any]:
    """``keys`` (single values, or tuples for several ``columns``) less those ``table`` already holds."""
    names = ", ".join(f'"{c}"' for c in columns)
    present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
    rows = conn.exec_driver_sql(f"SELECT DISTINCT {names} FROM {table} WHERE {present}").all()
    used = {row[0] if len(columns) == 1 else tuple(row) for row in rows}
    return [key for key in keys if key not in used] if used else keys


def try_sample(conn: Connection, plan: GenerationPlan, base: datetime) -> None:
    """Generate the first rows of every table and have PostgreSQL check them against the CHECK constraints.

    Nothing is written (one SELECT per constraint). Raises ConfigError naming the table and the
    constraint, and how to override its column, when a sample row breaks it.
    """
    keys = _Keys(conn, plan, None)
    names = _names(plan, conn)
    _prefetch_existing(keys, plan, names)
    for table_plan in plan.tables:
        size = min(table_plan.count, SAMPLE_ROWS)
        _prepare(table_plan, keys, plan, names, conn, sample=size)
        rows = partition_rows(table_plan, 0, 0, size, plan.seed, base)
        keys.collect(table_plan, rows)
        table = table_plan.table
        if not table.checks:
            continue
        documents = json.dumps(
            [dict(zip(table_plan.written, map(_jsonable, row), strict=True)) for row in rows]
        )
        for check in table.checks:
            expression = check.definition.removeprefix("CHECK").replace(" NOT VALID", "").strip()
            expression = expression.replace("%", "%%")  # the statement has a parameter
            statement = (
                f"SELECT count(*) FROM json_populate_recordset(NULL::{table.sql_name}, %(rows)s::json) AS t "
                f"WHERE NOT {expression}"
            )
            failed = conn.exec_driver_sql(statement, {"rows": documents}).scalar()
            if failed:
                columns = ", ".join(check.columns) or "its columns"
                raise ConfigError(
                    f"table {table.qualified}: generated rows break CHECK constraint {check.name} "
                    f"({check.definition}) in {failed} of {len(rows)} tries; override {columns} "
                    f"(columns = {{ {check.columns[0] if check.columns else 'column'} = ... }})"
                )
    for table_plan in plan.tables:  # the real run starts afresh
        for step in table_plan.steps:
            if isinstance(step.provider, ParentKeys):
                step.provider.set_keys([], plan.seed, table_plan.count)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Jsonb | Json):
        return value.obj
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Range):
        low = "" if value.lower is None else _jsonable(value.lower)
        high = "" if value.upper is None else _jsonable(value.upper)
        return f"{value.bounds[0]}{low},{high}{value.bounds[1]}"
    return str(value)


def _names(plan: GenerationPlan, conn: Connection) -> dict[str, str]:
    """SQL names of the generated tables and the tables they refer to."""
    names = {t.name: t.table.sql_name for t in plan.tables}
    for table_plan in plan.tables:
        for fk in table_plan.table.foreign_keys:
            if fk.referred_table not in names:
                schema, _, name = fk.referred_table.rpartition(".")
                names[fk.referred_table] = f'"{schema or "public"}"."{name}"'
    return names


def generate(
    conn: Connection,
    plan: GenerationPlan,
    *,
    base: datetime,
    workers: int = 1,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    progress: Progress | None = None,
    background: bool = True,
    check_sample: bool = True,
) -> Counter[str]:
    """Write ``plan``'s rows into ``conn``'s transaction (not committed); rows written per table.

    ``base`` is the deterministic clock's start (generated instants lie around it);
    ``workers`` processes generate partitions of ``partition_size`` rows (the data does not
    depend on ``workers``; it does on ``partition_size``, so keep it fixed). Raises
    ConfigError for bad input found while running (a parent table without rows), or the
    database's error. ``check_sample=False`` skips :func:`try_sample` (the caller ran it).
    """
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if check_sample:
        try_sample(conn, plan, base)
    written: Counter[str] = Counter()
    writer = CopyWriter(conn, background=background)
    pool = None
    if workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        keys = _Keys(conn, plan, writer)
        names = _names(plan, conn)
        _prefetch_existing(keys, plan, names)
        deferred = [(t, d) for t in plan.tables for d in t.deferred if d.how == "deferred"]
        if deferred:
            listed = ", ".join(f'"{t.table.schema}"."{d.foreign_key.name}"' for t, d in deferred)
            conn.exec_driver_sql(f"SET CONSTRAINTS {listed} DEFERRED")
        for table_plan in plan.tables:
            _prepare(table_plan, keys, plan, names, conn, sample=None)
            table = table_plan.table
            task = f"{table_plan.name} x {table_plan.count}"
            jobs = []
            start = 0
            for number, size in enumerate(plan_partitions(table_plan.count, partition_size)):
                jobs.append(_Job(table_plan, number, start, size, plan.seed, base))
                start += size
            outcomes: Iterator[list[tuple[Any, ...]]] = (
                pool.map(_run_job, jobs) if pool is not None and len(jobs) > 1 else map(_run_job, jobs)
            )
            done = 0
            if progress:
                progress(task, 0, table_plan.count)
            for rows in outcomes:
                writer.submit([CopyJob(table.schema, table.name, table_plan.written, rows)])
                keys.collect(table_plan, rows)
                done += len(rows)
                written[table_plan.name] += len(rows)
                if progress:
                    progress(task, done, table_plan.count)
            _release(table_plan, keys, plan)
        writer.wait_idle()
        for table_plan in plan.tables:
            for item in table_plan.deferred:
                _close_cycle(conn, writer, keys, names, plan, table_plan, item, partition_size, base)
        writer.wait_idle()
        for table_plan in plan.tables:
            _move_sequences(conn, table_plan)
    finally:
        if pool is not None:
            pool.shutdown()
        writer.close(raise_errors=False)
    return written


def _release(done: TablePlan, keys: _Keys, plan: GenerationPlan) -> None:
    """Forget the keys no table after ``done`` (nor a cycle's UPDATE) refers to: memory stays flat."""
    position = plan.tables.index(done)
    later = plan.tables[position + 1 :]
    needed = {(fk.referred_table, fk.referred_columns) for t in later for fk in t.table.foreign_keys}
    for table_plan in plan.tables:
        for item in table_plan.deferred:
            needed.add((item.foreign_key.referred_table, item.foreign_key.referred_columns))
            needed.add((table_plan.name, table_plan.table.primary_key))
    for key in list(keys.found):
        if not key[0].startswith("existing:") and key not in needed:
            del keys.found[key]
    for step in done.steps:  # the table's pickers hold their parents' keys too
        if isinstance(step.provider, ParentKeys):
            step.provider.set_keys([], plan.seed, done.count)
        elif isinstance(step.provider, Combination):
            step.provider.set_domains([], plan.seed)


def _close_cycle(
    conn: Connection,
    writer: CopyWriter,
    keys: _Keys,
    names: dict[str, str],
    plan: GenerationPlan,
    table_plan: TablePlan,
    item: Deferred,
    partition_size: int,
    base: datetime,
) -> None:
    """Set a broken foreign key by UPDATE, its values drawn from a stream of its own."""
    table = table_plan.table
    fk = item.foreign_key
    pk = table.primary_key
    if not pk:
        raise ConfigError(
            f"table {table.qualified}: foreign key {fk.name} closes a cycle but the table has no primary key"
        )
    picker: ParentKeys = item.picker
    picker.set_keys(
        keys.get(fk.referred_table, fk.referred_columns, names[fk.referred_table]),
        plan.seed,
        table_plan.count,
    )
    own = keys.get(table.qualified, pk, table.sql_name)
    temp = "_seedkit_cycle"
    columns = list(pk) + [c for c in fk.columns if c not in pk]
    listed = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {listed} FROM {table.sql_name} WITH NO DATA"
    )
    start = 0
    for number, size in enumerate(plan_partitions(table_plan.count, partition_size)):
        rng = random.Random(derive_seed(plan.seed, "close", table.qualified, fk.name, number))
        values = picker.values(Batch(rng, start, size, {}, base))
        rows = []
        for index, value in enumerate(values, start):
            key = own[index]
            key_values = [key] if len(pk) == 1 else list(key)
            fk_values = [value] if len(fk.columns) == 1 else list(value)
            rows.append(
                tuple(key_values + [v for c, v in zip(fk.columns, fk_values, strict=True) if c not in pk])
            )
        writer.submit([CopyJob(None, temp, tuple(columns), rows)])
        start += size
    writer.wait_idle()
    sets = ", ".join(f'"{c}" = s."{c}"' for c in fk.columns)
    match = " AND ".join(f't."{c}" = s."{c}"' for c in pk)
    conn.exec_driver_sql(f"UPDATE {table.sql_name} AS t SET {sets} FROM {temp} AS s WHERE {match}")
    conn.exec_driver_sql(f"DROP TABLE {temp}")


def _move_sequences(conn: Connection, plan: TablePlan) -> None:
    """Move identity/serial sequences past the largest value written, so later inserts do not collide."""
    table = plan.table
    for column in table.columns.values():
        if not column.serial or column.name not in plan.written:
            continue
        qualified = sql.Identifier(table.schema, table.name).as_string()
        sequence = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, %s)", (qualified, column.name)
        ).scalar()
        if sequence:
            conn.exec_driver_sql(
                f'SELECT setval(%s, (SELECT max("{column.name}") FROM {table.sql_name}))', (sequence,)
            )
