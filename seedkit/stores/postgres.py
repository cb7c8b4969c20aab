"""Connecting to PostgreSQL: the configured URL, or the embedded server, with clear errors."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from seedkit.errors import ConfigError, DatabaseUnavailable
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.urls import redact

EMBEDDED_DATABASE = "seedkit"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgres://`` and ``postgresql://`` URLs.

    A URL that cannot be parsed or does not name PostgreSQL is a :class:`ConfigError` (one
    line, password hidden), so every command that takes a URL fails the same readable way.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
            break
    try:
        backend = make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"invalid database URL {redact(url)}: {exc}") from None
    if backend != "postgresql":
        raise ConfigError(
            f"invalid database URL {redact(url)}: not PostgreSQL (expected postgresql://user@host:port/database)"
        )
    return url


ASYNC_DRIVERS = ("psycopg", "asyncpg")


def async_url(url: str, driver: str = "psycopg") -> str:
    """``url`` for SQLAlchemy's ``create_async_engine``, on ``driver``.

    ``psycopg`` (psycopg 3, whose async mode SQLAlchemy picks for an async engine) or
    ``asyncpg``. Raises :class:`ConfigError` for another driver or a URL that is not PostgreSQL.
    """
    if driver not in ASYNC_DRIVERS:
        raise ConfigError(f"unknown async PostgreSQL driver {driver!r}; known: {', '.join(ASYNC_DRIVERS)}")
    parsed = make_url(normalize_url(url)).set(drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)


def database_name(url: str) -> str:
    """The database name of a URL."""
    return make_url(normalize_url(url)).database or ""


def with_database(url: str, database: str) -> str:
    """The same server, another database."""
    return make_url(normalize_url(url)).set(database=database).render_as_string(hide_password=False)


def create_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url`` whose first connection is checked.

    An unreachable server gives one :class:`DatabaseUnavailable` line naming the URL without
    its password, instead of a driver traceback.
    """
    url = normalize_url(url)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise DatabaseUnavailable(f"invalid database URL {redact(url)}: {exc}") from None
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {redact(url)}: {reason}") from None
    return engine


def ensure_database(server_url: str, database: str) -> str:
    """Create ``database`` on the server of ``server_url`` if it does not exist; return its URL."""
    admin = create_engine(with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    return with_database(server_url, database)


def embedded_url(state_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the persistent embedded server under ``state_dir`` and return a database URL."""
    server = EmbeddedPostgres(state_dir / "postgres").start()
    return ensure_database(server.url(), database)
