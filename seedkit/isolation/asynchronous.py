"""Isolation strategies from asyncio tests: an :class:`AsyncHandle` per test.

``handle = await begin_async(strategy)`` ... ``await end_async(strategy, handle)`` give a test
an ``AsyncSession`` and an async Mongo database on the strategy's isolated stores:

- ``rollback``: SQLAlchemy's recipe for joining an ``AsyncSession`` into an external
  transaction, in its async form: an ``AsyncConnection`` begins the outer transaction and the
  test's sessions join it with ``join_transaction_mode="create_savepoint"``; the end rolls it
  back. (A sync connection's transaction cannot be shared with an async driver, so the async
  handle has its own; see :meth:`RollbackStrategy.begin_async`.)
- ``truncate``, ``snapshot``, ``changed``, ``none``: the strategy's own ``begin()``/``end()``
  as for sync tests (real commits; a per-test clone under ``snapshot``), with an async engine on
  the handle's database. Their resets are synchronous work done after the test's async
  connections are closed.

The async engine uses ``NullPool``: every test may run on its own event loop, and pooled
asyncio connections belong to the loop that opened them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from seedkit.errors import SeedkitError
from seedkit.isolation.base import Handle, Strategy
from seedkit.stores.postgres import async_url

__all__ = ["AsyncHandle", "async_engine", "begin_async", "end_async"]


@dataclass
class AsyncHandle:
    """What one async test gets (the async counterpart of :class:`~seedkit.isolation.Handle`).

    Attributes:
        url: the test's database URL (sync form, with password).
        engine: an ``AsyncEngine`` on ``url``. Under ``rollback`` it bypasses the test's
            transaction: use ``bind``.
        bind: what app code should bind its sessions to: the engine, or under ``rollback`` the
            ``AsyncConnection`` holding the outer transaction.
        session: an ``AsyncSession`` on ``bind`` (``expire_on_commit=False``, as SQLAlchemy
            advises for asyncio), closed by :func:`end_async`.
        session_factory: an ``async_sessionmaker`` on ``bind`` with the same isolation.
        mongo: an async Mongo database on the test's Mongo data (None when the strategy has none,
            or when it could not be opened: ``mongo_error`` then says why).
        visible_to_other_processes: whether other connections see the test's writes.
        sync: the strategy's own handle (all strategies but ``rollback``), ended after this one.
    """

    url: str
    engine: AsyncEngine
    bind: AsyncEngine | AsyncConnection
    session: AsyncSession
    session_factory: async_sessionmaker[AsyncSession]
    mongo: Any = None
    visible_to_other_processes: bool = True
    sync: Handle | None = None
    mongo_error: SeedkitError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require_mongo(self) -> Any:
        """The async Mongo database, or the :class:`SeedkitError` saying why there is none."""
        if self.mongo is None:
            raise self.mongo_error or SeedkitError("this test's stores have no Mongo database")
        return self.mongo


def async_engine(url: str, driver: str = "psycopg") -> AsyncEngine:
    """An ``AsyncEngine`` on the database at (sync) ``url`` through ``driver`` (psycopg or asyncpg)."""
    return create_async_engine(async_url(url, driver), poolclass=NullPool)


def async_mongo(sync_mongo: Any, mongo_url: str | None) -> tuple[Any, SeedkitError | None]:
    """An async database on ``sync_mongo``'s documents, or None and the reason it cannot be opened."""
    if sync_mongo is None:
        return None, None
    from seedkit.stores.mongo import connect_async

    try:
        return connect_async(mongo_url, sync_mongo), None
    except SeedkitError as exc:
        return None, exc


async def begin_async(
    strategy: Strategy, *, driver: str = "psycopg", mongo_url: str | None = None
) -> AsyncHandle:
    """Start an async test on ``strategy``'s stores (prepared with ``prepare()``).

    Args:
        strategy: a prepared isolation strategy.
        driver: the async PostgreSQL driver, ``psycopg`` or ``asyncpg``.
        mongo_url: the URL of the server the strategy's Mongo database is on (None: mongomock,
            opened through mongomock-motor).
    """
    joined = getattr(strategy, "begin_async", None)
    if joined is not None:  # a strategy with its own async form (rollback)
        handle: AsyncHandle = await joined(driver=driver, mongo_url=mongo_url)
        return handle
    sync = strategy.begin()
    try:
        engine = async_engine(sync.url, driver)
        mongo, error = async_mongo(sync.mongo, mongo_url)
    except BaseException:
        strategy.end(sync)
        raise
    factory = async_sessionmaker(bind=engine, expire_on_commit=False)
    return AsyncHandle(
        url=sync.url,
        engine=engine,
        bind=engine,
        session=factory(),
        session_factory=factory,
        mongo=mongo,
        visible_to_other_processes=sync.visible_to_other_processes,
        sync=sync,
        mongo_error=error,
    )


async def close_async(handle: AsyncHandle) -> None:
    """Close the handle's session, its async Mongo client (a real one) and dispose of its engine."""
    try:
        await handle.session.close()
    finally:
        try:
            client = getattr(handle.mongo, "client", None)
            import pymongo

            if isinstance(client, pymongo.AsyncMongoClient):
                await client.close()
        finally:
            await handle.engine.dispose()


async def end_async(strategy: Strategy, handle: AsyncHandle) -> None:
    """Finish an async test: close what it opened, then the strategy puts the seeded state back."""
    finished = getattr(strategy, "end_async", None)
    if finished is not None:
        await finished(handle)
        return
    try:
        await close_async(handle)
    finally:
        assert handle.sync is not None
        strategy.end(handle.sync)
