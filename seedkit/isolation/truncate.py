"""The ``truncate`` strategy: tests commit for real; afterwards every table is emptied.

One ``TRUNCATE ... RESTART IDENTITY CASCADE`` over the schema's tables (never
``alembic_version``), and every Mongo collection emptied (indexes kept). With a ``reseed``
callable the seed data is put back after each reset, so every test starts from it.
Committed data is visible to other processes, which makes it the strategy for end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Engine

from seedkit.errors import IsolationError
from seedkit.isolation.base import Handle, Reseed, committing_handle, guard_stores
from seedkit.stores.mongo_state import capture_indexes, clear_collections
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import EXCLUDED_TABLES, SchemaInfo, reflect_schema
from seedkit.stores.truncate import (
    DEFAULT_LOCK_TIMEOUT,
    Schemas,
    check_lock_timeout,
    truncate_tables,
    url_of,
)


def truncate_and_reload(
    engine: Engine,
    mongo: Database[Any] | None = None,
    reseed: Reseed | None = None,
    *,
    tables: Sequence[str] | None = None,
    schema: Schemas = None,
    skip_unused: bool = False,
    allow_unsafe: bool = False,
    keep: Sequence[str] = (),
    mongo_indexes: dict[str, dict[str, dict[str, Any]]] | None = None,
    info: SchemaInfo | None = None,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Empty both stores (but the ``keep`` tables; the migrations' rows are put back), then (when
    given) call ``reseed(engine, mongo)`` to put the seed data back. ``info``: the reflected
    schema, kept by the caller. ``lock_timeout``: how long ``TRUNCATE`` waits for a table lock
    another session holds (then :class:`IsolationError`)."""
    check_destructive(
        url_of(engine), action="truncate the tables of", allow_unsafe=allow_unsafe
    )  # before connecting
    with engine.begin() as conn:
        truncate_tables(
            conn,
            tables,
            schema=schema,
            skip_unused=skip_unused,
            allow_unsafe=allow_unsafe,
            keep=keep,
            info=info,
            lock_timeout=lock_timeout,
        )
    if mongo is not None:
        clear_collections(mongo, allow_unsafe=allow_unsafe, indexes=mongo_indexes)
    if reseed is not None:
        reseed(engine, mongo)


class TruncateStrategy:
    """Real commits; after each test, truncate everything and re-apply ``reseed``.

    Args:
        database_url: the seeded database.
        mongo: the seeded Mongo database, or None.
        reseed: puts the seed data back after each reset (``reseed(engine, mongo)``); without it,
            tests after the first one start from empty stores.
        skip_unused: truncate only tables that hold rows or used their sequences (wide schemas).
        keep: tables (keys) never emptied: state the application keeps through resets.
        allow_unsafe: lift the safety guard (never for a shared database).
        lock_timeout: how long a reset waits for a table lock another session holds (PostgreSQL's
            ``lock_timeout``: ``"30s"``, ``"500ms"``); then it fails with :class:`IsolationError`.
    """

    name: ClassVar[str] = "truncate"

    def __init__(
        self,
        database_url: str,
        mongo: Database[Any] | None = None,
        *,
        reseed: Reseed | None = None,
        skip_unused: bool = False,
        allow_unsafe: bool = False,
        schema: Schemas = None,
        keep: Sequence[str] = (),
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.database_url = database_url
        self.lock_timeout = check_lock_timeout(lock_timeout)
        self.mongo = mongo
        self.reseed = reseed
        self.skip_unused = skip_unused
        self.allow_unsafe = allow_unsafe
        self.schema = schema
        self.keep = tuple(keep)
        self._engine: Engine | None = None
        self._tables: list[str] = []
        self._info: SchemaInfo | None = None
        self._mongo_indexes: dict[str, dict[str, dict[str, Any]]] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise IsolationError("TruncateStrategy.prepare() was not called")
        return self._engine

    def prepare(self) -> None:
        guard_stores(
            self.database_url, self.mongo, action="use truncate isolation on", allow_unsafe=self.allow_unsafe
        )
        self._engine = sa.create_engine(self.database_url)
        self._info = reflect_schema(self._engine, self.schema, EXCLUDED_TABLES)  # once, not per test
        self._tables = list(self._info.tables)
        if self.mongo is not None:  # the seeded indexes: a test's created or dropped ones are undone
            self._mongo_indexes = capture_indexes(self.mongo)

    def begin(self) -> Handle:
        return committing_handle(self.database_url, self.engine, self.mongo)

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        self.reset()

    def reset(self) -> None:
        """Empty both stores and re-apply ``reseed``."""
        truncate_and_reload(
            self.engine,
            self.mongo,
            self.reseed,
            tables=self._tables,
            info=self._info,
            schema=self.schema,
            skip_unused=self.skip_unused,
            allow_unsafe=self.allow_unsafe,
            keep=self.keep,
            mongo_indexes=self._mongo_indexes,
            lock_timeout=self.lock_timeout,
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
