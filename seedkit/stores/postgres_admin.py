"""Administering databases on one PostgreSQL server: create, clone, rename, drop, terminate.

Every statement here runs on the server's maintenance database (e.g. ``postgres``) in
autocommit mode, because ``CREATE``/``DROP DATABASE`` cannot run inside a transaction. Every
drop passes the safety guard (:func:`seedkit.stores.safety.check_destructive`) first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from seedkit.errors import IsolationError
from seedkit.stores.postgres import normalize_url, with_database
from seedkit.stores.quoting import quote_ident
from seedkit.stores.safety import check_destructive

MAX_IDENTIFIER = 63
"""PostgreSQL's identifier length limit (NAMEDATALEN - 1), in bytes."""

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def check_database_name(name: str) -> str:
    """Return ``name`` if it is letters, digits and ``_`` and at most 63 long; raise otherwise.

    Raises:
        IsolationError: naming the offending name.
    """
    if not _NAME.match(name) or len(name) > MAX_IDENTIFIER:
        raise IsolationError(
            f"database name {name!r} must be letters, digits and '_', at most {MAX_IDENTIFIER} long"
        )
    return name


def advisory_key(text: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock`` derived from ``text`` (first 8 bytes of sha256)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


class PostgresAdmin:
    """Database-level operations on one open autocommit connection to the maintenance database.

    Args:
        conn: an AUTOCOMMIT connection to the server (any database but the ones it changes).
        server_url: that server's maintenance URL; used to name targets for the safety guard.
    """

    def __init__(self, conn: Connection, server_url: str) -> None:
        self.conn = conn
        self.server_url = normalize_url(server_url)

    @classmethod
    @contextmanager
    def connect(cls, server_url: str) -> Iterator[PostgresAdmin]:
        """Open one autocommit connection to ``server_url`` (no pool) for the duration of the block."""
        engine = sa.create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                yield cls(conn, server_url)
        finally:
            engine.dispose()

    def exists(self, name: str) -> bool:
        """Whether database ``name`` exists on the server."""
        query = sa.text("SELECT 1 FROM pg_database WHERE datname = :n")
        return bool(self.conn.execute(query, {"n": name}).scalar())

    def names(self, prefix: str) -> list[str]:
        """Names of the databases whose name starts with ``prefix``, sorted."""
        query = sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :p) ORDER BY 1")
        return list(self.conn.execute(query, {"p": prefix}).scalars())

    def create(self, name: str, *, template: str | None = None, strategy: str | None = None) -> str:
        """``CREATE DATABASE name [TEMPLATE template] [STRATEGY strategy]``; returns the new database's URL.

        ``strategy`` is PostgreSQL's (15 or later) ``WAL_LOG`` or ``FILE_COPY``; None leaves the
        server's default (``WAL_LOG``).

        Raises:
            IsolationError: a name is not a plain identifier.
            SeedkitError: the server refused (the first line of its message; for a template in use,
                a hint to dispose the engines connected to it).
        """
        check_database_name(name)
        clause = f" TEMPLATE {quote_ident(check_database_name(template))}" if template else ""
        if strategy is not None:
            if strategy.upper() not in {"WAL_LOG", "FILE_COPY"}:
                raise IsolationError(
                    f"CREATE DATABASE strategy must be WAL_LOG or FILE_COPY, got {strategy!r}"
                )
            clause += f" STRATEGY {strategy.upper()}"
        try:
            self.conn.execute(sa.text(f"CREATE DATABASE {quote_ident(name)}{clause}"))
        except sa.exc.DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if template is None:
                raise IsolationError(f"cannot create database {name!r}: {reason}") from None
            hint = " (close every connection to it: dispose its engines)" if sqlstate == "55006" else ""
            raise IsolationError(
                f"cannot clone template {template!r} into {name!r}: {reason}{hint}"
            ) from None
        return with_database(self.server_url, name)

    def terminate(self, name: str) -> None:
        """End every other session connected to database ``name`` (waiting up to 5 s for each)."""
        self.conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )

    def end_open_transactions(self, name: str, *, allow_unsafe: bool = False) -> int:
        """End the other sessions on database ``name`` that keep a transaction open; returns how many.

        Those are the only sessions that can hold the locks a reset waits for (a connection a
        test left idle in transaction); idle sessions (a server under test's connection pool)
        are left alone. Waits up to 5 s for each to end.

        Raises:
            UnsafeTargetError: the safety guard refused the target (before anything runs).
        """
        check_database_name(name)
        check_destructive(
            with_database(self.server_url, name),
            action="end the open transactions of",
            allow_unsafe=allow_unsafe,
        )
        ended = self.conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
                "AND backend_type = 'client backend'"
            ),
            {"n": name},
        ).scalar()
        return int(ended or 0)

    def rename(self, old: str, new: str) -> None:
        """``ALTER DATABASE old RENAME TO new`` (other sessions on ``old`` are ended first)."""
        check_database_name(old)
        check_database_name(new)
        self.terminate(old)
        self.conn.execute(sa.text(f"ALTER DATABASE {quote_ident(old)} RENAME TO {quote_ident(new)}"))

    def mark_template(self, name: str, *, template: bool) -> None:
        """Mark ``name`` as a template that accepts no connections (or undo that)."""
        settings = (
            "IS_TEMPLATE true ALLOW_CONNECTIONS false"
            if template
            else "IS_TEMPLATE false ALLOW_CONNECTIONS true"
        )
        self.conn.execute(sa.text(f"ALTER DATABASE {quote_ident(check_database_name(name))} WITH {settings}"))

    def drop(self, name: str, *, allow_unsafe: bool = False) -> None:
        """Drop database ``name`` if it exists (a template too), disconnecting its users.

        Raises:
            UnsafeTargetError: the safety guard refused the target (before anything runs).
        """
        check_database_name(name)
        check_destructive(
            with_database(self.server_url, name), action="drop database", allow_unsafe=allow_unsafe
        )
        if self.exists(name):
            self.mark_template(name, template=False)
            self.conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)"))

    def try_advisory_lock(self, text: str) -> bool:
        """Take the session-level advisory lock keyed by ``text`` if nobody holds it (shared or not).

        Returns whether it was taken; release it with :meth:`advisory_unlock`.
        """
        query = sa.text("SELECT pg_try_advisory_lock(:k)")
        return bool(self.conn.execute(query, {"k": advisory_key(text)}).scalar())

    def advisory_unlock(self, text: str) -> None:
        """Release a lock :meth:`try_advisory_lock` took."""
        self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(text)})

    def share_advisory_lock(self, text: str) -> None:
        """Hold the advisory lock keyed by ``text`` in shared mode until this session ends.

        Others may share it too; :meth:`try_advisory_lock` (exclusive) fails while anyone does.
        """
        self.conn.execute(sa.text("SELECT pg_advisory_lock_shared(:k)"), {"k": advisory_key(text)})

    def advisory_lock_held(self, text: str) -> bool:
        """Whether another session holds the advisory lock keyed by ``text`` in any database of the server."""
        key = advisory_key(text)
        query = sa.text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
            "AND classid::bigint = :high AND objid::bigint = :low AND pid <> pg_backend_pid())"
        )
        return bool(
            self.conn.execute(query, {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).scalar()
        )

    def connections(self, name: str) -> int:
        """How many sessions are connected to database ``name`` (this one excluded)."""
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        )
        return int(self.conn.execute(query, {"n": name}).scalar() or 0)

    @contextmanager
    def advisory_lock(self, text: str) -> Iterator[None]:
        """Hold a session-level advisory lock keyed by ``text`` for the duration of the block."""
        key = advisory_key(text)
        self.conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def clone(server_url: str, template: str, new_name: str) -> str:
    """``CREATE DATABASE new_name TEMPLATE template`` on ``server_url``; returns the new database's URL.

    PostgreSQL refuses when anything is connected to the template: dispose its engines first
    (templates made by :func:`seedkit.seeding.templates.ensure_template` accept no connections).
    """
    with PostgresAdmin.connect(server_url) as admin:
        return admin.create(new_name, template=template)


def drop(server_url: str, name: str, *, allow_unsafe: bool = False) -> None:
    """Drop database ``name`` (a template too), disconnecting its users; guarded by the safety check."""
    check_database_name(name)
    check_destructive(with_database(server_url, name), action="drop database", allow_unsafe=allow_unsafe)
    with PostgresAdmin.connect(server_url) as admin:
        admin.drop(name, allow_unsafe=allow_unsafe)
