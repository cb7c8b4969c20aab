"""create_async / create_batch_async on an AsyncSession (psycopg's async driver and asyncpg)
and on async Mongo databases: the same data as the sync path, and clear refusals.

Async Mongo runs on mongomock-motor's in-process client over the same mongomock store as
``mongo_db``, or on pymongo's ``AsyncMongoClient`` when ``SEEDKIT_TEST_MONGO_URL`` is set.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import factory
import pymongo
import pytest
import pytest_asyncio
import sqlalchemy as sa
from conftest import create_database, drop_database
from seedkit_reference.document_factories import AuditEventFactory, NotificationFactory
from seedkit_reference.model_factories import OrderFactory, OrganizationFactory, UserFactory
from seedkit_reference.models import Organization, User
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from seedkit.core.determinism import deterministic
from seedkit.errors import ConfigError, FactoryError
from seedkit.factories.binding import bind
from seedkit.factories.mongo import MongoFactory
from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.mongo import connect, connect_async
from seedkit.stores.postgres import async_url

pytestmark = pytest.mark.asyncio

SEED = 23
START = "2025-06-01T00:00:00Z"


class UserByEmailFactory(UserFactory):
    class Meta:
        sqlalchemy_get_or_create = ("email",)


class CommittingOrganizationFactory(OrganizationFactory):
    class Meta:
        sqlalchemy_session_persistence = "commit"


@pytest_asyncio.fixture(params=["psycopg", "asyncpg"])
async def async_session(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(async_url(db_url, request.param))
    async with AsyncSession(engine, expire_on_commit=False) as session:  # what SQLAlchemy advises
        yield session
    await engine.dispose()


@pytest_asyncio.fixture
async def async_mongo(mongo_db: Any) -> AsyncIterator[Any]:
    """An asyncio database on the same documents as ``mongo_db``."""
    db = connect_async(os.environ.get("SEEDKIT_TEST_MONGO_URL"), mongo_db)
    yield db
    if isinstance(db.client, pymongo.AsyncMongoClient):
        await db.client.close()


def _scenario_sync(session: Session, mongo: Any) -> list[Any]:
    with deterministic(seed=SEED, start=START), bind(session=session, mongo=mongo):
        order = OrderFactory(paid=True, items=3)
        users = UserFactory.create_batch(3)
        event = AuditEventFactory(order=order)
        notes = NotificationFactory.create_batch(2)
        session.commit()
        return [order.id, order.created_at, [u.id for u in users], event, notes]


async def _scenario_async(session: AsyncSession, mongo: Any) -> list[Any]:
    with deterministic(seed=SEED, start=START), bind(session=session, mongo=mongo):
        order = await OrderFactory.create_async(paid=True, items=3)
        users = await UserFactory.create_batch_async(3)
        event = await AuditEventFactory.create_async(order=order)
        notes = await NotificationFactory.create_batch_async(2)
        await session.commit()
        return [order.id, order.created_at, [u.id for u in users], event, notes]


@pytest.mark.mongo
async def test_create_async_makes_the_same_rows_documents_ids_and_times_as_create(
    async_session: AsyncSession, async_mongo: Any, mongo_db: Any, pg_server_url: str, reference_template: str
) -> None:
    made = await _scenario_async(async_session, async_mongo)
    sync_engine = sa.create_engine(async_session.bind.url.set(drivername="postgresql+psycopg"))
    with sync_engine.connect() as conn:
        async_print = fingerprint(conn, mongo_db)
    sync_engine.dispose()

    name = f"test_sync_{os.getpid()}_{id(made)}"
    url = create_database(pg_server_url, name, template=reference_template)
    engine = sa.create_engine(url)
    sync_mongo = connect(os.environ.get("SEEDKIT_TEST_MONGO_URL"), name)
    try:
        with Session(engine) as session:
            expected = _scenario_sync(session, sync_mongo)
        with engine.connect() as conn:
            sync_print = fingerprint(conn, sync_mongo)
    finally:
        engine.dispose()
        drop_database(pg_server_url, name)
        sync_mongo.client.drop_database(name)

    assert made == expected
    assert async_print.parts["pg:order_items"].count == 3
    assert async_print.parts["mongo:notifications"].count == 2
    assert async_print == sync_print


async def test_sync_create_on_an_async_session_refuses_with_a_hint(async_session: AsyncSession) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be a RuntimeWarning
        with bind(session=async_session), pytest.raises(FactoryError) as bound:
            UserFactory()
        with pytest.raises(FactoryError) as explicit:
            UserFactory(_session=async_session)
        with bind(session=async_session), pytest.raises(FactoryError) as batch:
            UserFactory.create_batch(2)
    assert "bound to an AsyncSession: use `await UserFactory.create_async(...)`" in str(bound.value)
    assert "create_async" in str(explicit.value)
    assert "create_batch_async" in str(batch.value)
    assert (await async_session.execute(sa.text("SELECT count(*) FROM users"))).scalar_one() == 0


@pytest.mark.mongo
async def test_sync_create_on_an_async_mongo_database_refuses_with_a_hint(
    async_mongo: Any, mongo_db: Any, engine: sa.Engine
) -> None:
    with Session(engine) as session, bind(session=session, mongo=async_mongo):
        user = UserFactory()
        with pytest.raises(FactoryError, match=r"async Mongo database: use `await AuditEventFactory"):
            AuditEventFactory(actor=user)
    assert mongo_db.audit_events.count_documents({}) == 0


async def test_explicit_session_and_meta_session_are_used_by_create_async(
    async_session: AsyncSession,
) -> None:
    with deterministic(seed=SEED):
        user = await UserFactory.create_async(_session=async_session)
        org = await OrganizationFactory.create_async(_session=async_session, name="Acme")

    class MetaBound(OrganizationFactory):
        class Meta:
            sqlalchemy_session = async_session

    other = await MetaBound.create_async(name="Meta")
    names = (await async_session.scalars(sa.select(Organization.name).order_by(Organization.name))).all()
    assert user.organization.name in names
    assert {"Acme", "Meta"} <= set(names) and org.id != other.id
    with pytest.raises(FactoryError, match="MetaBound is bound to an AsyncSession"):
        MetaBound()


async def test_get_or_create_and_commit_persistence_work_through_the_async_session(
    async_session: AsyncSession,
) -> None:
    with deterministic(seed=SEED), bind(session=async_session):
        first = await UserByEmailFactory.create_async(email="a@example.com")
        again = await UserByEmailFactory.create_async(email="a@example.com")
        committed = await CommittingOrganizationFactory.create_async(name="Committed")
    assert again is first
    await async_session.rollback()  # the commit made the organization durable; the user was only flushed
    rows = (await async_session.scalars(sa.select(Organization.name))).all()
    assert committed.name in rows
    users = (await async_session.scalars(sa.select(User.email))).all()
    assert "a@example.com" in users  # flushed before the commit, so committed with it


async def test_concurrent_create_async_calls_run_in_order_and_stay_deterministic(
    async_session: AsyncSession,
) -> None:
    with deterministic(seed=SEED, start=START), bind(session=async_session):
        gathered = await asyncio.gather(*(UserFactory.create_async() for _ in range(4)))
        gathered_values = [(u.id, u.email, u.created_at) for u in gathered]
    await async_session.rollback()
    with deterministic(seed=SEED, start=START), bind(session=async_session):
        sequential = [await UserFactory.create_async() for _ in range(4)]
        sequential_values = [(u.id, u.email, u.created_at) for u in sequential]
    assert gathered_values == sequential_values


class StampFactory(MongoFactory):
    class Meta:
        collection = "stamps"

    at = factory.Iterator([datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2)])  # the second is naive


@pytest.mark.mongo
async def test_an_async_batch_that_fails_while_building_inserts_no_document(
    async_mongo: Any, mongo_db: Any
) -> None:
    with (
        deterministic(seed=SEED),
        bind(mongo=async_mongo),
        pytest.raises(FactoryError, match="StampFactory: field 'at': naive datetime"),
    ):
        await StampFactory.create_batch_async(2)
    assert mongo_db.stamps.count_documents({}) == 0


@pytest.mark.mongo
async def test_a_duplicate_id_is_one_readable_error(async_mongo: Any, mongo_db: Any) -> None:
    with deterministic(seed=SEED), bind(mongo=async_mongo):
        await AuditEventFactory.create_async(_id="dup", actor_user_id="u1", actor=None)
        with pytest.raises(FactoryError, match=r"cannot insert into 'audit_events': E11000"):
            await AuditEventFactory.create_async(_id="dup", actor_user_id="u2", actor=None)
    assert [d["actor_user_id"] for d in mongo_db.audit_events.find({})] == ["u1"]


@pytest.mark.mongo
async def test_create_batch_async_writes_one_insert_many_per_collection(
    async_mongo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    collection_class = type(async_mongo["stamps"])
    original = collection_class.insert_many

    async def counting(self: Any, documents: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append((self.name, len(documents)))
        return await original(self, documents, *args, **kwargs)

    monkeypatch.setattr(collection_class, "insert_many", counting)
    with deterministic(seed=SEED), bind(mongo=async_mongo):
        documents = await AuditEventFactory.create_batch_async(5, actor=None, actor_user_id="u")
    assert calls == [("audit_events", 5)]
    assert len({d["_id"] for d in documents}) == 5


async def test_an_async_twin_of_mongomock_needs_mongomock_motor(monkeypatch: pytest.MonkeyPatch) -> None:
    import mongomock

    monkeypatch.setitem(sys.modules, "mongomock_motor", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"needs mongomock-motor: pip install 'seedkit\[async\]'"):
        connect_async(None, mongomock.MongoClient()["app"])


async def test_an_async_twin_of_a_server_database_needs_its_url() -> None:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient("mongodb://127.0.0.1:9", connect=False)
    try:
        with pytest.raises(ConfigError, match="'app' is on a server: its URL is needed"):
            connect_async(None, client["app"])
    finally:
        client.close()
