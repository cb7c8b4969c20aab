"""Per-test reset cost on a 20-table, 50,000-row database, for a test that wrote 10 rows.

The "test" commits 10 row changes in parent and child tables (4 inserts into ``t02``, 4 into
its child ``t04``, 1 update in ``t05``, 1 delete in ``t20``), then the strategy brings the
database back to the seeded state. Only the reset is timed. After each strategy's runs the
database's fingerprint is compared with the seeded one (strategies that only empty tables
are reseeded, untimed, before the next run).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.db import admin, create_database, drop_database, pg_dump, pg_restore
from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.postgres import with_database

TABLES = [f"t{i:02d}" for i in range(1, 21)]
ROWS_PER_TABLE = 2_500
COPY_SCHEMA = "seed_copy"
NEEDS_COPY = {"truncate", "truncate-reseed", "seedkit-truncate", "delete"}


def parent_of(table: str) -> str | None:
    index = int(table[1:])
    return None if index == 1 else f"t{index // 2:02d}"


def children_first() -> list[str]:
    return sorted(TABLES, key=lambda t: -int(t[1:]))


def build(url: str) -> None:
    """The 20 tables (a tree of foreign keys), 2,500 rows each."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in TABLES:
            parent = parent_of(table)
            reference = f"REFERENCES {parent} (id)" if parent else ""
            conn.execute(
                sa.text(
                    f"CREATE TABLE {table} (id bigint PRIMARY KEY, parent_id bigint {reference}, "
                    "name text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL)"
                )
            )
            if parent:
                conn.execute(sa.text(f"CREATE INDEX ix_{table}_parent ON {table} (parent_id)"))
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} SELECT g, {'g' if parent else 'NULL'}, 'row ' || g, "
                    "(g % 1000) / 10.0, timestamptz '2025-01-01' + g * interval '1 minute' "
                    f"FROM generate_series(1, {ROWS_PER_TABLE}) g"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def add_copy(url: str) -> None:
    """A server-side copy of the seeded rows (schema ``seed_copy``), for strategies that reload."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {COPY_SCHEMA}"))
        for table in TABLES:
            conn.execute(sa.text(f"CREATE TABLE {COPY_SCHEMA}.{table} AS TABLE {table}"))
    engine.dispose()


def test_writes(conn: sa.Connection) -> None:
    """What the test did: 10 committed row changes in parent and child tables."""
    conn.execute(
        sa.text(
            "INSERT INTO t02 SELECT g, 1, 'new', 1, timestamptz '2025-02-01' "
            "FROM generate_series(100001, 100004) g"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO t04 SELECT g, g, 'new', 1, timestamptz '2025-02-01' "
            "FROM generate_series(100001, 100004) g"
        )
    )
    conn.execute(sa.text("UPDATE t05 SET amount = amount + 1 WHERE id = 7"))
    conn.execute(sa.text("DELETE FROM t20 WHERE id = 9"))


def reseed_from_copy(conn: sa.Connection, tables: list[str] | None = None) -> None:
    """TRUNCATE the tables and put the seeded rows back from the server-side copy."""
    names = tables or TABLES
    conn.execute(sa.text(f"TRUNCATE {', '.join(names)}"))
    for table in sorted(names, key=lambda t: int(t[1:])):
        conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM {COPY_SCHEMA}.{table}"))


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1000, "p90_ms": p90 * 1000, "runs": len(ordered)}


def run(server_url: str, *, quick: bool, log: Any) -> dict[str, Any]:
    runs = 10 if quick else 40
    seeded_name = "test_bench_resets_seeded"
    seeded_url = create_database(server_url, seeded_name)
    build(seeded_url)
    expected = _fingerprint(seeded_url)
    work_name = "test_bench_resets_work"
    results: dict[str, Any] = {"runs": runs, "tables": len(TABLES), "rows": len(TABLES) * ROWS_PER_TABLE}
    strategies: list[tuple[str, str, Callable[[str, str, str, int], list[float]]]] = [
        ("BEGIN/ROLLBACK (test inside a transaction)", "rollback", _rollback),
        ("seedkit rollback strategy (begin + end)", "seedkit-rollback", _seedkit_rollback),
        ("TRUNCATE all tables (empties them only)", "truncate", _truncate_only),
        ("TRUNCATE + reseed from a server-side copy", "truncate-reseed", _truncate_reseed),
        ("seedkit truncate strategy, reseed from a server-side copy", "seedkit-truncate", _seedkit_truncate),
        ("DELETE in FK order (empties them only)", "delete", _delete_only),
        ("template clone (DROP + CREATE DATABASE ... TEMPLATE)", "template", _template_clone),
        (
            "template clone, STRATEGY FILE_COPY (DROP + CREATE DATABASE ... TEMPLATE)",
            "template-file-copy",
            _template_clone_file_copy,
        ),
        ("seedkit snapshot strategy, warm pool of clones", "seedkit-template", _seedkit_template),
        (
            "seedkit snapshot strategy, no pool (`pool_size=0`)",
            "seedkit-template-no-pool",
            _seedkit_template_no_pool,
        ),
        ("pg_restore --clean of a pg_dump -Fc", "pg_restore", _pg_restore),
        ("seedkit changed-rows reset (only what the test touched)", "changed", _seedkit_changed),
    ]
    for label, key, measure in strategies:
        work_url = create_database(server_url, work_name, template=seeded_name)
        if key in NEEDS_COPY:
            add_copy(work_url)
        samples = measure(server_url, seeded_name, work_url, runs)
        restored = (
            _fingerprint(with_database(server_url, work_name)) == expected
            if key not in {"truncate", "delete"}
            else None
        )
        drop_database(server_url, work_name)
        results[key] = {"label": label, **summary(samples), "restores_seed": restored}
        log(
            f"  reset {label:<58} median {results[key]['median_ms']:8.2f} ms  "
            f"p90 {results[key]['p90_ms']:8.2f} ms"
        )
    results["pool_rounds"] = _pool_rounds(
        server_url, seeded_name, rounds=3 if quick else 5, runs=runs, log=log
    )
    drop_database(server_url, seeded_name)
    return results


def _pool_rounds(server_url: str, seeded: str, *, rounds: int, runs: int, log: Any) -> dict[str, Any]:
    """The warm pool against a bare ``DROP`` + ``CREATE DATABASE ... TEMPLATE``, in alternating rounds.

    Each round measures both (``runs`` tests each) and keeps the ratio of their medians, so the
    spread of the ratio from round to round is on record (issue #11's target: <= 25%).
    """
    ratios = []
    for _ in range(rounds):
        work_name = "test_bench_resets_work"
        work_url = create_database(server_url, work_name, template=seeded)
        bare = statistics.median(_template_clone(server_url, seeded, work_url, runs))
        drop_database(server_url, work_name)
        pooled = statistics.median(_seedkit_template(server_url, seeded, work_url, runs))
        ratios.append(pooled / bare)
    result = {
        "rounds": rounds,
        "runs": runs,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "min_ratio": min(ratios),
        "max_ratio": max(ratios),
    }
    log(
        f"  warm pool / bare clone + drop: median {result['median_ratio']:.1%} "
        f"(rounds {result['min_ratio']:.1%} - {result['max_ratio']:.1%})"
    )
    return result


def _fingerprint(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        digest = fingerprint(conn, schema="public").digest
    engine.dispose()
    return digest


def _timed_loop(
    url: str,
    runs: int,
    reset: Callable[[sa.Connection], None],
    after: Callable[[sa.Connection], None] | None = None,
) -> list[float]:
    engine = sa.create_engine(url)
    samples = []
    with engine.connect() as conn:
        for _ in range(runs):
            with conn.begin():
                test_writes(conn)
            started = time.perf_counter()
            with conn.begin():
                reset(conn)
            samples.append(time.perf_counter() - started)
            if after is not None:
                with conn.begin():
                    after(conn)
    engine.dispose()
    return samples


def _rollback(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    engine = sa.create_engine(url)
    samples = []
    with engine.connect() as conn:
        for _ in range(runs):
            started = time.perf_counter()
            transaction = conn.begin()
            overhead = time.perf_counter() - started
            test_writes(conn)
            started = time.perf_counter()
            transaction.rollback()
            samples.append(overhead + time.perf_counter() - started)
    engine.dispose()
    return samples


def _strategy_loop(strategy: Any, runs: int, *, time_begin: bool) -> list[float]:
    """Time ``end()`` (and ``begin()`` when it does per-test work) of a seedkit strategy over ``runs`` tests."""
    strategy.prepare()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        handle = strategy.begin()
        overhead = time.perf_counter() - started if time_begin else 0.0
        if isinstance(handle.bind, sa.Connection):  # rollback: the test writes inside its transaction
            test_writes(handle.bind)
        else:
            with handle.engine.begin() as conn:
                test_writes(conn)
        started = time.perf_counter()
        strategy.end(handle)
        samples.append(overhead + time.perf_counter() - started)
    strategy.close()
    return samples


def _seedkit_rollback(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    from seedkit.isolation import RollbackStrategy

    return _strategy_loop(RollbackStrategy(url), runs, time_begin=True)


def _truncate_only(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    def truncate(conn: sa.Connection) -> None:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))

    return _timed_loop(url, runs, truncate, reseed_from_copy)


def _truncate_reseed(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    return _timed_loop(url, runs, reseed_from_copy)


def _seedkit_truncate(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    from seedkit.isolation import TruncateStrategy

    def reseed(engine: sa.Engine, mongo: Any) -> None:
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM {COPY_SCHEMA}.{table}"))

    # schema="public": every application schema is truncated by default, the seeded copy's too
    strategy = TruncateStrategy(url, reseed=reseed, schema="public")
    return _strategy_loop(strategy, runs, time_begin=False)


def _delete_only(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    def delete(conn: sa.Connection) -> None:
        for table in children_first():
            conn.execute(sa.text(f"DELETE FROM {table}"))

    return _timed_loop(url, runs, delete, reseed_from_copy)


def _template_clone(server_url: str, seeded: str, url: str, runs: int, strategy: str = "") -> list[float]:
    work = url.rsplit("/", 1)[-1]
    engine = admin(server_url)
    samples = []
    with engine.connect() as conn:
        for _ in range(runs):
            test_engine = sa.create_engine(url)
            with test_engine.begin() as test_conn:
                test_writes(test_conn)
            test_engine.dispose()
            started = time.perf_counter()
            conn.execute(sa.text(f'DROP DATABASE "{work}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{work}" TEMPLATE "{seeded}"{strategy}'))
            samples.append(time.perf_counter() - started)
    engine.dispose()
    return samples


def _template_clone_file_copy(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    return _template_clone(server_url, seeded, url, runs, " STRATEGY FILE_COPY")


def _seedkit_template(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    """The snapshot strategy with its pool warm: each test starts once the pool is full and idle
    (as when tests last longer than a clone); ``begin()`` + ``end()`` are timed."""
    from seedkit.isolation import SnapshotStrategy

    strategy = SnapshotStrategy(
        with_database(server_url, seeded), server_url=server_url, clone_prefix="test_bench_clone"
    )
    strategy.prepare()
    samples = []
    try:
        for _ in range(runs):
            if not strategy.wait_warm(120):
                raise RuntimeError("the clone pool did not fill within 120 s")
            started = time.perf_counter()
            handle = strategy.begin()
            overhead = time.perf_counter() - started
            with handle.engine.begin() as conn:
                test_writes(conn)
            started = time.perf_counter()
            strategy.end(handle)
            samples.append(overhead + time.perf_counter() - started)
    finally:
        strategy.close()
    return samples


def _seedkit_template_no_pool(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    from seedkit.isolation import SnapshotStrategy

    strategy = SnapshotStrategy(
        with_database(server_url, seeded), server_url=server_url, clone_prefix="test_bench_clone", pool_size=0
    )
    return _strategy_loop(strategy, runs, time_begin=True)  # begin() clones the database


def _seedkit_changed(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    from seedkit.isolation.changed import ChangedRowsStrategy

    # close() removes the tracking; the fingerprint check afterwards reads only the public tables.
    return _strategy_loop(ChangedRowsStrategy(url), runs, time_begin=False)


def _pg_restore(server_url: str, seeded: str, url: str, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "seeded.dump"
        pg_dump(url, dump, f"--exclude-schema={COPY_SCHEMA}")
        engine = sa.create_engine(url)
        samples = []
        for _ in range(runs):
            with engine.begin() as conn:
                test_writes(conn)
            engine.dispose()
            started = time.perf_counter()
            pg_restore(url, dump)
            samples.append(time.perf_counter() - started)
        engine.dispose()
    return samples
