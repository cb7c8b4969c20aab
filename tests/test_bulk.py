"""The bulk path writes exactly what the per-object path writes, chunk by chunk."""

from __future__ import annotations

import gc
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from conftest import connect_test_mongo
from seedkit_reference.document_factories import AuditEventFactory, NotificationFactory
from seedkit_reference.model_factories import (
    CustomerFactory,
    OrderFactory,
    OrganizationFactory,
    ProductFactory,
    UserFactory,
)
from seedkit_reference.models import Organization
from sqlalchemy.orm import Session

from seedkit.bulk import BulkSeeder, bulk_create
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint

Volume = tuple[type[Any], int, dict[str, Any]]

VOLUMES: list[Volume] = [
    (OrganizationFactory, 4, {}),
    (ProductFactory, 15, {}),
    (UserFactory, 6, {"admin": True}),
    (CustomerFactory, 40, {"orders": "0-3"}),
    (OrderFactory, 5, {"paid": True, "items": 2}),
    (AuditEventFactory, 8, {}),
    (NotificationFactory, 5, {}),
]


@pytest.fixture
def second_mongo() -> Iterator[Any]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    db = connect_test_mongo(name)
    yield db
    db.client.drop_database(name)
    db.client.close()


def seed_per_object(url: str, mongo: Any, volumes: list[Volume]) -> Any:
    """The reference: create_batch through a SQLAlchemy session, as the profile runner does."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=11),
                Session(bind=conn, autoflush=False) as session,
                bind(session=session, mongo=mongo),
            ):
                for factory_class, count, fields in volumes:
                    factory_class.create_batch(count, **fields)
                session.flush()
            return fingerprint(conn, mongo)
    finally:
        engine.dispose()


def seed_bulk(url: str, mongo: Any, volumes: list[Volume], chunk_size: int) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=11),
                BulkSeeder(conn, mongo, chunk_size=chunk_size) as seeder,
            ):
                for factory_class, count, fields in volumes:
                    seeder.create(factory_class, count, **fields)
            return fingerprint(conn, mongo)
    finally:
        engine.dispose()


@pytest.mark.mongo
@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_bulk_writes_the_same_rows_and_documents_as_the_per_object_path(
    db_url: str, second_db: str, mongo_db: Any, second_mongo: Any, chunk_size: int
) -> None:
    expected = seed_per_object(db_url, mongo_db, VOLUMES)
    got = seed_bulk(second_db, second_mongo, VOLUMES, chunk_size)

    assert expected.parts["pg:users"].count >= 46
    assert expected.parts["pg:orders"].count > 40
    assert expected.parts["mongo:audit_events"].count == 8
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_a_different_seed_gives_different_rows(db_url: str, second_db: str) -> None:
    # Guards the test above: equal fingerprints must come from equal data, not from a blind hash.
    first = seed_bulk(db_url, None, VOLUMES[:4], 1000)
    engine = sa.create_engine(second_db)
    with engine.connect() as conn:
        with conn.begin(), deterministic(seed=12), BulkSeeder(conn) as seeder:
            for factory_class, count, fields in VOLUMES[:4]:
                seeder.create(factory_class, count, **fields)
        second = fingerprint(conn)
    engine.dispose()
    assert first.parts["pg:users"].count == second.parts["pg:users"].count
    assert first.parts["pg:users"].digest != second.parts["pg:users"].digest


def test_bulk_create_returns_rows_per_table_and_leaves_the_commit_to_the_caller(engine: sa.Engine) -> None:
    with engine.connect() as conn, deterministic(seed=3):
        written = bulk_create(CustomerFactory, 25, connection=conn, chunk_size=10, orders=1, orders__items=2)
        assert written["users"] == 25
        assert written["orders"] == 25
        assert written["order_items"] == 50
        assert written["payments"] == 25
        assert conn.execute(sa.text("SELECT count(*) FROM order_items")).scalar() == 50
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 0


def test_memory_holds_one_chunk_not_the_volume_on_the_row_path(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedkit.bulk import record_collections
    from seedkit.bulk.row_builder import RowRecord

    monkeypatch.setattr(record_collections, "KEEP_COLLECTION", 10)
    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, chunk_size=20) as seeder:
        seeder.create(OrganizationFactory, 3)
        seeder.create(CustomerFactory, 100, orders=1)
        assert seeder.paths["seedkit_reference.model_factories.CustomerFactory"].path == "row"
        gc.collect()
        alive = Counter(type(obj).__name__ for obj in gc.get_objects() if isinstance(obj, RowRecord))
        # The pooled organizations and the products in their (small) collections stay; each
        # organization's users (about 33, more than 10) were dropped, and with them every order.
        products = conn.execute(sa.text("SELECT count(*) FROM products")).scalar_one()
        assert alive == {"OrganizationRow": 3, "ProductRow": products}
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 100


def test_memory_holds_one_chunk_not_the_volume(engine: sa.Engine) -> None:
    with (
        engine.connect() as conn,
        deterministic(seed=3),
        BulkSeeder(conn, chunk_size=20, row_path=False) as seeder,
    ):
        seeder.create(OrganizationFactory, 3)
        seeder.create(CustomerFactory, 100, orders=1)
        assert not seeder.session.new
        kept = {type(obj).__name__ for obj in seeder.session.identity_map.values()}
        # What later factory calls may reuse stays (organizations and what they reach through
        # small collections); the customers and their orders were released.
        assert kept == {"Organization", "Product"}
        products = conn.execute(sa.text("SELECT count(*) FROM products")).scalar_one()
        assert len(seeder.session.identity_map) == 3 + products
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 100


def test_a_factory_that_changes_a_written_row_is_refused(engine: sa.Engine) -> None:
    with (
        engine.connect() as conn,
        deterministic(seed=3),
        pytest.raises(FactoryError, match="changed after it was written"),
        BulkSeeder(conn, chunk_size=5, row_path=False) as seeder,
    ):
        seeder.create(OrganizationFactory, 2)
        organization: Any = next(iter(seeder.session.identity_map.values()))
        organization.name = "Renamed"  # an UPDATE the bulk path would silently lose
        seeder.create(OrganizationFactory, 1)


def test_setting_a_column_of_a_written_record_is_refused(engine: sa.Engine) -> None:
    from seedkit.factories.alchemy import _POOL_KEY

    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
        seeder.create(OrganizationFactory, 2)
        organization: Any = seeder.session.info[_POOL_KEY][Organization][0]  # a record of the row path
        with pytest.raises(FactoryError, match=r"Organization\.name was set after its row was written"):
            organization.name = "Renamed"  # an UPDATE the bulk path would silently lose
        conn.rollback()


def test_a_database_error_in_the_background_writer_reaches_the_caller(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with deterministic(seed=3), BulkSeeder(conn) as seeder:
            seeder.create(OrganizationFactory, 3)
        with pytest.raises(psycopg.errors.UniqueViolation), deterministic(seed=3), BulkSeeder(conn) as seeder:
            seeder.create(OrganizationFactory, 3)  # the same keys again
        conn.rollback()
        assert conn.execute(sa.text("SELECT count(*) FROM organizations")).scalar() == 0


def test_the_collector_is_given_back_as_it_was(engine: sa.Engine) -> None:
    import gc

    assert gc.isenabled()
    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
        seeder.create(OrganizationFactory, 12)
        assert gc.isenabled() and gc.get_freeze_count() == 0
        with pytest.raises(FactoryError):
            seeder.create(CustomerFactory, 3, orders="lots")
        assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn) as seeder:
            seeder.create(OrganizationFactory, 2)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
