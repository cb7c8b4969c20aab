"""The ``snapshot`` strategy: a seeded template database, cloned per test.

``CREATE DATABASE clone TEMPLATE seeded`` copies a database file by file inside the server,
so every test gets the seeded data in a database of its own, visible to any process (a server
under test can connect to the clone's URL). By default a :class:`~seedkit.isolation.clone_pool.ClonePool`
makes the clones ahead, in a background thread, and drops the used ones there too, so a test
waits for neither when tests last longer than a clone. The template itself, its name (the cache key) and
its one-time build are :mod:`seedkit.seeding.templates`' business.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Engine

from seedkit.errors import IsolationError
from seedkit.isolation.base import Handle, committing_handle
from seedkit.isolation.clone_pool import ClonePool
from seedkit.seeding.templates import ensure_template, list_templates
from seedkit.stores.mongo_state import MongoBaseline, check_mongo_destructive
from seedkit.stores.postgres import database_name, normalize_url, with_database
from seedkit.stores.postgres_admin import PostgresAdmin, check_database_name
from seedkit.stores.safety import check_destructive
from seedkit.stores.urls import redact

CLONE_STRATEGY = "WAL_LOG"
"""``CREATE DATABASE``'s ``STRATEGY`` for clones; measured on PostgreSQL 18 (docs/isolation-snapshot.md)."""


def _worker_tag() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER") or f"p{os.getpid()}"


class SnapshotStrategy:
    """Each test gets its own clone of the seeded template; it is dropped after the test.

    Args:
        database_url: URL of the template (e.g. from :func:`ensure_template`); the clones live on the
            same server, and the database in this URL's path is only used as the template.
        mongo: the seeded Mongo database, or None (restored from an in-memory copy after each test).
        server_url: maintenance database URL for CREATE/DROP DATABASE (default: ``postgres`` there).
        build: when given, :meth:`prepare` calls ``ensure_template(server_url, template, build)``.
        clone_prefix: clones are ``<clone_prefix>_<n>`` (default: template name and xdist worker/pid).
        allow_unsafe: lift the safety guard for dropping clones and restoring Mongo.
        pool_size: how many clones to keep ready (made and dropped by a background thread, see
            :mod:`seedkit.isolation.clone_pool`); 0 clones and drops in :meth:`begin`/:meth:`end`.
        clone_strategy: ``CREATE DATABASE``'s ``STRATEGY`` for the clones (``WAL_LOG`` or
            ``FILE_COPY``; default ``CLONE_STRATEGY``, chosen by measurement: docs/isolation-snapshot.md).
    """

    name: ClassVar[str] = "snapshot"

    def __init__(
        self,
        database_url: str,
        mongo: Database[Any] | None = None,
        *,
        server_url: str | None = None,
        build: Callable[[str], None] | None = None,
        clone_prefix: str | None = None,
        allow_unsafe: bool = False,
        pool_size: int = 2,
        clone_strategy: str | None = None,
    ) -> None:
        self.template = check_database_name(database_name(database_url))
        self.server_url = normalize_url(server_url or with_database(database_url, "postgres"))
        self.mongo = mongo
        self.build = build
        self.allow_unsafe = allow_unsafe
        self.clone_prefix = check_database_name(clone_prefix or f"{self.template[:40]}_{_worker_tag()}")
        self._count = 0
        self._baseline: MongoBaseline | None = None
        self._admin: Engine | None = None
        if pool_size < 0:
            raise IsolationError(f"pool_size must be 0 or more, got {pool_size}")
        self.pool_size = pool_size
        self.clone_strategy = clone_strategy or CLONE_STRATEGY
        self._pool: ClonePool | None = None

    def prepare(self) -> None:
        if self.build is not None:
            ensure_template(self.server_url, self.template, self.build, allow_unsafe=self.allow_unsafe)
        elif self.template not in list_templates(self.server_url, prefix=self.template):
            raise IsolationError(
                f"template database {self.template!r} does not exist on {redact(self.server_url)}: "
                "build it first (seedkit.seeding.templates.ensure_template)"
            )
        check_destructive(
            with_database(self.server_url, self.clone_prefix),
            action="drop test clones on",
            allow_unsafe=self.allow_unsafe,
        )
        if self.mongo is not None:
            check_mongo_destructive(
                self.mongo, action="use snapshot isolation on", allow_unsafe=self.allow_unsafe
            )
            self._baseline = MongoBaseline.capture(self.mongo)
        if self.pool_size and self._pool is None:
            self._pool = ClonePool(
                self.server_url,
                self.template,
                self.clone_prefix,
                size=self.pool_size,
                clone_strategy=self.clone_strategy,
                allow_unsafe=self.allow_unsafe,
            ).start()

    def _admin_engine(self) -> Engine:
        if self._admin is None:  # one maintenance connection for every clone and drop
            self._admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    def begin(self) -> Handle:
        if self._pool is not None:
            name = self._pool.take()  # a fresh clone, never handed out before
        else:
            self._count += 1
            name = check_database_name(f"{self.clone_prefix}_{self._count}")
            with self._admin_engine().connect() as conn:
                PostgresAdmin(conn, self.server_url).create(
                    name, template=self.template, strategy=self.clone_strategy
                )
        url = with_database(self.server_url, name)
        handle = committing_handle(url, sa.create_engine(url), self.mongo)
        handle.extra["database"] = name
        return handle

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        handle.engine.dispose()
        name = handle.extra["database"]
        if not handle.extra.get("returned"):  # returned by an earlier call that failed afterwards
            if self._pool is not None:
                self._pool.give_back(name)  # dropped by the pool's thread
            else:
                with self._admin_engine().connect() as conn:
                    PostgresAdmin(conn, self.server_url).drop(name, allow_unsafe=self.allow_unsafe)
            handle.extra["returned"] = True
        if self.mongo is not None and self._baseline is not None:
            self._baseline.restore(self.mongo, allow_unsafe=self.allow_unsafe)

    def wait_warm(self, timeout: float = 60.0) -> bool:
        """Wait until the pool holds ``pool_size`` ready clones and dropped every used one.

        Returns False on timeout or when the pool's thread failed (:meth:`begin` then raises its
        error); True at once without a pool. For benchmarks and tests that want a warm pool.
        """
        return self._pool.wait_idle(timeout) if self._pool is not None else True

    def close(self) -> None:
        """Stop the pool and drop every clone not dropped yet (ready, used, or never returned by an
        interrupted test); release the maintenance connection. The template stays."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
