"""Determinism across processes: the same seed in two fresh processes gives the same data.

Each run is a new Python process (this file run as a script) with its own hash seed, its own
mongomock (or the server at SEEDKIT_TEST_MONGO_URL), and its own fresh PostgreSQL database; it
migrates, seeds a small graph on both stores and prints the fingerprint of both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedkit.core.ids import DEFAULT_INT_STRIDE

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


def seed_small_graph(
    url: str, mongo_name: str, seed: int, partition: int, migrate: bool
) -> dict[str, object]:
    """Runs in the child process: migrate, seed both stores, fingerprint them."""
    from conftest import connect_test_mongo, migrate_reference, suite_mongo_url
    from seedkit_reference.document_factories import AuditEventFactory, NotificationFactory
    from seedkit_reference.documents import ensure_indexes
    from seedkit_reference.model_factories import (
        CustomerFactory,
        OrganizationFactory,
        ProductFactory,
        UserFactory,
    )
    from sqlalchemy.orm import Session

    from seedkit.core.determinism import deterministic
    from seedkit.factories.binding import bind
    from seedkit.stores.fingerprint import fingerprint

    if migrate:
        migrate_reference(url)
    mongo = connect_test_mongo(mongo_name)
    ensure_indexes(mongo)
    engine = sa.create_engine(url)
    with (
        engine.begin() as conn,
        Session(bind=conn) as session,
        deterministic(seed, partition=partition),
        bind(session=session, mongo=mongo),
    ):
        OrganizationFactory.create_batch(2)
        ProductFactory.create_batch(6)
        customers = CustomerFactory.create_batch(5, orders="0-3")
        for customer in customers:
            for order in customer.orders:
                AuditEventFactory(order=order)
                NotificationFactory(order=order)
        NotificationFactory.create_batch(2, user=customers[0])
        AuditEventFactory(actor=UserFactory(admin=True))
        session.flush()
    with engine.connect() as conn:
        result = fingerprint(conn, mongo)
    engine.dispose()
    if suite_mongo_url() is not None:
        mongo.client.drop_database(mongo_name)
    return {"digest": result.digest, "counts": {name: part.count for name, part in result.parts.items()}}


def start_child(
    url: str, seed: int, *, hash_seed: int, partition: int = 0, migrate: bool = True
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONHASHSEED": str(hash_seed),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    args = [sys.executable, str(HERE), url, f"test_{uuid.uuid4().hex[:12]}", str(seed), str(partition)]
    if migrate:
        args.append("--migrate")
    return subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def result_of(child: subprocess.Popen[str]) -> dict[str, object]:
    out, err = child.communicate(timeout=180)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def fresh_databases(pg_server_url: str) -> Iterator[list[str]]:
    from conftest import create_database, drop_database

    names = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(3)]
    yield [create_database(pg_server_url, name) for name in names]
    for name in names:
        drop_database(pg_server_url, name)


@pytest.mark.mongo
def test_same_seed_in_two_processes_gives_identical_data(fresh_databases: list[str]) -> None:
    first, second, other = fresh_databases
    children = [
        start_child(first, 42, hash_seed=1),
        start_child(second, 42, hash_seed=2),
        start_child(other, 43, hash_seed=1),
    ]
    a, b, c = (result_of(child) for child in children)
    counts = a["counts"]
    assert isinstance(counts, dict)
    for table in ("organizations", "users", "products", "orders", "order_items", "payments"):
        assert counts[f"pg:{table}"] > 0, table
    for collection in ("audit_events", "notifications"):
        assert counts[f"mongo:{collection}"] > 0, collection
    assert a == b
    assert c["digest"] != a["digest"]


@pytest.mark.mongo
def test_parallel_partitions_write_one_database_without_collisions(
    pg_server_url: str, reference_template: str
) -> None:
    from conftest import create_database, drop_database

    name = f"test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name, template=reference_template)
    try:
        children = [start_child(url, 42, hash_seed=p, partition=p, migrate=False) for p in (0, 1)]
        for child in children:
            result_of(child)  # both committed: no unique key collided
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            users = conn.execute(sa.text("SELECT count(*), count(DISTINCT email) FROM users")).one()
            assert tuple(users) == (12, 12)  # per partition: 5 customers and 1 admin
            first_partition, total = conn.execute(
                sa.text(
                    f"SELECT count(*) FILTER (WHERE id <= {DEFAULT_INT_STRIDE}), count(*) FROM order_items"
                )
            ).one()
            assert 0 < first_partition < total
        engine.dispose()
    finally:
        drop_database(pg_server_url, name)


if __name__ == "__main__":
    url, mongo_name, seed, partition = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(seed_small_graph(url, mongo_name, seed, partition, migrate="--migrate" in sys.argv)))
