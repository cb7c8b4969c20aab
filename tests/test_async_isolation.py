"""Every isolation strategy from asyncio tests: the plugin's async fixtures (pytest-asyncio), and
the rollback strategy's async recipe (an AsyncConnection holding the outer transaction)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import test_plugin
from seedkit_reference.document_factories import AuditEventFactory
from seedkit_reference.model_factories import OrganizationFactory, UserFactory
from test_plugin import TIMEOUT, use_sample

from seedkit.core.determinism import deterministic
from seedkit.factories.binding import bind
from seedkit.isolation import NoIsolation, RollbackStrategy
from seedkit.isolation.asynchronous import begin_async, end_async

pytest_plugins = ["pytester"]


@pytest.fixture
def plugin_mongo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin in the subprocess uses the suite's Mongo server (SEEDKIT_TEST_MONGO_URL), else mongomock:
    its async fixtures then run on pymongo's AsyncMongoClient, else on mongomock-motor."""
    url = os.environ.get("SEEDKIT_TEST_MONGO_URL")
    if url:
        monkeypatch.setenv("SEEDKIT_MONGO_URL", url)
    else:
        monkeypatch.delenv("SEEDKIT_MONGO_URL", raising=False)


out = test_plugin.out  # the same fixtures as the sync suite's test
e2e_fingerprint = test_plugin.e2e_fingerprint


@pytest.mark.mongo
@pytest.mark.parametrize(
    ("strategy", "driver"),
    [
        ("rollback", "psycopg"),
        ("rollback", "asyncpg"),
        ("truncate", "psycopg"),
        ("snapshot", "asyncpg"),
        ("changed", "psycopg"),
    ],
)
def test_each_strategy_isolates_async_tests_and_keeps_the_seed_intact(
    pytester: pytest.Pytester,
    out: Path,
    pg_server_url: str,
    e2e_fingerprint: str,
    strategy: str,
    driver: str,
    plugin_mongo: None,
) -> None:
    use_sample(pytester, "async_isolation_suite.py", "test_async_isolation")
    pytester.makeconftest(
        f"import pytest\n\n@pytest.fixture\ndef seedkit_async_driver():\n    return {driver!r}\n"
    )
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-strategy={strategy}",
        f"--seedkit-database-url={pg_server_url}",
        "-p",
        "no:cacheprovider",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=23)
    assert (out / "fingerprint.txt").read_text() == e2e_fingerprint


def _count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(sa.text(sql)).scalar_one())
    engine.dispose()
    return value


@pytest.mark.asyncio
@pytest.mark.mongo
async def test_rollback_joins_the_async_connections_transaction_and_restores_mongo(
    db_url: str, mongo_db: Any
) -> None:
    mongo_db["audit_events"].insert_one({"_id": "seeded", "action": "seed"})
    strategy = RollbackStrategy(db_url, mongo_db, allow_unsafe=True)
    strategy.prepare()
    try:
        handle = await begin_async(
            strategy, driver="asyncpg", mongo_url=os.environ.get("SEEDKIT_TEST_MONGO_URL")
        )
        with deterministic(seed=3), bind(session=handle.session, mongo=handle.mongo):
            await OrganizationFactory.create_async(slug="by-factory")
            async with handle.session_factory() as app_session:  # app code that commits
                user = await UserFactory.create_async(_session=app_session)
                await app_session.commit()
            await AuditEventFactory.create_async(actor=user)
        # the app's commit released a savepoint: the test's session sees the row, others do not
        seen = await handle.session.execute(sa.text("SELECT count(*) FROM users"))
        assert seen.scalar_one() == 1
        assert _count(db_url, "SELECT count(*) FROM users") == 0
        assert mongo_db["audit_events"].count_documents({}) == 2
        await end_async(strategy, handle)
    finally:
        strategy.close()
    assert _count(db_url, "SELECT count(*) FROM organizations") == 0
    assert [d["_id"] for d in mongo_db["audit_events"].find({})] == ["seeded"]


@pytest.mark.asyncio
async def test_rollback_puts_back_the_sequences_an_async_test_moved(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tickets (number serial PRIMARY KEY)"))
    engine.dispose()
    strategy = RollbackStrategy(db_url)
    strategy.prepare()
    try:
        handle = await begin_async(strategy)
        await handle.session.execute(sa.text("INSERT INTO tickets DEFAULT VALUES"))
        await end_async(strategy, handle)
    finally:
        strategy.close()
    assert _count(db_url, "SELECT nextval('tickets_number_seq')") == 1  # as the sync form does


@pytest.mark.asyncio
async def test_none_keeps_what_an_async_test_committed_and_releases_its_connections(db_url: str) -> None:
    strategy = NoIsolation(db_url)
    strategy.prepare()
    try:
        handle = await begin_async(strategy)
        with deterministic(seed=3), bind(session=handle.session):
            await OrganizationFactory.create_async(slug="kept")
        await handle.session.commit()
        await end_async(strategy, handle)
    finally:
        strategy.close()
    assert _count(db_url, "SELECT count(*) FROM organizations WHERE slug = 'kept'") == 1
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert _count(db_url, others) == 0  # the async engine's connection is closed


@pytest.mark.mongo
def test_keep_failed_keeps_a_failing_async_tests_database(
    pytester: pytest.Pytester, pg_server_url: str, plugin_mongo: None
) -> None:
    from conftest import drop_database
    from sqlalchemy.engine import make_url
    from test_plugin import KEPT_LINE

    use_sample(pytester, "async_keep_failed_suite.py", "test_async_keep")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-database-url={pg_server_url}",
        "--seedkit-keep-failed",
        "-p",
        "no:cacheprovider",
        timeout=TIMEOUT,
    )
    output = result.stdout.str()
    kept = {match[2]: (match[0], match[1]) for match in KEPT_LINE.findall(output)}
    try:
        result.assert_outcomes(failed=4, passed=4)  # the tests after a kept failure start from the seed
        assert sorted(kept) == ["changed", "rollback", "snapshot", "truncate"]
        password = make_url(pg_server_url).password
        for strategy, (url, _name) in kept.items():
            engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg", password=password))
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT email FROM users WHERE email LIKE '%@kept.example'"))
                assert set(rows.scalars()) == {
                    f"committed-{strategy}@kept.example",
                    f"flushed-{strategy}@kept.example",
                }
            engine.dispose()
    finally:
        for _, name in kept.values():
            drop_database(pg_server_url, name)
