"""Alembic environment of the reference domain.

seedkit runs it with an open connection in ``config.attributes["connection"]``; the plain
``alembic`` command works too, with the URL from ``-x url=...`` or ``SEEDKIT_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from seedkit_reference.models import Base
from sqlalchemy import Connection, create_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("SEEDKIT_DATABASE_URL")
    if not url:
        raise SystemExit("give the database URL with `-x url=...` or SEEDKIT_DATABASE_URL")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported by the reference environment")
run_migrations_online()
