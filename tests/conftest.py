"""Shared test fixtures: a real PostgreSQL server per test session, fresh databases per test.

Set ``SEEDKIT_TEST_DATABASE_URL`` to use an existing server (it must allow CREATE DATABASE);
otherwise an embedded PostgreSQL is started in a temporary directory. Mongo tests use mongomock,
or the server at ``SEEDKIT_TEST_MONGO_URL`` when set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from seedkit.seeding import migrations
from seedkit.seeding.config import BUILTIN_CONFIG, load_settings
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.postgres import normalize_url, with_database

REPO = Path(__file__).resolve().parent.parent
REFERENCE_MIGRATIONS = REPO / "factories" / "migrations"


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


@pytest.fixture
def db_url(pg_server_url: str, reference_template: str) -> Iterator[str]:
    """A new database at the reference schema's head for this test (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name, template=reference_template)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def mongo_db() -> Iterator[Any]:
    """A fresh Mongo database: mongomock, or a real server at SEEDKIT_TEST_MONGO_URL."""
    from seedkit.stores.mongo import connect

    name = f"test_{uuid.uuid4().hex[:12]}"
    db = connect(os.environ.get("SEEDKIT_TEST_MONGO_URL"), name)
    yield db
    db.client.drop_database(name)
