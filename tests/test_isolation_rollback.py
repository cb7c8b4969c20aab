"""The rollback strategy on real PostgreSQL: code under test may commit, nothing survives the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import app_creates_organization, count_slug, seed_domain, stores_fingerprint

from seedkit.isolation import MongoBaseline, RollbackStrategy
from seedkit.stores.fingerprint import fingerprint


@pytest.fixture
def strategy(db_url: str, mongo_db: Any) -> Iterator[RollbackStrategy]:
    engine = sa.create_engine(db_url)
    seed_domain(engine, mongo_db)
    engine.dispose()
    chosen = RollbackStrategy(db_url, mongo_db)
    chosen.prepare()
    yield chosen
    chosen.close()


@pytest.mark.mongo
def test_app_code_that_commits_is_still_rolled_back(strategy: RollbackStrategy) -> None:
    first = strategy.begin()
    app_creates_organization(first.session, "committed-by-app")
    assert count_slug(first.session, "committed-by-app") == 1
    # app code with its own session from the handle's factory sees and commits in the same transaction
    with first.session_factory() as other_session:
        assert count_slug(other_session, "committed-by-app") == 1
        app_creates_organization(other_session, "second-session")
    # the limit: no other connection can see it (a server under test in another process would not)
    assert count_slug(strategy.engine, "committed-by-app") == 0
    assert first.visible_to_other_processes is False
    strategy.end(first)

    second = strategy.begin()
    assert count_slug(second.session, "committed-by-app") == 0
    assert count_slug(second.session, "second-session") == 0
    strategy.end(second)
    assert count_slug(strategy.engine, "committed-by-app") == 0


@pytest.mark.mongo
def test_app_rollback_undoes_only_its_own_work(strategy: RollbackStrategy) -> None:
    handle = strategy.begin()
    app_creates_organization(handle.session, "kept-until-test-end")
    with pytest.raises(sa.exc.IntegrityError):  # the same slug again: unique violation
        app_creates_organization(handle.session, "kept-until-test-end", id_label="another")
    handle.session.rollback()  # rolls back to the savepoint, not the test's transaction
    assert count_slug(handle.session, "kept-until-test-end") == 1
    strategy.end(handle)
    assert count_slug(strategy.engine, "kept-until-test-end") == 0


@pytest.mark.mongo
def test_seeded_data_is_identical_after_50_isolated_tests(strategy: RollbackStrategy) -> None:
    seeded = stores_fingerprint(strategy.engine, strategy.mongo)
    for n in range(50):
        handle = strategy.begin()
        app_creates_organization(handle.session, f"test-{n}")
        handle.session.execute(sa.text("UPDATE products SET price = price + 1"))
        handle.session.execute(sa.text("DELETE FROM payments"))
        handle.session.commit()
        handle.mongo["notifications"].update_many({}, {"$set": {"read": True}})  # type: ignore[index]
        handle.mongo["audit_events"].insert_one({"action": f"test.{n}"})  # type: ignore[index]
        strategy.end(handle)
    assert stores_fingerprint(strategy.engine, strategy.mongo) == seeded
    assert seeded.parts["pg:payments"].count == 6


@pytest.mark.mongo
def test_mongo_baseline_restores_documents_indexes_and_collections_exactly(mongo_db: Any) -> None:
    mongo_db.kept.create_index([("a", 1), ("b", -1)], name="a_b", unique=True)
    mongo_db.kept.insert_many([{"_id": 1, "a": 1, "b": {"x": [1, 2]}}, {"_id": 2, "a": 2, "b": None}])
    mongo_db.dropped_by_test.insert_one({"_id": "x"})
    before = fingerprint(mongo=mongo_db)
    baseline = MongoBaseline.capture(mongo_db)

    mongo_db.kept.update_one({"_id": 1}, {"$push": {"b.x": 3}})
    mongo_db.kept.insert_one({"_id": 3, "a": 3})
    mongo_db.kept.drop_index("a_b")
    mongo_db.kept.create_index("other")
    mongo_db.dropped_by_test.drop()
    mongo_db.created_by_test.insert_one({"_id": "new"})
    baseline.restore(mongo_db)

    assert fingerprint(mongo=mongo_db) == before
    assert "created_by_test" not in mongo_db.list_collection_names()
    assert mongo_db.kept.index_information()["a_b"]["unique"] is True


@pytest.mark.mongo
def test_end_is_retryable_after_the_tests_connection_died(db_url: str, mongo_db: Any) -> None:
    """The plugin retries a failed reset by calling end() again: it must then finish the reset,
    sequences and Mongo included, though the test's connection is gone."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tickets (number serial PRIMARY KEY)"))
    strategy = RollbackStrategy(db_url, mongo_db)
    strategy.prepare()
    before = stores_fingerprint(engine, mongo_db)
    handle = strategy.begin()
    mongo_db.audit_events.insert_one({"kind": "written-by-the-test"})
    connection = handle.bind
    assert isinstance(connection, sa.Connection)
    connection.execute(sa.text("INSERT INTO tickets DEFAULT VALUES"))
    pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as other:
        other.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    failures = 0
    for _ in range(2):
        try:
            strategy.end(handle)
            break
        except Exception:
            failures += 1
    strategy.close()
    assert failures <= 1
    assert stores_fingerprint(engine, mongo_db) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT nextval('tickets_number_seq')")).scalar_one() == 1
    engine.dispose()
