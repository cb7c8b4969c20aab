"""The ``snapshot`` strategy: a seeded template database, cloned per test.

``CREATE DATABASE clone TEMPLATE seeded`` copies a database file by file inside the server,
so every test gets the seeded data in a database of its own, visible to any process (a server
under test can connect to the clone's URL). The template itself, its name (the cache key) and
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
from seedkit.seeding.templates import ensure_template, list_templates
from seedkit.stores.mongo_state import MongoBaseline, check_mongo_destructive
from seedkit.stores.postgres import database_name, normalize_url, with_database
from seedkit.stores.postgres_admin import PostgresAdmin, check_database_name
from seedkit.stores.safety import check_destructive
from seedkit.stores.urls import redact


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

    def _admin_engine(self) -> Engine:
        if self._admin is None:  # one maintenance connection for every clone and drop
            self._admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    def begin(self) -> Handle:
        self._count += 1
        name = check_database_name(f"{self.clone_prefix}_{self._count}")
        with self._admin_engine().connect() as conn:
            PostgresAdmin(conn, self.server_url).create(name, template=self.template)
        url = with_database(self.server_url, name)
        handle = committing_handle(url, sa.create_engine(url), self.mongo)
        handle.extra["database"] = name
        return handle

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        handle.engine.dispose()
        with self._admin_engine().connect() as conn:
            PostgresAdmin(conn, self.server_url).drop(
                handle.extra["database"], allow_unsafe=self.allow_unsafe
            )
        if self.mongo is not None and self._baseline is not None:
            self._baseline.restore(self.mongo, allow_unsafe=self.allow_unsafe)

    def close(self) -> None:
        """Release the maintenance connection; every clone was dropped by :meth:`end`, the template stays."""
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
