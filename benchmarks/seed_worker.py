"""One seeding measurement in a fresh process: ``python -m benchmarks.seed_worker METHOD USERS URL``.

Prints one JSON line: seconds (generation and writes, up to the commit), rows written, and
the process's peak RSS (its children's too, for the partitioned method). A fresh process per
measurement keeps every method's peak memory its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks.graph import ORGANIZATIONS, PRODUCTS, TABLES, copy_tuples, seed_naive, tuples

METHODS = (
    "copy",
    "faker-copy",
    "tables",
    "tables-2-workers",
    "bulk",
    "bulk-1-worker",
    "bulk-2-workers",
    "ordinary",
    "ordinary-orm",
    "ordinary-values",
    "bulk-2-dask",
    "per-object",
    "naive",
)


PARTITIONED = {
    "bulk-1-worker": ("processes", 1),
    "bulk-2-workers": ("processes", 2),
    "bulk-2-dask": ("dask", 2),
}
"""Methods seeding through ``seed_partitioned``: (executor, workers). They write the same data."""


def partition_size(users: int) -> int:
    """Roots per partition for N users: about 8 partitions of customers, never fewer roots than the
    products (organizations and products stay in the coordinator). Fixed by N, never by the
    number of workers, so every partitioned method writes the same data."""
    return max(PRODUCTS, -(-users // 8))


def _reference_volumes(users: int) -> list[tuple[Any, int, dict[str, Any]]]:
    from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory

    return [
        (OrganizationFactory, ORGANIZATIONS, {}),
        (ProductFactory, PRODUCTS, {}),
        (CustomerFactory, users, {"orders": 1, "orders__items": 2}),
    ]


def table_volumes(users: int) -> list[Any]:
    """The graph as table volumes of the row engine (issue #10): one order per user, two items per order."""
    from seedkit.generate import PerParent, TableVolume

    return [
        TableVolume("organizations", ORGANIZATIONS),
        TableVolume("products", PRODUCTS),
        TableVolume("users", users),
        TableVolume("orders", users, {"user_id": PerParent(1, 1)}),
        TableVolume("order_items", 2 * users, {"order_id": PerParent(2, 2)}),
        TableVolume("payments", users, {"order_id": PerParent(1, 1)}),
    ]


def _generate_tables(users: int, conn: sa.Connection, workers: int) -> None:
    from seedkit.core.clock import DEFAULT_START, parse_instant
    from seedkit.generate import generate, plan_tables

    plan = plan_tables(conn, table_volumes(users), seed=1)
    generate(conn, plan, base=parse_instant(DEFAULT_START), workers=workers)


def run(method: str, users: int, url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    prepared: list[Any] = []
    if method == "copy":  # generated before the clock starts: only the writes are timed
        prepared = list(tuples(users, fake_names=False))
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    if method in PARTITIONED:
        from seedkit.bulk import seed_partitioned
        from seedkit.bulk.executors import open_executor

        name, workers = PARTITIONED[method]
        with open_executor(name, workers) as executor:  # a LocalCluster starts here: timed, and told apart
            extra["startup_s"] = time.perf_counter() - started
            seed_partitioned(
                url, _reference_volumes(users), seed=1, workers=workers, executor=executor,
                partition_size=partition_size(users),
            )  # fmt: skip
            seconds = time.perf_counter() - started
    else:
        with engine.connect() as conn, conn.begin():
            _seed(method, users, conn, prepared)
        seconds = time.perf_counter() - started
    with engine.connect() as conn:
        rows = sum(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES)
        if method in PARTITIONED:  # the report checks that they wrote the same data
            from seedkit.stores.fingerprint import fingerprint

            extra["digest"] = fingerprint(conn).digest
            extra["partition_size"] = partition_size(users)
    engine.dispose()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "method": method,
        "users": users,
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "peak_rss_mb": max(own, children) / 1024,
        **extra,
    }


def _seed(method: str, users: int, conn: sa.Connection, prepared: list[Any]) -> None:
    # seedkit is imported only by its own methods: it speeds up Faker (seedkit.core.faker_paths),
    # which would make the factory_boy and hand-written baselines faster than they are alone.
    driver = conn.connection.driver_connection
    if method == "copy":
        copy_tuples(driver, prepared)
    elif method == "faker-copy":
        copy_tuples(driver, list(tuples(users, fake_names=True)))
    elif method in ("tables", "tables-2-workers"):
        _generate_tables(users, conn, 2 if method == "tables-2-workers" else 1)
    elif method == "bulk":
        from seedkit.bulk import BulkSeeder
        from seedkit.core.determinism import deterministic

        with deterministic(seed=1), BulkSeeder(conn) as seeder:
            for factory_class, count, fields in _reference_volumes(users):
                seeder.create(factory_class, count, **fields)
    elif method in ("ordinary", "ordinary-orm"):
        from benchmarks.ordinary import seed_ordinary
        from seedkit.bulk import BulkSeeder
        from seedkit.core.determinism import deterministic

        with deterministic(seed=1), BulkSeeder(conn, row_path=method == "ordinary") as seeder:
            seed_ordinary(seeder, users, ORGANIZATIONS, PRODUCTS)
    elif method == "ordinary-values":
        from benchmarks.ordinary_values import seed_ordinary_values
        from seedkit.bulk import BulkSeeder
        from seedkit.core.determinism import deterministic

        with deterministic(seed=1), BulkSeeder(conn) as seeder:
            seed_ordinary_values(seeder, users, ORGANIZATIONS, PRODUCTS)
    elif method == "per-object":
        from seedkit.core.determinism import deterministic
        from seedkit.factories.binding import bind

        with deterministic(seed=1), Session(bind=conn, autoflush=False) as session, bind(session=session):
            for factory_class, count, fields in _reference_volumes(users):
                factory_class.create_batch(count, **fields)
            session.flush()
    elif method == "naive":
        with Session(bind=conn, autoflush=False) as session:
            seed_naive(session, users)
            session.flush()
    else:
        raise SystemExit(f"unknown method {method!r}; known: {', '.join(METHODS)}")


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
