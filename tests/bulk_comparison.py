"""Shared by the bulk fidelity tests: two fresh databases, and one graph seeded per object or in bulk.

A test seeds the same factory into each database, once per object and once through
:class:`BulkSeeder`, and compares the fingerprints: the bulk paths must write what the per-object
path writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from conftest import create_database, drop_database
from sqlalchemy.orm import Session

from seedkit.bulk import BulkSeeder
from seedkit.core.determinism import deterministic
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint


@contextmanager
def two_databases(server_url: str, metadata: sa.MetaData) -> Iterator[tuple[str, str]]:
    """Two new databases on ``server_url`` with ``metadata``'s tables, dropped after the block."""
    names = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    urls = [create_database(server_url, name) for name in names]
    try:
        for url in urls:
            engine = sa.create_engine(url)
            metadata.create_all(engine)
            engine.dispose()
        yield urls[0], urls[1]
    finally:
        for name in names:
            drop_database(server_url, name)


def per_object(url: str, factory_class: type[Any], count: int) -> Any:
    """``factory_class.create_batch(count)`` at seed 3 in one flushed session; the database's fingerprint."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=3),
                Session(bind=conn, autoflush=False) as session,
                bind(session=session),
            ):
                factory_class.create_batch(count)
                session.flush()
            return fingerprint(conn)
    finally:
        engine.dispose()


def bulk(url: str, factory_class: type[Any], count: int, *, row_path: bool = True) -> tuple[Any, Any]:
    """The same through :class:`BulkSeeder` (chunks of 4): the fingerprint and the path decision."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=3),
                BulkSeeder(conn, chunk_size=4, row_path=row_path) as seeder,
            ):
                decision = seeder.create(factory_class, count)
            return fingerprint(conn), decision
    finally:
        engine.dispose()
