"""The ``rollback`` strategy: each test runs inside one outer transaction that is rolled back.

SQLAlchemy 2.0's "joining a Session into an external transaction" recipe: a connection
begins a transaction, and the test's sessions join it with
``join_transaction_mode="create_savepoint"``, so code under test that calls
``session.commit()`` or ``session.rollback()`` only releases or rolls back a savepoint. At the
end the outer transaction is rolled back: nothing the test wrote was ever committed, and the
seeded data (committed once before the run) is never re-created. Sequences are not
transactional: the ones a test moved are set back to their seeded positions.

Uncommitted data is invisible to other connections: a server under test in another process
cannot see it. End-to-end tests use ``truncate`` or ``snapshot`` instead.

Async tests (:meth:`RollbackStrategy.begin_async`) get the same recipe on an ``AsyncConnection``.

Mongo cannot join that transaction, so after each test the seeded collections are restored
from an in-memory copy (:class:`~seedkit.stores.mongo_state.MongoBaseline`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlalchemy.orm import sessionmaker

from seedkit.errors import IsolationError
from seedkit.isolation.asynchronous import AsyncHandle, async_engine, async_mongo, close_async
from seedkit.isolation.base import Handle
from seedkit.stores.mongo_state import MongoBaseline, check_mongo_destructive
from seedkit.stores.sequences import Positions, restore_sequence_positions, sequence_positions


class RollbackStrategy:
    """One outer transaction per test, rolled back at the end; Mongo restored from a copy.

    Args:
        database_url: the seeded database (its data must be committed before ``prepare()``).
        mongo: the seeded Mongo database, or None.
        allow_unsafe: lift the safety guard for the Mongo restore.
    """

    name: ClassVar[str] = "rollback"

    def __init__(
        self, database_url: str, mongo: Database[Any] | None = None, *, allow_unsafe: bool = False
    ) -> None:
        self.database_url = database_url
        self.mongo = mongo
        self.allow_unsafe = allow_unsafe
        self._engine: Engine | None = None
        self._baseline: MongoBaseline | None = None
        self._sequences: Positions = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise IsolationError("RollbackStrategy.prepare() was not called")
        return self._engine

    def prepare(self) -> None:
        self._engine = sa.create_engine(self.database_url)
        with self._engine.connect() as conn:
            self._sequences = sequence_positions(conn)
        if self.mongo is not None:
            check_mongo_destructive(
                self.mongo, action="use rollback isolation on", allow_unsafe=self.allow_unsafe
            )
            self._baseline = MongoBaseline.capture(self.mongo)

    def begin(self) -> Handle:
        connection = self.engine.connect()
        outer = connection.begin()
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        return Handle(
            url=self.database_url,
            engine=self.engine,
            bind=connection,
            session=factory(),
            session_factory=factory,
            mongo=self.mongo,
            visible_to_other_processes=False,
            extra={"transaction": outer},
        )

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        connection = handle.bind
        assert isinstance(connection, sa.Connection)
        outer = handle.extra["transaction"]
        try:
            if not connection.closed and outer.is_active:
                outer.rollback()
        finally:
            connection.close()  # a connection that could not roll back ends its transaction here
        self._restore_sequences()
        self._restore_mongo()

    async def begin_async(self, *, driver: str = "psycopg", mongo_url: str | None = None) -> AsyncHandle:
        """The async form of :meth:`begin`: an ``AsyncConnection`` holds the outer transaction.

        SQLAlchemy's recipe for an ``AsyncSession`` joining an external transaction: the
        test's ``AsyncSession`` (and those of ``session_factory``) are bound to that connection
        with ``join_transaction_mode="create_savepoint"``, so their commits release savepoints.
        ``driver`` is ``psycopg`` or ``asyncpg``; ``mongo_url`` is where ``self.mongo`` lives
        (None: mongomock).
        """
        if self._engine is None:
            raise IsolationError("RollbackStrategy.prepare() was not called")
        engine = async_engine(self.database_url, driver)
        try:
            connection = await engine.connect()
            outer = await connection.begin()
            mongo, error = async_mongo(self.mongo, mongo_url)
        except BaseException:
            await engine.dispose()
            raise
        factory = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        return AsyncHandle(
            url=self.database_url,
            engine=engine,
            bind=connection,
            session=factory(),
            session_factory=factory,
            mongo=mongo,
            visible_to_other_processes=False,
            mongo_error=error,
            extra={"transaction": outer},
        )

    async def end_async(self, handle: AsyncHandle) -> None:
        """The async form of :meth:`end`: roll back the outer transaction, restore sequences and Mongo."""
        try:
            await handle.session.close()
            outer = handle.extra["transaction"]
            assert isinstance(handle.bind, AsyncConnection)
            if not handle.bind.closed and outer.is_active:
                await outer.rollback()
            await handle.bind.close()
        finally:
            await close_async(handle)
        self._restore_sequences()
        self._restore_mongo()

    def _restore_sequences(self) -> None:
        """Sequences ignore the rollback: put back the seeded positions of those the test moved."""
        if self._sequences:
            with self.engine.begin() as conn:
                restore_sequence_positions(conn, self._sequences)

    def _restore_mongo(self) -> None:
        if self.mongo is not None and self._baseline is not None:
            self._baseline.restore(self.mongo, allow_unsafe=self.allow_unsafe)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
