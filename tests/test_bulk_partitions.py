"""Partitioned seeding: the same rows whatever the number of workers, and on both paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import connect_test_mongo, create_database, drop_database
from seedkit_reference.document_factories import AuditEventFactory
from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory

from seedkit.bulk.partitions import VolumeSpec, plan_partitions, seed_partitioned
from seedkit.stores.fingerprint import Fingerprint, fingerprint

VOLUMES = [
    VolumeSpec(OrganizationFactory, 3),
    VolumeSpec(ProductFactory, 10),
    VolumeSpec(CustomerFactory, 45, {"orders": "0-2"}),
    VolumeSpec(AuditEventFactory, 12),
]


@pytest.fixture
def make_db(pg_server_url: str, reference_template: str) -> Iterator[Any]:
    names: list[str] = []

    def make() -> str:
        names.append(f"test_{uuid.uuid4().hex[:12]}")
        return create_database(pg_server_url, names[-1], template=reference_template)

    yield make
    for name in names:
        drop_database(pg_server_url, name)


def seeded(url: str, **options: Any) -> tuple[Fingerprint, sa.Engine]:
    mongo = connect_test_mongo(f"test_{uuid.uuid4().hex[:12]}")
    result = seed_partitioned(url, VOLUMES, seed=5, partition_size=10, mongo=mongo, **options)
    assert result.partitions == 5 + 2  # customers 45 -> 10,10,10,10,5; audit events 12 -> 10,2
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = fingerprint(conn, mongo)
    mongo.client.drop_database(mongo.name)
    mongo.client.close()
    return found, engine


def test_plan_partitions_cuts_fixed_sizes() -> None:
    assert plan_partitions(25, 10) == [10, 10, 5]
    assert plan_partitions(10, 10) == [10]
    assert plan_partitions(0, 10) == []


@pytest.mark.mongo
def test_two_workers_give_the_same_fingerprint_as_one(make_db: Any) -> None:
    one, engine = seeded(make_db(), workers=1)
    two, _ = seeded(make_db(), workers=2)

    assert one.parts["pg:users"].count >= 45
    assert one.parts["mongo:audit_events"].count == 12
    assert two.parts == one.parts
    assert two.digest == one.digest
    with engine.connect() as conn:
        spread = conn.execute(
            sa.text("SELECT count(DISTINCT organization_id) FROM users WHERE role = 'customer'")
        ).scalar()
        emails = conn.execute(sa.text("SELECT count(DISTINCT email) FROM users")).scalar()
        users = conn.execute(sa.text("SELECT count(*) FROM users")).scalar()
    engine.dispose()
    # Partitions reuse the organizations created before them (the session state is handed
    # over), and each partition makes its own, different customers.
    assert spread == 3
    assert emails == users


@pytest.mark.mongo
def test_partitioned_bulk_and_per_object_paths_agree(make_db: Any) -> None:
    bulk, _ = seeded(make_db(), workers=1, bulk=True)
    per_object, _ = seeded(make_db(), workers=1, bulk=False)
    assert per_object.parts == bulk.parts
