"""Shared test fixtures: a real PostgreSQL server per test session, fresh databases per test.

Set ``SEEDKIT_TEST_DATABASE_URL`` to use an existing server (it must allow CREATE DATABASE);
otherwise an embedded PostgreSQL is started in a temporary directory. Mongo tests use mongomock,
or the server at ``SEEDKIT_TEST_MONGO_URL`` when set; every test that reads or writes Mongo is marked
``@pytest.mark.mongo``, so ``pytest -m mongo`` runs the Mongo lane (``tests/mongo_wire/lane.py`` runs
it against a MongoDB wire-protocol server). A test that uses the ``mongo_db`` or ``mongo_name``
fixtures without the marker is refused at collection.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pymongo.database import Database

from seedkit.seeding import migrations
from seedkit.seeding.config import BUILTIN_CONFIG, load_settings
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.postgres import normalize_url, with_database

REPO = Path(__file__).resolve().parent.parent
REFERENCE_MIGRATIONS = REPO / "factories" / "migrations"
MONGO_URL_VARIABLE = "SEEDKIT_TEST_MONGO_URL"
MONGO_FIXTURES = ("mongo_db", "mongo_name", "mongo_env")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that uses the suite's Mongo without ``@pytest.mark.mongo`` (the lane would miss it)."""
    unmarked = [
        item.nodeid
        for item in items
        if set(MONGO_FIXTURES) & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("mongo") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) use {' or '.join(MONGO_FIXTURES)} without @pytest.mark.mongo: "
            + ", ".join(unmarked)
        )


def suite_mongo_url() -> str | None:
    """The Mongo server the suite runs against (``SEEDKIT_TEST_MONGO_URL``), or None for mongomock."""
    return os.environ.get(MONGO_URL_VARIABLE) or None


def connect_test_mongo(name: str) -> Database[Any]:
    """The database ``name`` on the suite's Mongo: the server at SEEDKIT_TEST_MONGO_URL, else mongomock."""
    from seedkit.stores.mongo import connect

    return connect(suite_mongo_url(), name)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the maintenance database of a real PostgreSQL server."""
    external = os.environ.get("SEEDKIT_TEST_DATABASE_URL")
    if external:
        yield with_database(normalize_url(external), "postgres")
        return
    server = EmbeddedPostgres.temporary().start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


def _admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT")


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    engine = _admin(server_url)
    with engine.connect() as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    engine.dispose()
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrate_reference(url: str) -> None:
    """Apply the reference domain's Alembic migrations to ``url`` (as ``seedkit migrate`` does)."""
    engine = sa.create_engine(url)
    migrations.upgrade(engine, load_settings(BUILTIN_CONFIG))
    engine.dispose()


@pytest.fixture(scope="session")
def reference_template(pg_server_url: str) -> str:
    """A database at the reference schema's head, used as a template for per-test copies."""
    name = f"test_reference_tmpl_{uuid.uuid4().hex[:8]}"
    migrate_reference(create_database(pg_server_url, name))
    return name


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database for this test (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name)
    yield url
    drop_database(pg_server_url, name)


def _reference_copy(server_url: str, template: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, template=template)
    yield url
    drop_database(server_url, name)


@pytest.fixture
def db_url(pg_server_url: str, reference_template: str) -> Iterator[str]:
    """A new database at the reference schema's head for this test (dropped afterwards)."""
    yield from _reference_copy(pg_server_url, reference_template)


@pytest.fixture
def second_db(pg_server_url: str, reference_template: str) -> Iterator[str]:
    """Another one, for tests that seed the same graph twice (per object and in bulk) and compare."""
    yield from _reference_copy(pg_server_url, reference_template)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def mongo_name() -> Iterator[str]:
    """A fresh database name on the suite's Mongo (see :func:`connect_test_mongo`), dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    if suite_mongo_url() is not None:
        db = connect_test_mongo(name)
        db.client.drop_database(name)
        db.client.close()


@pytest.fixture
def mongo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """``SEEDKIT_MONGO_URL`` set to the suite's Mongo server (removed for mongomock), so that the
    plugin and the CLI run in subprocesses use it; they name their own databases."""
    url = suite_mongo_url()
    if url is None:
        monkeypatch.delenv("SEEDKIT_MONGO_URL", raising=False)
    else:
        monkeypatch.setenv("SEEDKIT_MONGO_URL", url)


@pytest.fixture
def mongo_db(mongo_name: str) -> Iterator[Database[Any]]:
    """A fresh Mongo database: mongomock, or a real server at SEEDKIT_TEST_MONGO_URL."""
    db = connect_test_mongo(mongo_name)
    yield db
    db.client.drop_database(mongo_name)
    db.client.close()
